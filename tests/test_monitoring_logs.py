"""Reading production logs and references, and cutting them into windows by count and by time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import HarnessError
from harness.monitoring.logs import LogRecord, read_logs, read_reference
from harness.monitoring.windows import parse_window, select_period, split_windows

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def line(k: int, **extra) -> dict:
    return {"timestamp": (T0 + timedelta(hours=k)).isoformat(), "input": f"in {k}", "output": f"out {k}", **extra}


def test_reads_records_with_feedback_sorted_by_time(tmp_path):
    path = write_jsonl(
        tmp_path / "logs.jsonl",
        [
            line(5, id="b", feedback={"thumbs": "down", "correction": "payment", "flag": True}),
            "",
            {"timestamp": "2024-03-01T01:00:00", "input": "x", "output": "y", "label": "termination"},
        ],
    )
    first, second = read_logs([path])
    assert first.timestamp == T0 + timedelta(hours=1)  # no zone: taken as UTC
    assert (first.label, first.where, first.id) == ("termination", f"{path}:3", "logs-3")
    assert second.feedback.correction == "payment" and second.feedback.flag == "flagged"
    assert second.feedback.negative


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("{not json", "line 2: not valid JSON"),
        ('["a list"]', "line 2: each line must be a JSON object"),
        ({"input": "a", "output": "b"}, "line 2: missing field 'timestamp'"),
        ({"timestamp": "yesterday", "input": "a", "output": "b"}, "line 2: field 'timestamp' is not ISO-8601"),
        ({"timestamp": "2024-03-01T00:00:00Z", "output": "b"}, "line 2: missing field 'input'"),
        ({"timestamp": "2024-03-01T00:00:00Z", "input": 3, "output": "b"}, "field 'input' should be a text"),
        (line(1, feedback={"thumbs": "sideways"}), "field 'feedback.thumbs' should be up or down"),
        (line(1, feedback={"rating": 5}), "unknown field 'feedback.rating'"),
    ],
)
def test_a_malformed_line_names_file_and_line(tmp_path, bad, message):
    path = write_jsonl(tmp_path / "logs.jsonl", [line(0), bad])
    with pytest.raises(HarnessError, match="logs.jsonl:2") as error:
        read_logs([path])
    assert message.split("line 2: ")[-1] in str(error.value)


def test_reference_takes_prompts_outputs_and_labels(tmp_path):
    path = write_jsonl(
        tmp_path / "ref.jsonl",
        [
            {"id": "1", "prompt": "Clause: a\nType:", "choices": ["x", "y"], "answer": "x"},
            {"id": "2", "prompt": "Clause: b\nSummary:", "reference": "It says b."},
            {"input": "c", "output": "y"},
        ],
    )
    reference = read_reference([path])
    assert reference.texts == ("Clause: a\nType:", "Clause: b\nSummary:", "c")
    assert reference.outputs == ("x", "It says b.", "y")
    assert reference.labels == ("x",)
    with pytest.raises(HarnessError, match="ref.jsonl:1: no text field"):
        read_reference([write_jsonl(tmp_path / "ref.jsonl", [{"answer": "x"}])])


def records(hours: list[float]) -> list[LogRecord]:
    return [LogRecord(str(k), T0 + timedelta(hours=h), "i", "o", "f", k + 1) for k, h in enumerate(hours)]


@given(st.lists(st.floats(0, 500), max_size=60), st.integers(1, 25))
def test_count_windows_keep_every_record_once_in_time_order(hours, size):
    windows = split_windows(records(hours), parse_window(size))
    flat = [r for w in windows for r in w.records]
    assert sorted(r.id for r in flat) == sorted(str(k) for k in range(len(hours)))
    assert [r.timestamp for r in flat] == sorted(r.timestamp for r in flat)
    assert all(len(w) == size for w in windows[:-1]) and all(0 < len(w) <= size for w in windows)


@given(st.lists(st.floats(0, 24 * 9), min_size=1, max_size=60), st.sampled_from(["1d", "12h", "90m", "1w"]))
def test_time_windows_are_aligned_and_hold_their_records(hours, text):
    spec = parse_window(text)
    windows = split_windows(records(hours), spec)
    assert sum(len(w) for w in windows) == len(hours)
    for w in windows:
        assert w.end - w.start == spec.span
        assert all(w.start <= r.timestamp < w.end for r in w.records)
    assert all(a.end <= b.start for a, b in zip(windows, windows[1:], strict=False))
    assert all(len(w) > 0 for w in windows)  # a span without records is no window
    assert [w.index for w in windows] == list(range(len(windows)))
    assert len({w.id for w in windows}) == len(windows)


def test_a_day_without_traffic_is_no_window_but_is_counted():
    from harness.monitoring.windows import empty_spans

    windows = split_windows(records([1, 2, 50]), parse_window("1d"))
    assert [len(w) for w in windows] == [2, 1]
    assert [w.label for w in windows] == ["2024-03-01", "2024-03-03"]
    assert empty_spans(windows) == 1


def test_count_windows_starting_in_the_same_minute_have_distinct_ids():
    windows = split_windows(records([0.0] * 7), parse_window(2))
    assert len({w.label for w in windows}) == 1
    assert [w.id for w in windows] == [f"2024-03-01 00:00 #{k}" for k in range(1, 5)]


def test_one_timestamp_ten_years_off_makes_one_small_window_and_is_named():
    from harness.monitoring.windows import outlying_records

    hours = [k / 10 for k in range(300)] + [24 * 365 * 10]
    logs = records(hours)
    windows = split_windows(logs, parse_window("1m"))
    assert len(windows) == 301  # not the 5 million empty minutes in between
    assert [r.line for r in outlying_records(logs)] == [301]


@pytest.mark.parametrize("text", ["0", "1x", "d", "-3", "1.5d"])
def test_a_bad_window_is_a_user_error(text):
    with pytest.raises(HarnessError, match="neither a count nor a time span"):
        parse_window(text)


def test_select_period_is_half_open():
    chosen = select_period(records([0, 1, 2, 3]), T0 + timedelta(hours=1), T0 + timedelta(hours=3))
    assert [r.id for r in chosen] == ["1", "2"]


@pytest.mark.parametrize(
    ("answer", "is_label"),
    [("payment", True), ("governing law", True), (" limitation of liability\n", True), ("data_protection", True),
     ("The Buyer pays.", False), ("one two three four", False), ("", False), ("x" * 41, False)],
)  # fmt: skip
def test_label_like_answers(answer, is_label):
    from harness.monitoring.logs import is_label_like

    assert is_label_like(answer) is is_label


def test_timestamps_outside_2000_to_tomorrow_are_refused(tmp_path):
    from harness.monitoring.logs import EARLIEST_LOG_TIME

    ok = write_jsonl(tmp_path / "ok.jsonl", [{"timestamp": "2000-01-01T00:00:00Z", "input": "a", "output": "b"}])
    assert read_logs([ok])[0].timestamp == EARLIEST_LOG_TIME
    for when in ("1999-12-31T23:59:59Z", (datetime.now(UTC) + timedelta(days=2)).isoformat()):
        path = write_jsonl(tmp_path / "logs.jsonl", [line(0), {"timestamp": when, "input": "a", "output": "b"}])
        with pytest.raises(HarnessError, match="logs.jsonl:2: field 'timestamp' .* outside the accepted range"):
            read_logs([path])


def test_at_most_ten_thousand_windows(tmp_path):
    from harness.monitoring.windows import MAX_WINDOWS

    minutes = [k / 60 for k in range(MAX_WINDOWS)]  # 10,000 one-minute windows with records: allowed
    assert len(split_windows(records(minutes), parse_window("1m"))) == MAX_WINDOWS
    last = MAX_WINDOWS + 1
    too_many = rf"(?s)--window 1m cuts the logs into 10,001 windows.*f:1\) to .* \(f:{last}\)"
    with pytest.raises(HarnessError, match=too_many):
        split_windows(records([*minutes, 10**5 / 60]), parse_window("1m"))
    stray = rf"1 record\(s\) lie far outside the bulk of the log's timestamps: f:{last} "
    with pytest.raises(HarnessError, match=stray):
        split_windows(records([*minutes, 10**5 / 60]), parse_window("1m"))
    with pytest.raises(HarnessError, match="--window 2 cuts the logs into 10,001 windows"):
        split_windows(records([0] * (2 * MAX_WINDOWS + 1)), parse_window("2"))


def test_a_reference_without_words_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "ref.jsonl", [{"input": ""}, {"input": "?!"}])
    with pytest.raises(HarnessError, match="hold no words"):
        read_reference([path])
