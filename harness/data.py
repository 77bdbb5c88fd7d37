"""Eval sets: JSONL, CSV or Parquet files, checked row by row against a declared schema, then loaded by `datasets`.

Every row is checked as the file's own parser sees it (`json` line by line, the `csv` module, the Parquet
table), so an error names the real line (or Parquet row) and field. `datasets` then loads the file and
converts the columns; its rows are compared with the checked ones, so a conversion never changes a value
unseen. CSV cells stay text: `NA`, `null` or an empty cell is that string, not a missing value.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import reprlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.jsonlines import numbered_lines
from harness.shards import Shard
from harness.textfiles import MAX_TEXT_BYTES, read_text

FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}
MAX_EVAL_BYTES = MAX_TEXT_BYTES  # a larger eval file is almost surely the wrong file
JSON_SPACE = " \t\r\n"
MAX_INT_DIGITS = 100
MAX_NESTING = 32  # lists and objects inside a field; deeper is a broken or hostile file
_PREVIEW = reprlib.Repr()  # short reprs in messages, bounded in length and depth however large the value
_PREVIEW.maxlevel, _PREVIEW.maxstring, _PREVIEW.maxother, _PREVIEW.maxlist, _PREVIEW.maxdict = 3, 60, 60, 8, 8


@dataclass(frozen=True)
class Schema:
    """The fields an eval set must have, their types, and an optional per-row check."""

    name: str
    required: Mapping[str, type]
    optional: Mapping[str, type] = field(default_factory=dict)
    row_check: Callable[[Mapping[str, Any]], str | None] | None = None
    row_hint: str = "fix that row"  # the fix shown when row_check finds a problem


def _answer_among_choices(row: Mapping[str, Any]) -> str | None:
    choices = row["choices"]
    if not choices:
        return "field 'choices' is empty"
    if not all(isinstance(c, str) for c in choices):
        return f"field 'choices' must be a list of strings, got {choices!r:.80}"
    if not all(c.strip() for c in choices):
        return f"field 'choices' holds an empty choice: {choices!r:.80}"
    if len(set(choices)) != len(choices):
        return f"field 'choices' names a choice twice: {choices!r:.80}"
    if row["answer"] not in choices:
        return f"field 'answer' ({row['answer']!r}) is not one of 'choices' {choices!r}"
    return None


# category: a label to filter and report by; cluster: items that are not independent (one source document,
# one template) share a cluster, and the gate then resamples whole clusters.
OPTIONAL_FIELDS = {"category": str, "cluster": str}

MULTIPLE_CHOICE = Schema(
    "multiple choice",
    required={"id": str, "prompt": str, "choices": list, "answer": str},
    optional=OPTIONAL_FIELDS,
    row_check=_answer_among_choices,
    row_hint="make 'choices' a list of distinct, non-empty strings, and 'answer' one of them",
)
GENERATION = Schema("generation", required={"id": str, "prompt": str, "reference": str}, optional=OPTIONAL_FIELDS)
TEXT = Schema("text", required={"id": str, "text": str}, optional=OPTIONAL_FIELDS)


@dataclass(frozen=True)
class EvalSet:
    """Rows of one eval file, validated, in file order, with a content fingerprint."""

    name: str
    path: Path
    rows: tuple[Mapping[str, Any], ...]
    fingerprint: str

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, column: str) -> list[Any]:
        """A column as a list, e.g. eval_set["prompt"]."""
        return [row[column] for row in self.rows]

    @property
    def ids(self) -> list[str]:
        return self["id"]

    def share(self, shard: Shard) -> EvalSet:
        """The rows of one shard (see harness.shards); the fingerprint stays the whole file's."""
        rows = tuple(r for r in self.rows if shard.keeps(self.name, r.get("id", r)))
        return EvalSet(self.name, self.path, rows, self.fingerprint)

    def where(self, **equals: Any) -> EvalSet:
        """The rows whose fields equal the given values (e.g. category="capitals")."""
        rows = tuple(r for r in self.rows if all(r.get(k) == v for k, v in equals.items()))
        label = ",".join(f"{k}={v}" for k, v in sorted(equals.items()))
        return EvalSet(f"{self.name}[{label}]", self.path, rows, self.fingerprint)


