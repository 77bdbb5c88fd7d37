"""Monitoring end to end on small synthetic traffic: verdicts, not enough data, JSON, HTML escaping, the CLI."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.monitoring.html import render_html
from harness.monitoring.logs import LogRecord, Reference
from harness.monitoring.monitor import DRIFT, NO_DRIFT, NOT_ENOUGH, MonitorSettings, monitor
from harness.monitoring.report import report_json, terminal_lines
from harness.monitoring.windows import parse_window

T0 = datetime(2024, 3, 1, tzinfo=UTC)
WORDS = "the party shall pay notice terminate agreement days within fee invoice written confidential".split()
NEW_WORDS = "personal data breach processor controller subject gdpr transfer erasure".split()
LABELS = ["payment", "termination", "confidentiality"]
ATTACK = "<script>alert('x')</script>"


def sentence(rng: random.Random, vocabulary: list[str]) -> str:
    return " ".join(rng.choice(vocabulary) for _ in range(8))


def reference(n: int = 120) -> Reference:
    rng = random.Random(0)
    texts = tuple(sentence(rng, WORDS) for _ in range(n))
    labels = tuple(LABELS[k % 3] for k in range(n))
    return Reference(texts, labels, labels, tuple(f"ref.jsonl:{k + 1}" for k in range(n)))


def traffic(days: list[tuple[int, float]], seed: int = 1) -> list[LogRecord]:
    """(requests, share of inputs in a new vocabulary, with markup, answered 'confidentiality') per day."""
    rng = random.Random(seed)
    out = []
    for day, (count, share) in enumerate(days):
        for k in range(count):
            new = k < round(count * share)
            text = f"{sentence(rng, NEW_WORDS)} {ATTACK}" if new else sentence(rng, WORDS)
            moment = T0 + timedelta(days=day, minutes=5 * k)
            label = "confidentiality" if new else LABELS[k % 3]
            out.append(LogRecord(f"r{day}-{k}", moment, text, label, "logs.jsonl", len(out) + 1))
    return out


SETTINGS = MonitorSettings(window=parse_window("1d"), min_samples=40)


@pytest.fixture(scope="module")
def report():
    return monitor(traffic([(60, 0.0), (60, 0.5), (20, 0.0)]), reference(), SETTINGS, log_files=["logs.jsonl"])


def test_the_drifted_window_is_flagged_and_the_stable_one_is_not(report):
    stable, drifted, short = report.windows
    assert stable.verdict == NO_DRIFT
    assert not any(t.flagged for t in stable.tests)
    assert drifted.verdict == DRIFT
    assert {t.name for t in drifted.tests if t.flagged} >= {"embedding_mmd", "label_shift"}
    assert set(w for w, _ in drifted.window_words[:4]) & set(NEW_WORDS)
    assert drifted.examples and all(ATTACK in r.input for r in drifted.examples)
    for test in drifted.tests:
        assert test.p_value <= test.p_adjusted <= 1  # Holm never makes a p-value smaller


def test_a_small_window_is_not_enough_data_not_a_verdict(report):
    short = report.windows[2]
    assert short.verdict == NOT_ENOUGH
    assert short.tests == ()
    assert "20 requests < --min-samples 40" in short.note
    assert "not enough data (< 40 requests) in 1 window(s): 2024-03-03" in terminal_lines(report)[-1]


def test_json_report_has_effects_beside_p_values(report):
    data = json.loads(json.dumps(report_json(report)))
    assert data["verdict"] == DRIFT and data["drifted_windows"] == ["2024-03-02"]
    test = data["windows"][1]["tests"][0]
    assert {"effect", "effect_name", "p_value", "p_adjusted", "flagged"} <= set(test)
    assert data["settings"]["correction"] == "holm"


def test_html_escapes_logged_text(report):
    page = render_html(report)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_html_embeds_the_drift_plot(report):
    pytest.importorskip("matplotlib")
    assert 'src="data:image/png;base64,' in render_html(report)


def test_a_tiny_reference_is_a_user_error():
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="the reference has 10 texts"):
        monitor(traffic([(60, 0.0)]), reference(10), SETTINGS)


def write_logs(path: Path, records: list[LogRecord]) -> Path:
    rows = [{"id": r.id, "timestamp": r.timestamp.isoformat(), "input": r.input, "output": r.output} for r in records]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_cli_exit_status_says_drift_and_writes_reports(tmp_path, capsys):
    ref = reference()
    ref_path = tmp_path / "ref.jsonl"
    ref_path.write_text(
        "".join(json.dumps({"input": t, "output": o}) + "\n" for t, o in zip(ref.texts, ref.outputs, strict=True))
    )
    stable = write_logs(tmp_path / "stable.jsonl", traffic([(60, 0.0)]))
    drifted = write_logs(tmp_path / "drifted.jsonl", traffic([(60, 0.6)]))
    common = ["--reference", str(ref_path), "--window", "60", "--min-samples", "40"]
    assert main(["monitor", str(stable), *common]) == 0
    out = tmp_path / "report"
    assert main(["monitor", str(drifted), *common, "--json", f"{out}.json", "--html", f"{out}.html"]) == 1
    printed = capsys.readouterr().out
    assert "DRIFT in 1 of 1 window(s)" in printed and "words marking the window" in printed
    assert json.loads(Path(f"{out}.json").read_text())["verdict"] == DRIFT
    assert "&lt;script&gt;" in Path(f"{out}.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--window", "3x"], "neither a count nor a time span"),
        (["--alpha", "2"], "--alpha 2.0 is not between 0 and 1"),
        (["--ids", "a"], "--ids does not apply"),
        (["--horizon", "0"], "--horizon 0 must be at least 1 window"),
        (["--permutations", "999"], "--permutations 999 is too few: the smallest p-value, 1/(n+1), could never reach"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(tmp_path, capsys, extra, message):
    logs = write_logs(tmp_path / "logs.jsonl", traffic([(5, 0.0)]))
    assert main(["monitor", str(logs), "--reference", str(logs), *extra]) == 2
    assert message in capsys.readouterr().err


def test_cli_needs_a_reference(tmp_path, capsys):
    logs = write_logs(tmp_path / "logs.jsonl", traffic([(5, 0.0)]))
    assert main(["monitor", str(logs)]) == 2
    assert "--reference is required" in capsys.readouterr().err


def test_cli_adds_the_perplexity_test_when_a_model_is_given(tmp_path, tiny_dirs):
    ref = reference(60)
    ref_path = tmp_path / "ref.jsonl"
    ref_path.write_text("".join(json.dumps({"input": t}) + "\n" for t in ref.texts))
    logs = write_logs(tmp_path / "logs.jsonl", traffic([(50, 0.0)]))
    out = tmp_path / "report.json"
    common = ["--reference", str(ref_path), "--min-samples", "40"]
    main(["monitor", str(logs), *common, "--model", str(tiny_dirs["base"]), "--device", "cpu", "--json", str(out)])
    tests = {t["name"]: t for t in json.loads(out.read_text())["windows"][0]["tests"]}
    assert set(tests) == {"domain_classifier", "embedding_mmd", "input_perplexity"}  # no outputs or labels in REF
    assert tests["input_perplexity"]["effect_name"] == "AUC" and 0 < tests["input_perplexity"]["p_value"] <= 1


def test_json_keeps_tiny_p_values_and_states_the_alarm_rule(report):
    data = json.loads(json.dumps(report_json(report)))
    drifted = report.windows[1]
    classifier = drifted.test("domain_classifier")
    assert 0 < classifier.p_value < 1e-4  # the rank-sum test reaches below the permutation tests' floor 1/5000
    assert data["windows"][1]["tests"][0]["p_value"] == classifier.p_value  # not rounded to 0
    assert data["window_level"] == pytest.approx(0.05 / 30)
    assert data["expected_false_alarms"] == pytest.approx(2 * 0.05 / 30)  # two judged windows
    assert "at most 0.05 false alarms are expected per 30 windows" in data["alarm_rule"]
    assert 0 < data["windows"][0]["detectable_share"] < 1
    assert [w["id"] for w in data["windows"]] == ["2024-03-01", "2024-03-02", "2024-03-03"]


def test_terminal_states_the_rule_and_what_each_window_can_see(report):
    lines = terminal_lines(report)
    assert any(line.startswith("alarm rule: a window alarms when") for line in lines)
    header = next(line for line in lines if line.startswith("window"))
    assert "sees" in header
    stable_row = next(line for line in lines if line.startswith("2024-03-01"))
    assert f"{report.windows[0].detectable_share:.0%}" in stable_row
    assert "expected false alarms over these windows without drift: at most 0.00333" in lines


def test_count_windows_in_one_minute_are_told_apart_in_the_report():
    rows = [LogRecord(f"r{k}", T0, sentence(random.Random(k), WORDS), LABELS[k % 3], "logs.jsonl", k + 1)
            for k in range(120)]  # fmt: skip
    settings = MonitorSettings(window=parse_window(60), min_samples=40)
    data = report_json(monitor(rows, reference(), settings))
    assert [w["id"] for w in data["windows"]] == ["2024-03-01 00:00 #1", "2024-03-01 00:00 #2"]


def test_plot_legend_names_only_what_is_drawn(report, monkeypatch):
    pytest.importorskip("matplotlib")
    from harness.monitoring import html

    figures = []
    monkeypatch.setattr(html, "_png", lambda figure: figures.append(figure) or "")
    no_labels = Reference(report_reference_texts(), (), (), ("ref.jsonl:1",))
    html.plot_drift(monitor(traffic([(60, 0.0)]), no_labels, SETTINGS))
    legends = [[t.get_text() for t in ax.get_legend().get_texts()] for ax in figures[0].axes]
    named = {name for legend in legends for name in legend}
    assert "classifier AUC" in named and "MMD: new share (lower bound)" in named
    assert not named & {"perplexity AUC", "labels", "output length"}  # no model, no outputs, no labels: not drawn
    drawn = {line.get_label() for ax in figures[0].axes for line in ax.get_lines()}
    assert named - {"moderate (0.1-0.25)", "major (>= 0.25)"} <= drawn


def report_reference_texts() -> tuple[str, ...]:
    return reference().texts


def test_a_stray_timestamp_years_away_is_named_and_costs_one_window(tmp_path, capsys):
    rows = traffic([(60, 0.0), (60, 0.0)])
    stray = LogRecord("stray", T0.replace(year=2014), rows[0].input, rows[0].output, "logs.jsonl", 999)
    ref = reference()
    ref_path = tmp_path / "ref.jsonl"
    pairs = zip(ref.texts, ref.outputs, strict=True)
    ref_path.write_text("".join(json.dumps({"input": t, "output": o}) + "\n" for t, o in pairs))
    logs = write_logs(tmp_path / "logs.jsonl", [*rows, stray])
    assert main(["monitor", str(logs), "--reference", str(ref_path), "--window", "1m", "--min-samples", "40"]) == 0
    printed = capsys.readouterr().out
    assert "121 requests in 121 window(s)" in printed  # one per busy minute and one for the stray line
    assert "1 record(s) lie far outside the bulk of the log's timestamps: " in printed
    assert f"{logs}:121 (2014-03-01 00:00)" in printed
