"""Hostile eval sets: a generated corpus of malformed JSONL, JSON, CSV and Parquet files.

Every file must fail as a HarnessError that names the file, the real line (or Parquet row), the field where
there is one, and the fix; never another exception type, a wrong line, or a silently loaded row.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.data import GENERATION, MAX_EVAL_BYTES, MULTIPLE_CHOICE, TEXT, Schema, load_eval_set
from harness.errors import HarnessError

TIME_BOUND_S = 5.0  # a bound on hostile input, not a benchmark


@dataclass(frozen=True)
class Case:
    """One malformed file: how to write it, its schema, and what the error must name."""

    name: str
    suffix: str
    write: Callable[[Path], None]
    schema: Schema
    where: str | None  # regex for the location ("line 180", "row 3 (index 2)"); None for a whole-file problem
    field: str | None  # the field the message must name
    says: str  # a phrase of the problem

    @property
    def filename(self) -> str:
        return f"{self.name}{self.suffix}"


def mc_row(i: int, **changes: object) -> dict[str, object]:
    """A good multiple-choice row, with some fields changed (a value of ... removes the field)."""
    row = {"id": f"q{i}", "prompt": f"Question {i}?", "choices": ["yes", "no"], "answer": "yes"}
    row.update(changes)
    return {k: v for k, v in row.items() if v is not ...}


def jsonl(n: int, bad_line: int, bad: str, *, sep: str = "\n", head: bytes = b"") -> Callable[[Path], None]:
    """A JSONL writer: n good rows, the one on line `bad_line` replaced by the raw text `bad`."""

    def write(path: Path) -> None:
        lines = [json.dumps(mc_row(i)) for i in range(1, n + 1)]
        lines[bad_line - 1] = bad
        path.write_bytes(head + (sep.join(lines) + sep).encode("utf-8", "surrogateescape"))  # \udce9 -> 0xe9

    return write


def bad_mc(i: int, **changes: object) -> str:
    return json.dumps(mc_row(i, **changes))


def raw(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def csv_text(header: str, rows: list[str], *, head: bytes = b"") -> Callable[[Path], None]:
    """A CSV writer: a header line and rows (each a ready line of text)."""
    return lambda path: path.write_bytes(head + ("\n".join([header, *rows]) + "\n").encode())


def text_rows(n: int, bad_line: int, bad: str) -> list[str]:
    """n good `id,text` rows, the one on file line `bad_line` (the header is line 1) replaced by `bad`."""
    rows = [f"t{i},some text {i}" for i in range(1, n + 1)]
    rows[bad_line - 2] = bad
    return rows


def sparse(size: int) -> Callable[[Path], None]:
    """A file of `size` bytes that takes no disk space."""

    def write(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(size)

    return write


def parquet(columns: dict[str, list[object]], types: dict[str, str] | None = None) -> Callable[[Path], None]:
    """A Parquet writer: columns of values, with an explicit arrow type where given ('string', 'int64', ...)."""

    def write(path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        kinds = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
        kinds |= {"list<string>": pa.list_(pa.string()), "list<int64>": pa.list_(pa.int64())}
        arrays = {
            name: pa.array(values, type=kinds[(types or {})[name]] if name in (types or {}) else None)
            for name, values in columns.items()
        }
        pq.write_table(pa.table(arrays), path)

    return write


def mc_columns(n: int, **changes: dict[int, object]) -> dict[str, list[object]]:
    """n good multiple-choice rows as columns; changes[field][row number] replaces one value."""
    rows = [mc_row(i) for i in range(1, n + 1)]
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    for name, at in changes.items():
        for number, value in at.items():
            columns[name][number - 1] = value
    return columns


def broken_parquet(path: Path) -> None:
    """A real Parquet file cut in half."""
    parquet(mc_columns(50))(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def jsonl_cases() -> list[Case]:
    mc = MULTIPLE_CHOICE
    deep = "[" * 100_000
    return [
        Case("truncated", ".jsonl", jsonl(20, 12, '{"id": "q12", "prompt": '), mc, "line 12", None, "not valid JSON"),
        Case("array-line", ".jsonl", jsonl(9, 5, '["a", "b"]'), mc, "line 5", None, "must be a JSON object"),
        Case("string-line", ".jsonl", jsonl(9, 3, '"just text"'), mc, "line 3", None, "must be a JSON object"),
        Case("null-line", ".jsonl", jsonl(9, 8, "null"), mc, "line 8", None, "must be a JSON object"),
        Case("nan", ".jsonl", jsonl(40, 9, bad_mc(9)[:-1] + ', "score": NaN}'), mc, "line 9", None, "NaN"),
        Case("infinity", ".jsonl", jsonl(40, 30, bad_mc(30)[:-1] + ', "w": Infinity}'), mc, "line 30", None, "Inf"),
        Case("minus-inf", ".jsonl", jsonl(40, 2, bad_mc(2)[:-1] + ', "w": -Infinity}'), mc, "line 2", None, "Inf"),
        Case(
            "float-overflow", ".jsonl", jsonl(40, 17, bad_mc(17)[:-1] + ', "w": 1e999}'), mc, "line 17", None, "range"
        ),
        Case(
            "huge-int", ".jsonl", jsonl(40, 6, bad_mc(6)[:-1] + f', "w": {"9" * 5000}}}'), mc, "line 6", None, "digits"
        ),
        Case("deep-nesting", ".jsonl", jsonl(10, 4, deep), mc, "line 4", None, "nested too deeply"),
        Case(
            "deep-extra-field",  # parses, but would exhaust the recursion of any code that walks it
            ".jsonl",
            jsonl(10, 5, bad_mc(5)[:-1] + ', "meta": ' + "[" * 500 + "]" * 500 + "}"),
            mc,
            "line 5",
            "'meta'",
            "levels deep",
        ),
        Case("repeated-key", ".jsonl", jsonl(10, 4, '{"id": "q4", "id": "q5"}'), mc, "line 4", "'id'", "appears twice"),
        Case("prompt-number", ".jsonl", jsonl(200, 180, bad_mc(180, prompt=7)), mc, "line 180", "'prompt'", "int"),
        Case("id-number", ".jsonl", jsonl(50, 44, bad_mc(44, id=44)), mc, "line 44", "'id'", "should be str"),
        Case("choices-text", ".jsonl", jsonl(50, 21, bad_mc(21, choices="yes")), mc, "line 21", "'choices'", "list"),
        Case(
            "choices-number",
            ".jsonl",
            jsonl(50, 3, bad_mc(3, choices=["yes", 2])),
            mc,
            "line 3",
            "'choices'",
            "strings",
        ),
        Case("choices-empty", ".jsonl", jsonl(50, 13, bad_mc(13, choices=[])), mc, "line 13", "'choices'", "empty"),
        Case(
            "choice-blank",
            ".jsonl",
            jsonl(50, 14, bad_mc(14, choices=["yes", ""])),
            mc,
            "line 14",
            "'choices'",
            "empty",
        ),
        Case(
            "choices-twice",
            ".jsonl",
            jsonl(50, 15, bad_mc(15, choices=["yes", "yes"])),
            mc,
            "line 15",
            "'choices'",
            "twice",
        ),
        Case(
            "answer-unknown", ".jsonl", jsonl(50, 33, bad_mc(33, answer="maybe")), mc, "line 33", "'answer'", "not one"
        ),
        Case("answer-null", ".jsonl", jsonl(50, 34, bad_mc(34, answer=None)), mc, "line 34", "'answer'", "missing"),
        Case("answer-bool", ".jsonl", jsonl(50, 35, bad_mc(35, answer=True)), mc, "line 35", "'answer'", "bool"),
        Case("no-prompt", ".jsonl", jsonl(50, 36, bad_mc(36, prompt=...)), mc, "line 36", "'prompt'", "missing"),
        Case(
            "duplicate-id",
            ".jsonl",
            jsonl(50, 40, bad_mc(40, id="q2")),
            mc,
            "line 40",
            "'id'",
            "already used at line 2",
        ),
        Case("empty-id", ".jsonl", jsonl(50, 41, bad_mc(41, id="")), mc, "line 41", "'id'", "empty"),
        Case("blank-id", ".jsonl", jsonl(50, 42, bad_mc(42, id="  \t")), mc, "line 42", "'id'", "empty"),
        Case("category-number", ".jsonl", jsonl(50, 7, bad_mc(7, category=3)), mc, "line 7", "'category'", "str"),
        Case(
            "lone-surrogate",
            ".jsonl",
            jsonl(50, 8, bad_mc(8, prompt="a\ud800b")),
            mc,
            "line 8",
            "'prompt'",
            "surrogate",
        ),
        Case("two-objects", ".jsonl", jsonl(9, 6, bad_mc(6) + " " + bad_mc(7)), mc, "line 6", None, "Extra data"),
        Case(
            "crlf-and-blank-lines",
            ".jsonl",
            jsonl(30, 12, bad_mc(12, prompt=None), sep="\r\n\r\n"),
            mc,
            "line 23",  # row 12 sits on line 23 when every row is followed by a blank line
            "'prompt'",
            "missing",
        ),
        Case(
            "line-separator-in-text",  # U+2028 inside a string is not a line break for JSONL
            ".jsonl",
            lambda p: p.write_text(
                "\n".join([bad_mc(1, prompt="a\u2028b\u2029c\x85d"), bad_mc(2), bad_mc(3, answer="x")]) + "\n"
            ),
            mc,
            "line 3",
            "'answer'",
            "not one",
        ),
        Case("bom-then-bad", ".jsonl", jsonl(9, 3, bad_mc(3, id=3), head=b"\xef\xbb\xbf"), mc, "line 3", "'id'", "str"),
        Case(
            "latin-1",
            ".jsonl",
            jsonl(90, 77, bad_mc(77).replace("Question", "caf\udce9")),  # a Latin-1 byte in line 77
            mc,
            ":77: ",
            None,
            "byte offset",
        ),
        Case("empty", ".jsonl", raw(b""), mc, None, None, "is empty"),
        Case("only-blank-lines", ".jsonl", raw(b"\n\n   \n\r\n"), mc, None, None, "is empty"),
        Case("over-size", ".jsonl", sparse(MAX_EVAL_BYTES + 1), mc, None, None, "more than"),
        Case(
            "mixed-type-extra",  # datasets would turn 12345678901234567 into 1.2345678901234568e+16
            ".jsonl",
            lambda p: p.write_text(
                "\n".join(json.dumps(mc_row(i, w=w)) for i, w in [(1, 1), (2, 1.5), (3, 12345678901234567)]) + "\n"
            ),
            mc,
            "line 3",
            "'w'",
            "one type",
        ),
    ]


def json_array_cases() -> list[Case]:
    mc = MULTIPLE_CHOICE
    items = [json.dumps(mc_row(i)) for i in range(1, 6)]
    bad_items = [*items[:3], json.dumps(mc_row(4, answer="nope")), items[4]]
    return [
        Case(
            "array-bad-item",
            ".json",
            lambda p: p.write_text("[\n  " + ",\n  ".join(bad_items) + "\n]\n"),
            mc,
            "line 5",
            "'answer'",
            "not one",
        ),
        Case(
            "array-truncated",
            ".json",
            lambda p: p.write_text("[\n  " + ",\n  ".join(items) + ',\n  {"id": '),
            mc,
            "line 7",
            None,
            "not valid JSON",
        ),
        Case(
            "array-trailing-text",
            ".json",
            lambda p: p.write_text("[\n" + ",\n".join(items) + "\n]\n{}\n"),
            mc,
            "line 8",
            None,
            "after the closing",
        ),
        Case("array-of-numbers", ".json", raw(b"[\n1,\n2\n]"), mc, "line 2", None, "must be a JSON object"),
        Case("array-empty", ".json", raw(b"[]"), mc, None, None, "no rows"),
    ]


def csv_cases() -> list[Case]:
    gen, mc, text = GENERATION, MULTIPLE_CHOICE, TEXT
    choices = '"[""yes"", ""no""]"'
    return [
        Case(
            "too-many-cells",
            ".csv",
            csv_text("id,text", text_rows(60, 50, "t49,a, b")),
            text,
            "line 50",
            None,
            "3 cells",
        ),
        Case("too-few-cells", ".csv", csv_text("id,text", text_rows(60, 9, "t8")), text, "line 9", None, "1 cell,"),
        Case(
            "no-reference-column",
            ".csv",
            csv_text("id,prompt,answer", ["a,p,r"]),
            gen,
            "line 1",
            "'reference'",
            "has no column",
        ),
        Case("header-twice", ".csv", csv_text("id,text,text", ["a,b,c"]), text, "line 1", "'text'", "twice"),
        Case("header-blank-name", ".csv", csv_text("id,,text", ["a,b,c"]), text, "line 1", None, "empty column name"),
        Case("header-only", ".csv", csv_text("id,text", []), text, None, None, "no rows"),
        Case("empty-csv", ".csv", raw(b""), text, None, None, "is empty"),
        Case(
            "unterminated-quote",
            ".csv",
            csv_text("id,text", text_rows(30, 20, 't19,"never closed')),
            text,
            "line 20",
            None,
            "runs to line 31",
        ),
        Case(
            "text-after-quote",
            ".csv",
            csv_text("id,text", text_rows(30, 11, 't10,"a" b')),
            text,
            "line 11",
            None,
            "CSV",
        ),
        Case(
            "multiline-cell-then-bad",
            ".csv",
            csv_text("id,text", ['a,"one\ntwo\nthree"', "b,fine", 'c,"x\r\ny"', "d,"]),  # lines 2-4, 5, 6-7, 8
            text,
            "line 8",
            "'text'",
            "empty",
        ),
        Case(
            "csv-empty-id", ".csv", csv_text("id,text", text_rows(30, 25, ",orphan")), text, "line 25", "'id'", "empty"
        ),
        Case(
            "csv-duplicate-id",
            ".csv",
            csv_text("id,text", text_rows(30, 29, "t3,again")),
            text,
            "line 29",
            "'id'",
            "already used at line 4",
        ),
        Case(
            "csv-latin-1",
            ".csv",
            lambda p: p.write_bytes(b"id,text\nt1,ok\nt2,caf\xe9\n"),
            text,
            ":3: ",
            None,
            "byte offset",
        ),
        Case(
            "choices-not-json",
            ".csv",
            csv_text("id,prompt,choices,answer", ["a,p,yes,yes"]),
            mc,
            "line 2",
            "'choices'",
            "JSON array",
        ),
        Case(
            "choices-json-number",
            ".csv",
            csv_text("id,prompt,choices,answer", [f"a,p,{choices},yes", 'b,p,"[""yes"", 2]",yes']),
            mc,
            "line 3",
            "'choices'",
            "strings",
        ),
        Case(
            "csv-answer-unknown",
            ".csv",
            csv_text("id,prompt,choices,answer", [f"a,p,{choices},yes", f"b,p,{choices},maybe"]),
            mc,
            "line 3",
            "'answer'",
            "not one",
        ),
        Case(
            "cell-over-field-limit",
            ".csv",
            csv_text("id,text", ["a,short", f"b,{'x' * 200_000}"]),
            text,
            "line 3",
            None,
            "field limit",
        ),
        Case(
            "csv-bom-then-bad",
            ".csv",
            csv_text("id,text", text_rows(9, 6, "t5,"), head=b"\xef\xbb\xbf"),
            text,
            "line 6",
            "'text'",
            "empty",
        ),
        Case("csv-over-size", ".csv", sparse(MAX_EVAL_BYTES + 1), text, None, None, "more than"),
    ]


def parquet_cases() -> list[Case]:
    mc = MULTIPLE_CHOICE
    row = r"row {} \(index {}\)"
    return [
        Case(
            "null-prompt-row-180",
            ".parquet",
            parquet(mc_columns(200, prompt={180: None})),
            mc,
            row.format(180, 179),
            "'prompt'",
            "missing",
        ),
        Case(
            "prompt-int-column",
            ".parquet",
            parquet(mc_columns(5, prompt={i: i for i in range(1, 6)}), {"prompt": "int64"}),
            mc,
            row.format(1, 0),
            "'prompt'",
            "int",
        ),
        Case(
            "text-float-nan",
            ".parquet",
            parquet({"id": ["a", "b"], "text": [1.0, float("nan")]}, {"text": "float64"}),
            TEXT,
            row.format(1, 0),
            "'text'",
            "float",
        ),
        Case(
            "choices-of-ints",
            ".parquet",
            parquet(mc_columns(4, choices={i: [1, 2] for i in range(1, 5)}), {"choices": "list<int64>"}),
            mc,
            row.format(1, 0),
            "'choices'",
            "strings",
        ),
        Case(
            "parquet-answer-unknown",
            ".parquet",
            parquet(mc_columns(200, answer={150: "maybe"})),
            mc,
            row.format(150, 149),
            "'answer'",
            "not one",
        ),
        Case(
            "parquet-duplicate-id",
            ".parquet",
            parquet(mc_columns(100, id={90: "q12"})),
            mc,
            row.format(90, 89),
            "'id'",
            r"already used at row 12 \(index 11\)",
        ),
        Case("parquet-empty-id", ".parquet", parquet(mc_columns(9, id={4: ""})), mc, row.format(4, 3), "'id'", "empty"),
        Case(
            "parquet-no-answer",
            ".parquet",
            parquet({k: v for k, v in mc_columns(3).items() if k != "answer"}),
            mc,
            None,
            "'answer'",
            "has no column",
        ),
        Case(
            "parquet-no-rows",
            ".parquet",
            parquet({"id": [], "text": []}, {"id": "string", "text": "string"}),
            TEXT,
            None,
            None,
            "no rows",
        ),
        Case("parquet-garbage", ".parquet", raw(b"PAR1 this is not parquet" * 40), mc, None, None, "not a readable"),
        Case("parquet-zero-bytes", ".parquet", raw(b""), mc, None, None, "not a readable"),
        Case("parquet-cut-in-half", ".parquet", broken_parquet, mc, None, None, "not a readable"),
        Case("parquet-over-size", ".parquet", sparse(MAX_EVAL_BYTES + 1), mc, None, None, "more than"),
    ]


CORPUS = jsonl_cases() + json_array_cases() + csv_cases() + parquet_cases()


def test_the_corpus_is_large_and_names_are_unique() -> None:
    assert len(CORPUS) >= 30
    assert len({case.filename for case in CORPUS}) == len(CORPUS)
    assert {case.suffix for case in CORPUS} >= {".jsonl", ".csv", ".parquet"}


@pytest.mark.parametrize("case", CORPUS, ids=[case.filename for case in CORPUS])
def test_a_hostile_file_is_a_located_harness_error(tmp_path: Path, case: Case) -> None:
    path = tmp_path / case.filename
    case.write(path)
    started = time.perf_counter()
    with pytest.raises(HarnessError) as info:
        load_eval_set(path, case.schema)
    elapsed = time.perf_counter() - started
    message = str(info.value)
    assert str(path) in message
    if case.where is not None:
        assert re.search(rf"{case.where}(?!\d)", message), message
    if case.field is not None:
        assert case.field in message, message
    assert re.search(case.says, message), message
    assert "\n  fix: " in message
    assert elapsed < TIME_BOUND_S


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_a_bad_value_on_row_180_of_200_is_reported_there(tmp_path: Path, suffix: str) -> None:
    rows = [{"id": f"t{i}", "text": f"text {i}"} for i in range(1, 201)]
    path = tmp_path / f"items{suffix}"
    if suffix == ".jsonl":
        rows[179]["text"] = 180
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        expected = "line 180: field 'text' should be str, got int"
    elif suffix == ".csv":
        rows[178]["text"] = ""  # the header is line 1, so row 179 sits on line 180
        path.write_text("id,text\n" + "".join(f"{row['id']},{row['text']}\n" for row in rows))
        expected = "line 180: field 'text' is empty"
    else:
        rows[179]["text"] = None
        parquet({"id": [r["id"] for r in rows], "text": [r["text"] for r in rows]})(path)
        expected = "row 180 (index 179): missing field 'text'"
    with pytest.raises(HarnessError) as info:
        load_eval_set(path, TEXT)
    assert f"{path}, {expected}" in str(info.value)


def test_csv_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "na.csv"
    path.write_text("id,prompt,reference,category\nNA,NA,null,\nNone,NaN,N/A,NULL\n007,#N/A,-nan,nan\n")
    data = load_eval_set(path, GENERATION)
    assert data.rows == (
        {"id": "NA", "prompt": "NA", "reference": "null", "category": ""},
        {"id": "None", "prompt": "NaN", "reference": "N/A", "category": "NULL"},
        {"id": "007", "prompt": "#N/A", "reference": "-nan", "category": "nan"},
    )


def test_csv_choices_are_a_json_array_in_the_cell(tmp_path: Path) -> None:
    path = tmp_path / "mc.csv"
    path.write_text('id,prompt,choices,answer\nq1,"2, 3 or 4?","[""2"", ""NA""]",NA\n')
    assert load_eval_set(path, MULTIPLE_CHOICE).rows == (
        {"id": "q1", "prompt": "2, 3 or 4?", "choices": ["2", "NA"], "answer": "NA"},
    )


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_byte_order_mark_and_blank_lines_are_accepted(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bom{suffix}"
    if suffix == ".jsonl":
        body = '{"id": "a", "text": "x"}\r\n\r\n{"id": "b", "text": "y"}\r\n\r\n'
    else:
        body = "id,text\r\n\r\na,x\r\n\r\nb,y\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert load_eval_set(path, TEXT).rows == ({"id": "a", "text": "x"}, {"id": "b", "text": "y"})


def test_a_json_array_file_loads_its_items(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text('[\n  {"id": "a", "text": "x"},\n  {"id": "b", "text": "y", "category": "c"}\n]\n')
    assert load_eval_set(path, TEXT).rows == (
        {"id": "a", "text": "x", "category": None},
        {"id": "b", "text": "y", "category": "c"},
    )