@dataclass(frozen=True)
class RowPlace:
    """Where a row sits: its (first) line in a JSONL or CSV file, or its row in a Parquet file."""

    path: Path
    index: int  # 0-based position among the rows
    line: int | None = None

    @property
    def short(self) -> str:
        """'line 3', or 'row 3 (index 2)' for a Parquet file."""
        return f"line {self.line}" if self.line is not None else f"row {self.index + 1} (index {self.index})"

    def __str__(self) -> str:
        return f"{self.path}, {self.short}"


Row = tuple[RowPlace, dict[str, Any]]


# --- JSON: the stdlib parser, made strict about what an eval set may hold -------------------------------


class _JsonProblem(ValueError):
    """A value the json module would accept that an eval set must not hold (NaN, a repeated key)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def _no_constant(token: str) -> Any:
    """NaN, Infinity and -Infinity: accepted by Python's json, not JSON, and no value for an eval set."""
    raise _JsonProblem(f"{token} is not a JSON number", "JSON has no NaN or Infinity: write null, or the value as text")


def _finite_float(text: str) -> float:
    """A JSON number as a float, refused when it overflows to infinity (1e999)."""
    value = float(text)
    if not math.isfinite(value):
        raise _JsonProblem(f"the number {text:.40} is out of range", "write a smaller number, or the value as text")
    return value


def _bounded_int(text: str) -> int:
    """A JSON integer, refused when it has more digits than any real value (Python would parse 4,300)."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _JsonProblem(f"a number with {len(text):,} digits", "write the value as text")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refused when a key repeats (json would keep the last one silently)."""
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _JsonProblem(f"key {key!r} appears twice in one object", f"keep one {key!r} in that object")
        value[key] = item
    return value


_DECODER = json.JSONDecoder(
    parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant, object_pairs_hook=_unique_keys
)


def _decode_json(text: str, path: Path, first_line: int, pos: int | None = None) -> tuple[Any, int]:
    """One JSON value: all of `text`, or the one starting at `pos`; any problem is an error naming its line."""
    start = 0 if pos is None else pos
    try:
        return (_DECODER.decode(text), len(text)) if pos is None else _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as exc:
        line = first_line + exc.lineno - 1
        message, hint = f"not valid JSON ({exc.msg} at column {exc.colno})", "fix that line so it is one JSON object"
    except _JsonProblem as exc:
        line, message, hint = first_line + text.count("\n", 0, start), str(exc), exc.hint
    except (ValueError, RecursionError) as exc:
        problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
        line, message, hint = first_line + text.count("\n", 0, start), f"not valid JSON ({problem})", "fix that line"
    raise HarnessError(f"{path}, line {line}: {message}", hint=hint)


def _json_kind(value: Any) -> str:
    """The JSON name of a value's type: object, array, string, number, true/false or null."""
    kinds = {dict: "object", list: "array", str: "string", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "number")


def _as_object(value: Any, place: RowPlace, what: str) -> dict[str, Any]:
    """The row's object, or an error naming what the line holds instead."""
    if not isinstance(value, dict):
        raise HarnessError(
            f"{place}: {what} must be a JSON object, got {_json_kind(value)} ({_PREVIEW.repr(value)})",
            hint='write one object per row, e.g. {"id": "q1", ...}',
        )
    return value


def _jsonl_rows(path: Path, text: str) -> list[Row]:
    """One row per non-blank line; blank lines are skipped but counted."""
    rows: list[Row] = []
    for number, line in numbered_lines(text, blank=lambda line: not line.strip(JSON_SPACE)):
        value, _ = _decode_json(line, path, number)
        place = RowPlace(path, len(rows), number)
        rows.append((place, _as_object(value, place, "each line")))
    return rows


def _skip_space(text: str, pos: int) -> int:
    """The position of the first character at or after `pos` that is not JSON whitespace."""
    while pos < len(text) and text[pos] in JSON_SPACE:
        pos += 1
    return pos


def _json_array_rows(path: Path, text: str) -> list[Row]:
    """The items of a .json file holding one array, each named by the line it starts on."""
    rows: list[Row] = []
    pos, line, counted = _skip_space(text, _skip_space(text, 0) + 1), 1, 0
    while not text.startswith("]", pos):
        line, counted = line + text.count("\n", counted, pos), pos
        value, pos = _decode_json(text, path, 1, pos)
        place = RowPlace(path, len(rows), line)
        rows.append((place, _as_object(value, place, "each item of the array")))
        pos = _skip_space(text, pos)
        if text.startswith(",", pos):
            pos = _skip_space(text, pos + 1)
        elif not text.startswith("]", pos):
            raise HarnessError(
                f"{path}, line {1 + text.count(chr(10), 0, pos)}: not valid JSON (expected ',' or ']' after "
                f"the item that starts on line {line})",
                hint="separate the items with commas and close the array with ]",
            )
    if (pos := _skip_space(text, pos + 1)) != len(text):
        raise HarnessError(
            f"{path}, line {1 + text.count(chr(10), 0, pos)}: not valid JSON (text after the closing ])",
            hint="keep one array in the file",
        )
    return rows


