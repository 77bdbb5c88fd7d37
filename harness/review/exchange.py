"""Ratings and A/B choices out of and into the review database, as JSONL or CSV (one row per rating)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.review.store import CHOICES, WINNERS, Comparison, Rating, ReviewStore, now

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
    "winner",
    "comment",
)
SCORE_PREFIX = "score."


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
                "winner": c.winner,
                "comment": c.comment,
            }
        )
    return rows


def format_rows(rows: list[dict[str, Any]], fmt: str, criteria: tuple[str, ...] = ()) -> str:
    """The rows as JSONL, or as CSV with one `score.<criterion>` column per criterion."""
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    names = list(criteria) + sorted({k for row in rows for k in row.get("scores", {})} - set(criteria))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*COLUMNS, *(SCORE_PREFIX + n for n in names)], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {k: v for k, v in row.items() if k != "scores"}
        flat |= {SCORE_PREFIX + k: v for k, v in row.get("scores", {}).items()}
        writer.writerow(flat)
    return out.getvalue()


def format_of(path: Path, fmt: str | None) -> str:
    """The file format from --format or the file's extension."""
    chosen = fmt or {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(path.suffix.lower())
    if chosen not in FORMATS:
        raise HarnessError(f"{path}: cannot tell the format from the extension", hint="pass --format jsonl or csv")
    return chosen


def read_rows(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of an exported file; CSV score columns are folded back into `scores`."""
    fmt = format_of(path, fmt)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read ({exc.strerror})") from None
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise HarnessError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise HarnessError(f"{path}:{number}: expected one JSON object per line")
            yield number, row
        return
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        scores = {k[len(SCORE_PREFIX) :]: v for k, v in row.items() if k and k.startswith(SCORE_PREFIX) and v}
        plain = {k: v for k, v in row.items() if k and not k.startswith(SCORE_PREFIX)}
        yield reader.line_num, plain | ({"scores": scores} if plain.get("kind") == "rating" else {})


def import_rows(store: ReviewStore, path: Path, fmt: str | None = None) -> tuple[int, int]:
    """Check every row, then store all of them in one transaction; (ratings, comparisons) imported."""
    meta = store.meta()
    items = {item.key: item for item in store.items()}
    ratings: list[Rating] = []
    comparisons: list[Comparison] = []
    for number, row in read_rows(path, fmt):
        where = f"{path}:{number}"

        def text(field: str, required: bool = True, row: dict[str, Any] = row, where: str = where) -> str:
            value = row.get(field)
            if value is None or value == "":
                if required:
                    raise HarnessError(f"{where}: field {field!r} is missing", hint="export a file to see the columns")
                return ""
            if not isinstance(value, str):
                raise HarnessError(f"{where}: field {field!r} must be text, got {type(value).__name__}")
            return value

        kind = text("kind")
        common = (text("eval_set"), text("item_id"), text("reviewer"), text("created_at", False) or now())
        if kind == "rating":
            scores = row.get("scores")
            if not isinstance(scores, dict) or not scores:
                raise HarnessError(f"{where}: a rating needs its scores", hint="a `scores` object or score.* columns")
            version = text("rubric_version")
            if version == meta.rubric.version:
                try:
                    scores = meta.rubric.check_scores(scores)
                except HarnessError as exc:
                    raise HarnessError(f"{where}: {exc}") from None
            ratings.append(Rating(*common, version, text("output_hash"), dict(scores), text("comment", False)))
        elif kind == "comparison":
            choice, winner, pair_hash = text("choice"), text("winner", False), text("pair_hash")
            if choice not in CHOICES:
                raise HarnessError(f"{where}: choice {choice!r} is not one of {', '.join(CHOICES)}")
            item = items.get((common[0], common[1]))
            if item is not None and item.pair_hash == pair_hash:
                mapped = item.winner(choice)
                if winner and winner != mapped:
                    raise HarnessError(
                        f"{where}: winner {winner!r} contradicts choice {choice!r} for this item (it means {mapped!r})",
                        hint="the file was not exported from this review; leave `winner` empty to derive it",
                    )
                winner = mapped
            if winner not in WINNERS:
                raise HarnessError(f"{where}: winner {winner!r} is not one of {', '.join(WINNERS)}")
            comparisons.append(Comparison(*common, pair_hash, choice, winner, text("comment", False)))
        else:
            raise HarnessError(f"{where}: field 'kind' is {kind!r}", hint="use 'rating' or 'comparison'")
    store.add_many(ratings, comparisons)
    return len(ratings), len(comparisons)
