"""Eval-set loading: every malformed row is named by file, line and field."""

from __future__ import annotations

import json

import pytest

from harness.data import GENERATION, MULTIPLE_CHOICE, TEXT, find_eval_file, load_eval_set
from harness.errors import HarnessError

GOOD = [
    {"id": "q1", "prompt": "The capital of France is", "choices": ["Paris", "Rome"], "answer": "Paris"},
    {"id": "q2", "prompt": "2 + 2 =", "choices": ["4", "5"], "answer": "4", "category": "arithmetic"},
]


def write_jsonl(path, rows, blank_lines=False):
    lines = [json.dumps(r) if isinstance(r, dict) else r for r in rows]
    sep = "\n\n" if blank_lines else "\n"
    path.write_text(sep.join(lines) + "\n")
    return path


def test_jsonl_loads_in_file_order_with_columns(tmp_path):
    data = load_eval_set(write_jsonl(tmp_path / "mc.jsonl", GOOD), MULTIPLE_CHOICE)
    assert data.ids == ["q1", "q2"]
    assert data["answer"] == ["Paris", "4"]
    assert len(data.where(category="arithmetic")) == 1
    assert len(data.fingerprint) == 64


def test_csv_and_parquet_load_the_same_rows(tmp_path):
    import datasets

    rows = [
        {"id": "s1", "prompt": "Clause: x\nSummary:", "reference": "ends it"},
        {"id": "s2", "prompt": "p", "reference": "r"},
    ]
    datasets.Dataset.from_list(rows).to_csv(str(tmp_path / "g.csv"), index=False)
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "g.parquet"))
    assert load_eval_set(tmp_path / "g.csv", GENERATION).rows == load_eval_set(tmp_path / "g.parquet", GENERATION).rows
    assert load_eval_set(tmp_path / "g.csv", GENERATION)["prompt"][0] == "Clause: x\nSummary:"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (GOOD + [{"id": "q3", "prompt": "p", "choices": ["a"]}], r"line 3: missing field 'answer'"),
        (
            GOOD + [{"id": "q3", "prompt": "p", "choices": ["a"], "answer": "b"}],
            r"line 3: field 'answer' \('b'\) is not one of",
        ),
        (
            GOOD + [{"id": "q1", "prompt": "p", "choices": ["a"], "answer": "a"}],
            r"line 3: field 'id': 'q1' is already used at line 1",
        ),
        (
            GOOD + [{"id": "q3", "prompt": 7, "choices": ["a"], "answer": "a"}],
            r"line 3: field 'prompt' should be str, got int",
        ),
        (
            GOOD + [{"id": "q3", "prompt": "p", "choices": "a", "answer": "a"}],
            r"line 3: field 'choices' should be list",
        ),
        (GOOD + ['{"id": "q3", "prompt": '], r"line 3: not valid JSON"),
        (GOOD + ['["not", "an", "object"]'], r"line 3: each line must be a JSON object, got array"),
        (GOOD + ['{"id": "q3", "prompt": NaN}'], r"line 3: NaN is not a JSON number"),
    ],
)
def test_malformed_rows_name_the_file_line_and_field(tmp_path, rows, expected):
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(HarnessError, match=expected) as info:
        load_eval_set(path, MULTIPLE_CHOICE)
    assert "bad.jsonl" in str(info.value)


def test_line_numbers_count_blank_lines(tmp_path):
    path = write_jsonl(tmp_path / "gaps.jsonl", [GOOD[0], {"id": "t"}], blank_lines=True)
    with pytest.raises(HarnessError, match=r"line 3: missing field 'prompt'"):
        load_eval_set(path, MULTIPLE_CHOICE)


def test_csv_errors_name_the_csv_line(tmp_path):
    (tmp_path / "t.csv").write_text('id,text\na,"hello\nworld"\nb,\n')  # row b starts on line 4
    with pytest.raises(HarnessError, match=r"t.csv, line 4: field 'text' is empty"):
        load_eval_set(tmp_path / "t.csv", TEXT)


def test_csv_na_and_empty_cells_stay_text(tmp_path):
    (tmp_path / "t.csv").write_text("id,text,category\na,NA,\nb,null,None\n")
    data = load_eval_set(tmp_path / "t.csv", TEXT)
    assert data["text"] == ["NA", "null"] and data["category"] == ["", "None"]


def test_a_value_datasets_would_convert_is_an_error_not_a_silent_change(tmp_path):
    rows = [dict(GOOD[0], id="a", rank=1), dict(GOOD[0], id="b", rank=2.5), dict(GOOD[0], id="c", rank=2**60 + 1)]
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    with pytest.raises(HarnessError, match=r"line 3: field 'rank' holds 1152921504606846977 in the file"):
        load_eval_set(path, MULTIPLE_CHOICE)


def test_missing_unknown_and_empty_files_are_clear(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        load_eval_set(tmp_path / "nope.jsonl", TEXT)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(HarnessError, match="unknown format '.txt'"):
        load_eval_set(tmp_path / "x.txt", TEXT)
    with pytest.raises(HarnessError, match="no eval set named 'held'"):
        find_eval_file(tmp_path, "held")
    (tmp_path / "e.jsonl").write_text("\n\n")
    with pytest.raises(HarnessError, match="e.jsonl is empty"):
        load_eval_set(tmp_path / "e.jsonl", TEXT)


def test_a_non_utf8_byte_is_named_by_line_and_offset(tmp_path):
    (tmp_path / "l.jsonl").write_bytes(b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(HarnessError, match=r"l.jsonl:2: not UTF-8 text \(byte 0xe9 at byte offset 50\)"):
        load_eval_set(tmp_path / "l.jsonl", TEXT)


def test_a_stored_baseline_is_fresh_exactly_while_the_eval_file_is_unchanged(tmp_path):
    """--reuse-base compares the fingerprint a run records with the one baselines recompute: they must agree."""
    from harness.baselines import BaselineEntry, is_fresh
    from harness.metrics.result import MetricResult

    path = write_jsonl(tmp_path / "mc.jsonl", GOOD)
    data = load_eval_set(path, MULTIPLE_CHOICE)
    result = MetricResult("accuracy", 1.0, (1.0, 1.0), 2, {"q1": 1.0, "q2": 1.0})
    entry = BaselineEntry(
        result=result,
        test="t",
        model="base",
        model_fingerprint="m",
        base_fingerprint="m",
        data_fingerprint=data.fingerprint,
        data_path="mc.jsonl",
        decoding="",
        harness_version="",
        date="",
    )
    assert is_fresh(entry, "m", tmp_path)
    assert not is_fresh(entry, "another base", tmp_path)
    path.write_text(path.read_text() + "\n")  # one blank line: same rows, different bytes
    assert not is_fresh(entry, "m", tmp_path)
    assert load_eval_set(path, MULTIPLE_CHOICE).fingerprint != entry.data_fingerprint