# --- CSV: the csv module, every cell text ----------------------------------------------------------------


def _next_csv_row(reader: Any, path: Path, start: int) -> list[str] | None:
    """The next row of cells, None at the end; a quoting problem is an error naming the row's first line."""
    try:
        return next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        runs = f"; the row runs to line {reader.line_num}" if reader.line_num != start else ""
        raise HarnessError(
            f"{path}, line {start}: not valid CSV ({exc}{runs})",
            hint='check the quotes on that line: a quoted cell ends with ", and a quote inside it is written ""',
        ) from None


def _csv_header(reader: Any, path: Path, schema: Schema) -> list[str]:
    """The column names (the first non-blank row), each unique and every required one present."""
    header: list[str] | None = []
    while header == []:
        header = _next_csv_row(reader, path, reader.line_num + 1)
    where = f"{path}, line {reader.line_num}"
    if not header:
        raise HarnessError(f"eval set {path} is empty", hint="add a header line and at least one row")
    if any(not name.strip() for name in header):
        raise HarnessError(f"{where}: the header has an empty column name: {header!r:.80}", hint="name every column")
    if repeated := sorted(name for name, uses in Counter(header).items() if uses > 1):
        raise HarnessError(f"{where}: the header names column {repeated[0]!r} twice", hint="rename one of them")
    for name in schema.required:
        if name not in header:
            raise HarnessError(
                f"{where}: field {name!r} has no column (a {schema.name} eval set needs "
                f"{', '.join(schema.required)}; the header has {', '.join(header)})",
                hint=f"add the column {name!r}",
            )
    return header


def _csv_rows(path: Path, text: str, schema: Schema) -> tuple[list[str], list[Row]]:
    """The header and the rows of cells, each row named by the line it starts on; blank lines are skipped."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = _csv_header(reader, path, schema)
    rows: list[Row] = []
    start = reader.line_num + 1
    while (cells := _next_csv_row(reader, path, start)) is not None:
        if cells:
            place = RowPlace(path, len(rows), start)
            if len(cells) != len(header):
                raise HarnessError(
                    f"{place}: {len(cells)} cell{'s' if len(cells) != 1 else ''}, but the header names "
                    f"{len(header)} columns ({', '.join(header)})",
                    hint='quote a cell that holds a comma or a line break ("a, b"), and give every column a cell',
                )
            rows.append((place, dict(zip(header, cells, strict=True))))
        start = reader.line_num + 1
    return header, rows


def _csv_fields(row: dict[str, Any], place: RowPlace, schema: Schema) -> dict[str, Any]:
    """A row of CSV cells with each list field (e.g. 'choices') read from the JSON array in its cell."""
    typed = dict(row)
    for name, kind in {**schema.required, **schema.optional}.items():
        if kind is list and isinstance(row.get(name), str):
            try:
                typed[name] = _DECODER.decode(row[name])
            except (ValueError, RecursionError):
                typed[name] = None
            if not isinstance(typed[name], list):
                raise HarnessError(
                    f"{place}: field {name!r} should be a JSON array in its cell, got {row[name]!r:.60}",
                    hint=f'write {name!r} as ["Paris", "Rome"] (in the CSV file: "[""Paris"", ""Rome""]")',
                )
    return typed


def _fields(row: dict[str, Any], place: RowPlace, schema: Schema, kind: str) -> dict[str, Any]:
    """A row's values as the schema reads them (only CSV cells need converting)."""
    return _csv_fields(row, place, schema) if kind == "csv" else row


# --- Parquet: the table as pyarrow reads it ------------------------------------------------------------


