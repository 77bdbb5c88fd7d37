"""The baseline store: stable bytes, atomic writes, clear errors on a damaged file."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.baselines import BaselineEntry, BaselineStore, dumps
from harness.errors import HarnessError
from harness.metrics.result import MetricResult


def entry(value: float, per_item: dict[str, float] | None = None) -> BaselineEntry:
    per_item = per_item or {"a": 1.0, "b": 0.0}
    result = MetricResult("acc", value, (value - 0.1, value + 0.1), len(per_item), per_item)
    return BaselineEntry(
        result, "t", "demo:base", "m" * 8, "b" * 8, "d" * 8, "fixtures/data/x.jsonl", "", "0.1.0", "2026-01-01"
    )


def test_round_trip_keeps_both_references_apart(tmp_path):
    store = BaselineStore(tmp_path)
    store.write("suites/test_x.py", "base", {"acc": entry(0.5)})
    store.write("suites/test_x.py", "promoted", {"acc": entry(0.75)})
    loaded = store.load("suites/test_x.py")
    assert loaded["base"]["acc"].result.value == 0.5
    assert loaded["promoted"]["acc"].result.value == 0.75
    assert (tmp_path / "suites" / "test_x.json").is_file()


def test_writing_one_metric_keeps_the_others(tmp_path):
    store = BaselineStore(tmp_path)
    store.write("s.py", "base", {"acc": entry(0.5), "f1": entry(0.4)})
    store.write("s.py", "base", {"acc": entry(0.6)})
    loaded = store.load("s.py")["base"]
    assert loaded["acc"].result.value == 0.6 and loaded["f1"].result.value == 0.4


@given(st.dictionaries(st.text(min_size=1, max_size=5), st.floats(-1e6, 1e6, allow_nan=False), max_size=8))
def test_dumps_is_independent_of_insertion_order(mapping):
    reordered = dict(reversed(list(mapping.items())))
    assert dumps({"x": mapping}) == dumps({"x": reordered})


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.text(max_size=5)
    | st.floats(-1e6, 1e6, allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=5), _json, max_size=4))
def test_dumps_is_json_that_reads_back_as_the_rounded_document(document):
    text = dumps(document)
    assert json.loads(text) == json.loads(
        json.dumps(document, sort_keys=True), parse_float=lambda f: round(float(f), 6) + 0.0
    )
    assert text.endswith("}\n") and "\t" not in text


def test_a_confusion_matrix_reads_as_rows():
    text = dumps({"m": [[3, 0], [1, 2]]})
    assert "[3, 0]" in text and "[1, 2]" in text


def test_floats_are_rounded_for_readable_diffs():
    assert json.loads(dumps({"v": 0.1 + 0.2})) == {"v": 0.3}
    assert dumps({"v": -0.0000001}) == dumps({"v": 0.0})


def test_damaged_file_names_the_fix(tmp_path):
    (tmp_path / "s.json").write_text("{not json")
    with pytest.raises(HarnessError, match=r"(?s)s.json cannot be used.*pytest s.py --update-baselines.*git checkout"):
        BaselineStore(tmp_path).load("s.py")


def test_a_failed_write_leaves_the_previous_file(tmp_path, monkeypatch):
    store = BaselineStore(tmp_path)
    path = store.write("s.py", "base", {"acc": entry(0.5)})
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", broken_replace)
    with pytest.raises(OSError):
        store.write("s.py", "base", {"acc": entry(0.9)})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]
