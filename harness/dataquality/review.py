"""Review status of synthetic examples: candidates start `pending`; only `approved` ones reach training.

The status lives on each candidate record, so any reviewer (the `approve` command, a web app) changes it the
same way: call `apply_reviews` with rows {id, status, reviewer[, note]} and write the result atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.dataquality.findings import Finding
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec
from harness.errors import HarnessError
from harness.jsonlines import read_json_lines

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATUSES = (PENDING, APPROVED, REJECTED)
REVIEW_DECISIONS = (APPROVED, REJECTED)


def is_synthetic(row: Mapping[str, Any]) -> bool:
    """A record made by a model rather than collected: `synthetic: true` or `origin: augmented`."""
    return row.get("synthetic") is True or str(row.get("origin", "")).lower() in ("augmented", "synthetic")


def is_approved(row: Mapping[str, Any]) -> bool:
    """Approved by a named reviewer; nothing else counts."""
    return row.get("status") == APPROVED and isinstance(row.get("reviewer"), str) and bool(row["reviewer"].strip())


def check_synthetic(records: Sequence[TrainingRecord], spec: DataSpec) -> list[Finding]:
    """An error for every synthetic example in the training set that a reviewer has not approved."""
    return [
        Finding(
            "unapproved_synthetic",
            spec.severity["unapproved_synthetic"],
            f"synthetic example (status {r.fields.get('status', 'missing')!r}, reviewer "
            f"{r.fields.get('reviewer') or 'none'}) has not been approved",
            "review it (harness data approve CANDIDATES REVIEWED.jsonl) and train on `harness data export` output",
            r.file,
            r.line,
            r.id,
            details={"source_id": r.fields.get("source_id")},
        )
        for r in records
        if is_synthetic(r.fields) and not is_approved(r.fields)
    ]


def read_jsonl(path: Path, what: str) -> list[dict[str, Any]]:
    """JSON object lines of a file, failing with the file and line of the first bad one."""
    if not path.is_file():
        raise HarnessError(f"{what} {path} does not exist", hint="check the path")
    return [row | {"__line__": line} for line, row in read_json_lines(path, "fix that line")]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows as JSON lines, written atomically."""
    text = "".join(
        json.dumps({k: v for k, v in row.items() if k != "__line__"}, ensure_ascii=False) + "\n" for row in rows
    )
    atomic_write_text(Path(path), text)


def apply_reviews(
    candidates: Sequence[dict[str, Any]], reviews: Sequence[Mapping[str, Any]], source: str = "reviews"
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Candidates with each review's status, reviewer and time applied; every review must name a known id."""
    by_id = {str(c.get("id")): c for c in candidates}
    counts = {APPROVED: 0, REJECTED: 0}
    updated: dict[str, dict[str, Any]] = {}
    for review in reviews:
        where = f"{source}:{review.get('__line__', '?')}"
        item_id, status, reviewer = str(review.get("id", "")), review.get("status"), review.get("reviewer")
        if item_id not in by_id:
            raise HarnessError(f"{where}: id {item_id!r} is not a candidate", hint="check the id against CANDIDATES")
        if status not in REVIEW_DECISIONS:
            raise HarnessError(
                f"{where}: status {status!r} is not a review decision", hint=f"use one of {', '.join(REVIEW_DECISIONS)}"
            )
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise HarnessError(f"{where}: no reviewer named", hint='add "reviewer": "<name>" to the review')
        if item_id in updated:
            raise HarnessError(f"{where}: id {item_id!r} is reviewed twice", hint="keep one decision per id")
        row = dict(by_id[item_id])
        row.update(
            status=status,
            reviewer=reviewer.strip(),
            reviewed_at=review.get("reviewed_at") or datetime.now(UTC).isoformat(timespec="seconds"),
        )
        if review.get("note"):
            row["review_note"] = str(review["note"])
        updated[item_id] = row
        counts[status] += 1
    return [updated.get(str(c.get("id")), c) for c in candidates], counts


def approve(candidates_path: Path, reviewed_path: Path, out_path: Path | None = None) -> dict[str, int]:
    """Apply a reviewed JSONL to a candidates file (in place unless out_path is given)."""
    candidates = read_jsonl(candidates_path, "candidates file")
    reviews = read_jsonl(reviewed_path, "reviewed file")
    merged, counts = apply_reviews(candidates, reviews, str(reviewed_path))
    write_jsonl(out_path or candidates_path, merged)
    counts[PENDING] = sum(1 for row in merged if row.get("status", PENDING) == PENDING)
    return counts


def export(candidate_paths: Sequence[Path], out_path: Path, train_path: Path | None = None) -> dict[str, int]:
    """Training data: the original set (if given) plus approved candidates only; the rest are left out."""
    rows: list[dict[str, Any]] = []
    if train_path is not None:
        original = read_jsonl(train_path, "training data")
        unreviewed = [r for r in original if is_synthetic(r) and not is_approved(r)]
        rows.extend(r for r in original if not (is_synthetic(r) and not is_approved(r)))
        dropped_original = len(unreviewed)
    else:
        dropped_original = 0
    approved = left_out = 0
    for path in candidate_paths:
        for row in read_jsonl(path, "candidates file"):
            if is_approved(row):
                rows.append(row)
                approved += 1
            else:
                left_out += 1
    write_jsonl(out_path, rows)
    return {"written": len(rows), "approved": approved, "left_out": left_out + dropped_original}