def _parquet_rows(path: Path, schema: Schema) -> list[Row]:
    """The rows of a Parquet file, each named by its row number and index."""
    import pyarrow.parquet as pq

    size = path.stat().st_size
    if size > MAX_EVAL_BYTES:
        raise HarnessError(
            f"{path}: {size:,} bytes is more than the {MAX_EVAL_BYTES:,} this file may hold",
            hint="split the file, or check that it is the file you meant",
        )
    try:
        table = pq.read_table(path)
        records = table.to_pylist()
    except Exception as exc:  # pyarrow raises many types; all mean "this is not a Parquet file it can read"
        raise HarnessError(
            f"{path}: not a readable Parquet file ({_first_line(exc)})",
            hint="write it again, e.g. with datasets' Dataset.to_parquet() or pandas' DataFrame.to_parquet()",
        ) from None
    names = table.column_names
    if repeated := sorted(name for name, uses in Counter(names).items() if uses > 1):
        raise HarnessError(f"{path}: column {repeated[0]!r} appears twice", hint="rename one of them")
    for name in schema.required:
        if name not in names and records:
            raise HarnessError(
                f"{path}: field {name!r} has no column (a {schema.name} eval set needs "
                f"{', '.join(schema.required)}; the file has {', '.join(names)})",
                hint=f"add the column {name!r}",
            )
    return [(RowPlace(path, index), record) for index, record in enumerate(records)]


# --- the checks, shared by every format ----------------------------------------------------------------


def _first_line(exc: BaseException) -> str:
    """The first line of an exception's message (a library's may run to many), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unpaired_surrogate(row: Mapping[str, Any]) -> str | None:
    """The first field whose text holds an unpaired surrogate (a \\ud800 escape), which is not text."""

    def bad(value: Any) -> bool:
        if isinstance(value, str):
            return not value.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in value)
        if isinstance(value, dict):
            return any(bad(v) for v in value.values())
        return isinstance(value, list) and any(bad(v) for v in value)

    return next((name for name, value in row.items() if bad(value)), None)


def _too_deep(value: Any, room: int = MAX_NESTING) -> bool:
    """Whether lists and objects nest deeper than `room` levels (the walk itself goes no deeper)."""
    if not isinstance(value, dict | list):
        return False
    if room == 0:
        return True
    return any(_too_deep(item, room - 1) for item in (value.values() if isinstance(value, dict) else value))


def _check_row(row: Mapping[str, Any], place: RowPlace, schema: Schema) -> None:
    """Raise a HarnessError naming the place and field of this row's first problem."""
    if deep := next((name for name, value in row.items() if _too_deep(value)), None):
        raise HarnessError(
            f"{place}: field {deep!r} nests lists or objects more than {MAX_NESTING} levels deep",
            hint=f"flatten {deep!r}, or drop it from the eval set",
        )
    for name in schema.required:
        if row.get(name) is None:
            raise HarnessError(
                f"{place}: missing field {name!r} (a {schema.name} eval set needs {', '.join(schema.required)})",
                hint=f"add {name!r} to that row",
            )
    for name, kind in {**schema.required, **schema.optional}.items():
        value = row.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool) and kind is not bool):
            raise HarnessError(
                f"{place}: field {name!r} should be {kind.__name__}, "
                f"got {type(value).__name__} ({_PREVIEW.repr(value)})",
                hint=f"make {name!r} a {kind.__name__} in every row",
            )
    for name, kind in schema.required.items():
        if kind is str and not row[name].strip():
            raise HarnessError(f"{place}: field {name!r} is empty", hint=f"give {name!r} a value in that row")
    if bad_field := _unpaired_surrogate(row):
        raise HarnessError(
            f"{place}: field {bad_field!r} holds a lone surrogate (a \\ud800-\\udfff escape), which is not text",
            hint="write the character itself, or both halves of its \\u escape pair",
        )
    if schema.row_check is not None and (problem := schema.row_check(row)):
        raise HarnessError(f"{place}: {problem}", hint=schema.row_hint)


def _check_rows(rows: list[Row], schema: Schema, path: Path) -> None:
    """Every row well-formed, at least one row, and no id used twice (both places named)."""
    if not rows:
        raise HarnessError(f"eval set {path} has no rows", hint="add at least one item")
    first_use: dict[str, RowPlace] = {}
    for place, row in rows:
        _check_row(row, place, schema)
        item_id = row["id"]
        if item_id in first_use:
            raise HarnessError(
                f"{place}: field 'id': {item_id!r} is already used at {first_use[item_id].short}",
                hint="make ids unique",
            )
        first_use[item_id] = place


