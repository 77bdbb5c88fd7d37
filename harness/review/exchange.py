"""Ratings and A/B choices out of and into the review database, as JSONL or CSV (one row per rating)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.jsonlines import read_json_lines
from harness.review.store import CHOICES, WINNERS, Comparison, Rating, ReviewStore, now, winner_of
from harness.textfiles import read_text

FORMATS = ("jsonl", "csv")
COLUMNS = (
    "kind",
    "eval_set",
    "item_id",
    "reviewer",
    "created_at",
    "rubric_version",
    "output_hash",
    "pair_hash",
    "choice",
    "tuned_side",
    "winner",
    "comment",
)
SCORE_PREFIX = "score."
_CONTROL = frozenset(chr(c) for c in [*range(32), *range(0x7F, 0xA0)] if chr(c) not in "\t\n\r\x85")
_FIX_ROW = "fix that line (export a file with `harness review export` to see the expected rows)"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def neutralise(cell: object) -> object:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ tab or CR gets a leading '.

    Text that already starts with ' gets one more, so that `restore` gives back exactly what was written.
    """
    if isinstance(cell, str) and cell.startswith((*FORMULA_START, ESCAPE)):
        return ESCAPE + cell
    return cell


def restore(cell: str) -> str:
    """The text `neutralise` was given."""
    return cell[1:] if cell.startswith(ESCAPE) else cell


def export_rows(store: ReviewStore) -> list[dict[str, Any]]:
    """Every rating and A/B choice in the database (stale ones too), ratings first, in the order stored."""
    rows: list[dict[str, Any]] = []
    for r in store.ratings(current_only=False):
        rows.append(
            {
                "kind": "rating",
                "eval_set": r.eval_set,
                "item_id": r.item_id,
                "reviewer": r.reviewer,
                "created_at": r.created_at,
                "rubric_version": r.rubric_version,
                "output_hash": r.output_hash,
                "scores": r.scores,
                "comment": r.comment,
            }
        )
    for c in store.comparisons(current_only=False):
        rows.append(
            {
                "kind": "comparison",
                "eval_set": c.eval_set,
                "item_id": c.item_id,
                "reviewer": c.reviewer,
                "created_at": c.created_at,
                "pair_hash": c.pair_hash,
                "choice": c.choice,
                "tuned_side": c.tuned_side or "",
                "winner": c.winner,
                "comment": c.comment,
            }
        )
    return rows


def format_rows(rows: list[dict[str, Any]], fmt: str, criteria: tuple[str, ...] = ()) -> str:
    """The rows as JSONL, or as CSV with one `score.<criterion>` column per criterion (cells neutralised)."""
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    names = list(criteria) + sorted({k for row in rows for k in row.get("scores", {})} - set(criteria))
    out = io.StringIO()
    fieldnames = [*COLUMNS, *(SCORE_PREFIX + n for n in names)]
    writer = csv.DictWriter(out, fieldnames=fieldnames, lineterminator="\r\n")  # RFC 4180: a CR in a cell is quoted
    writer.writeheader()
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "scores"}
        flat |= {SCORE_PREFIX + k: v for k, v in row.get("scores", {}).items()}
        writer.writerow({key: neutralise(value) for key, value in flat.items()})
    return out.getvalue()


def format_of(path: Path, fmt: str | None) -> str:
    """The file format from --format or the file's extension."""
    chosen = fmt or {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(path.suffix.lower())
    if chosen not in FORMATS:
        raise HarnessError(f"{path}: cannot tell the format from the extension", hint="pass --format jsonl or csv")
    return chosen


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        for raw in reader:
            row = {key: restore(value) if isinstance(value, str) else value for key, value in raw.items()}
            if None in row:  # DictReader files surplus values under the key None
                raise HarnessError(f"{path}:{reader.line_num}: more values than columns", hint=_FIX_ROW)
            scores = {k[len(SCORE_PREFIX) :]: v for k, v in row.items() if k.startswith(SCORE_PREFIX) and v}
            plain = {k: v for k, v in row.items() if not k.startswith(SCORE_PREFIX)}
            yield reader.line_num, plain | ({"scores": scores} if plain.get("kind") == "rating" else {})
    except csv.Error as exc:  # the inner reader has counted the line it failed on; the DictReader has not
        raise HarnessError(f"{path}:{reader.reader.line_num}: not valid CSV ({exc})", hint=_FIX_ROW) from None


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of an exported file; CSV score columns are folded back into `scores`."""
    fmt = format_of(path, fmt)
    if not path.is_file():
        raise HarnessError(f"{path}: no such file", hint="check the path of the file to import")
    if fmt == "csv":
        yield from _csv_rows(read_text(path), path)
        return
    yield from read_json_lines(path, _FIX_ROW)


def _created_at(value: str, where: str) -> str:
    """An ISO-8601 time with a zone, as stored (the export writes UTC with milliseconds)."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise HarnessError(
            f"{where}: field 'created_at' is not an ISO-8601 time with a zone: {value!r:.60}",
            hint="write it like 2024-03-11T09:30:00.000+00:00, or leave it empty for the time of the import",
        )
    return value


