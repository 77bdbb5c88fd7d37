"""Eval sets: load JSONL, CSV or Parquet through `datasets`, and check each row against a declared schema."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


@dataclass(frozen=True)
class Schema:
    """The fields an eval set must have, their types, and an optional per-row check."""

    name: str
    required: Mapping[str, type]
    optional: Mapping[str, type] = field(default_factory=dict)
    row_check: Callable[[Mapping[str, Any]], str | None] | None = None


def _answer_among_choices(row: Mapping[str, Any]) -> str | None:
    if not row["choices"]:
        return "field 'choices' is empty"
    if not all(isinstance(c, str) for c in row["choices"]):
        return "field 'choices' must be a list of strings"
    if row["answer"] not in row["choices"]:
        return f"field 'answer' ({row['answer']!r}) is not one of 'choices' {row['choices']!r}"
    return None


MULTIPLE_CHOICE = Schema(
    "multiple choice",
    required={"id": str, "prompt": str, "choices": list, "answer": str},
    optional={"category": str},
    row_check=_answer_among_choices,
)
GENERATION = Schema("generation", required={"id": str, "prompt": str, "reference": str}, optional={"category": str})
TEXT = Schema("text", required={"id": str, "text": str}, optional={"category": str})


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

    def where(self, **equals: Any) -> EvalSet:
        """The rows whose fields equal the given values (e.g. category="capitals")."""
        rows = tuple(r for r in self.rows if all(r.get(k) == v for k, v in equals.items()))
        label = ",".join(f"{k}={v}" for k, v in sorted(equals.items()))
        return EvalSet(f"{self.name}[{label}]", self.path, rows, self.fingerprint)


def _line_numbers(path: Path, kind: str, n_rows: int) -> list[str]:
    """Where each row sits in the file, for error messages."""
    if kind == "json":
        with path.open("rb") as handle:
            lines = [i for i, raw in enumerate(handle, start=1) if raw.strip()]
        return [f"line {n}" for n in lines[:n_rows]] + [f"row {i + 1}" for i in range(len(lines), n_rows)]
    if kind == "csv":
        return [f"line {i + 2}" for i in range(n_rows)]
    return [f"row {i + 1}" for i in range(n_rows)]


def _find_json_error(path: Path) -> str | None:
    """The first line of a JSONL file that is not a JSON object, described."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                return f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})"
            if not isinstance(row, dict):
                return f"{path}:{number}: each line must be a JSON object, got {type(row).__name__}"
    return None


def _rows_from_lines(path: Path) -> list[dict[str, Any]]:
    """JSONL rows parsed one line at a time (used to locate a problem `datasets` could not name)."""
    rows = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for raw in handle:
            if raw.strip():
                rows.append(json.loads(raw))
    return rows


def _read_rows(path: Path, kind: str, schema: Schema) -> list[dict[str, Any]]:
    """Read a file with `datasets`; when it fails, find and name the bad line and field."""
    import datasets

    datasets.disable_progress_bars()
    try:
        dataset = getattr(datasets.Dataset, f"from_{kind}")(str(path), keep_in_memory=True)
    except Exception as exc:  # datasets/pyarrow raise many types; all mean "this file did not parse"
        if kind == "json":
            if located := _find_json_error(path):
                raise HarnessError(located, hint="fix that line so it is one JSON object") from None
            # Rows of mixed types stop pyarrow; checking them one by one names the row and field.
            rows = _rows_from_lines(path)
            _validate(rows, _line_numbers(path, kind, len(rows)), path, schema)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(
            f"{path}: could not be read as {kind}: {first}", hint="fix the file so every row parses"
        ) from None
    return dataset.to_list()


def _validate(rows: Sequence[Mapping[str, Any]], where: list[str], path: Path, schema: Schema) -> None:
    seen: dict[str, str] = {}
    for row, place in zip(rows, where, strict=True):
        for name in schema.required:
            if name not in row or row[name] is None:
                raise HarnessError(
                    f"{path}, {place}: missing field {name!r} (a {schema.name} eval set needs "
                    f"{', '.join(schema.required)})",
                    hint=f"add {name!r} to that row",
                )
        for name, kind in {**schema.required, **schema.optional}.items():
            value = row.get(name)
            if value is not None and not isinstance(value, kind):
                raise HarnessError(
                    f"{path}, {place}: field {name!r} should be {kind.__name__}, "
                    f"got {type(value).__name__} ({value!r:.60})",
                    hint=f"make {name!r} a {kind.__name__}",
                )
        if schema.row_check is not None and (problem := schema.row_check(row)):
            raise HarnessError(f"{path}, {place}: {problem}", hint="fix that row")
        item_id = row["id"]
        if item_id in seen:
            raise HarnessError(
                f"{path}, {place}: id {item_id!r} is already used at {seen[item_id]}", hint="make ids unique"
            )
        seen[item_id] = place


def load_eval_set(path: str | Path, schema: Schema, *, name: str | None = None) -> EvalSet:
    """Load and validate an eval set. Any malformed row fails with the file, line and field named."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"eval set {path} does not exist", hint="check the path or --eval-data")
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise HarnessError(f"eval set {path}: unknown format {path.suffix!r}", hint="use .jsonl, .csv or .parquet")
    rows = _read_rows(path, kind, schema)
    if not rows:
        raise HarnessError(f"eval set {path} has no rows", hint="add at least one item")
    _validate(rows, _line_numbers(path, kind, len(rows)), path, schema)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return EvalSet(name or path.stem, path, tuple(rows), digest)


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