def _same(raw: Any, loaded: Any) -> bool:
    """The same value, where a missing key equals null (`datasets` fills absent fields with None)."""
    if isinstance(raw, dict) and isinstance(loaded, dict):
        return all(_same(raw.get(key), loaded.get(key)) for key in raw.keys() | loaded.keys())
    if isinstance(raw, list) and isinstance(loaded, list):
        return len(raw) == len(loaded) and all(map(_same, raw, loaded))
    if isinstance(raw, float) and isinstance(loaded, float) and math.isnan(raw) and math.isnan(loaded):
        return True
    return bool(raw == loaded)


def _check_loaded(rows: list[Row], loaded: list[dict[str, Any]], path: Path) -> None:
    """`datasets` must hand back exactly the rows that were checked; a changed value is an error, never used."""
    if len(loaded) != len(rows):
        raise HarnessError(
            f"{path}: `datasets` read {len(loaded)} rows where the file holds {len(rows)}",
            hint="check the file's quoting and line breaks, or convert it to JSONL",
        )
    for (place, raw), row in zip(rows, loaded, strict=True):
        for name in sorted(raw.keys() | row.keys()):
            if not _same(raw.get(name), row.get(name)):
                raise HarnessError(
                    f"{place}: field {name!r} holds {raw.get(name)!r:.60} in the file, but `datasets` reads "
                    f"{row.get(name)!r:.60} (it converts a column that mixes types)",
                    hint=f"give {name!r} one type in every row, e.g. all text",
                )


def _load_with_datasets(path: Path, kind: str, header: list[str] | None) -> list[dict[str, Any]]:
    """The rows as `datasets` loads them; a CSV is read with every column as text and no NA guessing."""
    import datasets

    datasets.disable_progress_bars()
    options: dict[str, Any] = {}
    if header is not None:
        options = {"features": datasets.Features({c: datasets.Value("string") for c in header}), "na_filter": False}
    try:
        dataset = getattr(datasets.Dataset, f"from_{kind}")(str(path), keep_in_memory=True, **options)
    except Exception as exc:  # datasets/pyarrow raise many types; all mean "this file did not convert"
        raise HarnessError(
            f"{path}: every row passed the checks, but `datasets` could not load it as {kind} ({_first_line(exc)})",
            hint="give each field one type in every row; if that does not help, convert the file to JSONL",
        ) from None
    return dataset.to_list()


def _raw_rows(path: Path, kind: str, schema: Schema) -> tuple[list[Row], list[str] | None]:
    """The file's rows as its own parser reads them, and the CSV header (None for the other formats)."""
    if kind == "parquet":
        return _parquet_rows(path, schema), None
    text = read_text(path, max_bytes=MAX_EVAL_BYTES)
    if not text.strip():
        raise HarnessError(f"eval set {path} is empty", hint="add at least one item")
    if kind == "csv":
        header, rows = _csv_rows(path, text, schema)
        return rows, header
    if path.suffix.lower() == ".json" and text.lstrip(JSON_SPACE).startswith("["):
        return _json_array_rows(path, text), None
    return _jsonl_rows(path, text), None


def load_eval_set(path: str | Path, schema: Schema, *, name: str | None = None) -> EvalSet:
    """Load and validate an eval set. Any malformed row fails with the file, line and field named."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"eval set {path} does not exist", hint="check the path or --eval-data")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise HarnessError(f"eval set {path}: unknown format {path.suffix!r}", hint="use .jsonl, .csv or .parquet")
    rows, header = _raw_rows(path, kind, schema)
    _check_rows([(place, _fields(row, place, schema, kind)) for place, row in rows], schema, path)
    loaded = _load_with_datasets(path, kind, header)
    _check_loaded(rows, loaded, path)
    converted = tuple(_fields(row, place, schema, kind) for (place, _), row in zip(rows, loaded, strict=True))
    return EvalSet(name or path.stem, path, converted, data_fingerprint(path))


def data_fingerprint(path: Path) -> str:
    """The eval file's content fingerprint (SHA-256 of its bytes), as results and baselines record it."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def find_eval_file(directory: Path, stem: str) -> Path:
    """The eval file called `stem` in a directory, in any supported format."""
    for suffix in (".jsonl", ".csv", ".parquet", ".json"):
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise HarnessError(
        f"no eval set named {stem!r} in {directory} (looked for {stem}.jsonl, .csv, .parquet)",
        hint="add the file, or point --eval-data at the directory that holds it",
    )