def _scores(value: Any, where: str) -> dict[str, str]:
    """A rating's scores: criterion name -> answer (text or whole number)."""
    if not isinstance(value, dict) or not value:
        raise HarnessError(f"{where}: a rating needs its scores", hint="a `scores` object or score.* columns")
    for name, answer in value.items():
        if isinstance(answer, bool) or not isinstance(answer, str | int):
            raise HarnessError(
                f"{where}: score {name!r} must be text or a whole number, got {answer!r:.60}",
                hint='write the answer as the review app shows it, e.g. "4" or "pass"',
            )
    return {name: str(answer) for name, answer in value.items()}


class _Importer:
    """Checks rows against the review database before anything is stored.

    Every row must name an item of the database's sample; a rating's rubric version must be the current one
    (its scores are then checked against the rubric) or one that ratings already stored in the database carry.
    """

    def __init__(self, store: ReviewStore) -> None:
        self.rubric = store.meta().rubric
        self.items = {item.key: item for item in store.items()}
        self.versions = {self.rubric.version} | {r.rubric_version for r in store.ratings(current_only=False)}
        self.ratings: list[Rating] = []
        self.comparisons: list[Comparison] = []

    def add(self, row: dict[str, Any], where: str) -> None:
        def text(field: str, required: bool = True) -> str:
            value = row.get(field)
            if value is None or value == "":
                if required:
                    raise HarnessError(f"{where}: field {field!r} is missing", hint="export a file to see the columns")
                return ""
            if not isinstance(value, str):
                raise HarnessError(
                    f"{where}: field {field!r} must be text, got {type(value).__name__}", hint="quote the value"
                )
            if bad := sorted({c for c in value if c in _CONTROL}):
                raise HarnessError(
                    f"{where}: field {field!r} holds the control character(s) "
                    + ", ".join(f"U+{ord(c):04X}" for c in bad),
                    hint="remove them; a reviewer's name, ids and comments are plain text",
                )
            return value

        kind = text("kind")
        if kind not in ("rating", "comparison"):
            raise HarnessError(f"{where}: field 'kind' is {kind!r}", hint="use 'rating' or 'comparison'")
        eval_set, item_id, reviewer = text("eval_set"), text("item_id"), text("reviewer").strip()
        if not reviewer:
            raise HarnessError(f"{where}: field 'reviewer' is blank", hint="name the reviewer")
        created = text("created_at", False)
        common = (eval_set, item_id, reviewer, _created_at(created, where) if created else now())
        item = self.items.get((eval_set, item_id))
        if item is None:
            raise HarnessError(
                f"{where}: item {item_id!r} of eval set {eval_set!r} is not in this review's sample",
                hint="import ratings into the review database they were exported from (or one sampled from the "
                "same run); remove rows for other items",
            )
        if kind == "rating":
            self._rating(row, where, common, text)
        else:
            self._comparison(where, common, text)

    def _rating(self, row: dict[str, Any], where: str, common: tuple[str, ...], text: Callable[..., str]) -> None:
        scores = _scores(row.get("scores"), where)
        version = text("rubric_version")
        if version not in self.versions:
            raise HarnessError(
                f"{where}: rubric version {version!r} is unknown to this review database "
                f"(its rubric is version {self.rubric.version})",
                hint="rate with the current rubric, or remove ratings made under another rubric",
            )
        if version == self.rubric.version:
            try:
                scores = self.rubric.check_scores(scores)
            except HarnessError as exc:
                raise HarnessError(f"{where}: {exc}") from None
        self.ratings.append(Rating(*common, version, text("output_hash"), scores, text("comment", False)))

    def _comparison(self, where: str, common: tuple[str, ...], text: Callable[..., str]) -> None:
        choice, winner, pair_hash = text("choice"), text("winner", False), text("pair_hash")
        tuned_side = text("tuned_side", False)
        if choice not in CHOICES:
            raise HarnessError(f"{where}: choice {choice!r} is not one of {', '.join(CHOICES)}", hint=_FIX_ROW)
        if tuned_side:
            if tuned_side not in ("A", "B"):
                raise HarnessError(f"{where}: tuned_side {tuned_side!r} is not 'A' or 'B'", hint=_FIX_ROW)
            mapped = winner_of(choice, tuned_side)
            if winner and winner != mapped:
                raise HarnessError(
                    f"{where}: winner {winner!r} contradicts choice {choice!r} with the tuned answer shown as "
                    f"{tuned_side} (that means {mapped!r})",
                    hint="leave `winner` empty to derive it from `choice` and `tuned_side`",
                )
            winner = mapped
        elif not winner:
            raise HarnessError(
                f"{where}: an A/B choice needs `winner`, or `tuned_side` (where the tuned answer was shown)",
                hint="export a file with `harness review export` to see the columns",
            )
        if winner not in WINNERS:
            raise HarnessError(f"{where}: winner {winner!r} is not one of {', '.join(WINNERS)}", hint=_FIX_ROW)
        comment = text("comment", False)
        self.comparisons.append(Comparison(*common, pair_hash, choice, winner, comment, tuned_side or None))


def import_rows(store: ReviewStore, path: Path, fmt: str | None = None) -> tuple[int, int]:
    """Check every row, then store all of them in one transaction; (ratings, comparisons) imported.

    A row for an item outside the database's sample, or a rating under a rubric version the database does not
    know, refuses the whole file: nothing is stored.
    """
    importer = _Importer(store)
    for number, row in read_rows(path, fmt):
        importer.add(row, f"{path}:{number}")
    store.add_many(importer.ratings, importer.comparisons)
    return len(importer.ratings), len(importer.comparisons)
