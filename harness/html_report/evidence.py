"""What a run shows besides its verdicts: the eval items behind each metric (prompt, reference, both models'
answers), the case files' inputs and outcomes, and where the numbers came from (provenance).

The JSON report keeps all of it, so the HTML page can be drawn again from a saved run. Long texts are cut
at MAX_TEXT_CHARS; when the items of a run hold more than MAX_ITEMS_CHARS of text only the items on which
the two models scored differently are kept. Every cut is counted in the document's `limits`.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.records import BASE, TUNED, CaseOutcome, MetricRecord, OutputRecord

MAX_TEXT_CHARS = 4_000  # one prompt, reference or answer
MAX_ITEMS_CHARS = 8_000_000  # all item texts of one run together


class Limits:
    """Counts what the evidence left out, for the `limits` note of the JSON report and the page."""

    def __init__(self) -> None:
        self.cut_texts = 0
        self.dropped_items = 0

    def text(self, value: Any) -> str:
        text = "" if value is None else str(value)
        if len(text) <= MAX_TEXT_CHARS:
            return text
        self.cut_texts += 1
        return text[:MAX_TEXT_CHARS] + f" [... {len(text) - MAX_TEXT_CHARS:,} more characters cut]"

    def as_dict(self) -> dict[str, Any]:
        notes = []
        if self.cut_texts:
            notes.append(f"{self.cut_texts} text(s) longer than {MAX_TEXT_CHARS:,} characters were cut")
        if self.dropped_items:
            notes.append(
                f"{self.dropped_items} item(s) scored alike on both models were left out "
                f"(the items' texts exceeded {MAX_ITEMS_CHARS:,} characters)"
            )
        return {"max_text_chars": MAX_TEXT_CHARS, "max_items_chars": MAX_ITEMS_CHARS, "notes": notes}


def metric_key(suite: str, metric: str) -> str:
    return f"{suite}::{metric}"


def metric_sources(records: Sequence[MetricRecord]) -> dict[str, dict[str, Any]]:
    """suite::metric -> the test, eval data, decoding and both models' names and fingerprints."""
    sources: dict[str, dict[str, Any]] = {}
    for record in records:
        source = sources.setdefault(
            metric_key(record.suite, record.result.name),
            {
                "test": record.test,
                "data_path": record.data_path,
                "data_fingerprint": record.data_fingerprint,
                "decoding": record.decoding,
                "models": {},
            },
        )
        source["models"][record.role] = {"name": record.model, "fingerprint": record.model_fingerprint}
    return sources


def _read_rows(path: Path) -> dict[str, Mapping[str, Any]] | None:
    """id -> row of an eval file, or None when it cannot be read now (moved, or not an eval file)."""
    from harness.data import FORMATS, Schema, load_eval_set

    if not path.is_file() or path.suffix.lower() not in FORMATS:
        return None
    try:
        eval_set = load_eval_set(path, Schema("any eval set", required={"id": str}))
    except HarnessError:
        return None
    return {str(row["id"]): row for row in eval_set}


def _answers(outputs: Iterable[OutputRecord]) -> dict[tuple[str, str], dict[str, str]]:
    """(suite, item id) -> role -> the answer a test kept with `record_metric(..., outputs=...)`."""
    answers: dict[tuple[str, str], dict[str, str]] = {}
    for output in outputs:
        answers.setdefault((output.suite, output.item_id), {})[output.role] = output.output
    return answers


def _differs(record_scores: Sequence[Mapping[str, Mapping[str, float]]], item_id: str) -> bool:
    """Whether some metric scored this item differently on base and tuned."""
    for scores in record_scores:
        base, tuned = scores.get(BASE, {}), scores.get(TUNED, {})
        if item_id in base and item_id in tuned and base[item_id] != tuned[item_id]:
            return True
    return False


def eval_items(
    records: Sequence[MetricRecord], outputs: Iterable[OutputRecord], rootdir: Path, limits: Limits
) -> dict[str, dict[str, dict[str, Any]]]:
    """data_path -> item id -> prompt, reference, choices, category and each role's answer, for every item
    some recorded metric scored (read from the eval file, which the data fingerprint ties to the run)."""
    answers = _answers(outputs)
    by_path: dict[str, list[MetricRecord]] = {}
    for record in records:
        if record.data_path and record.test != "cases":
            by_path.setdefault(record.data_path, []).append(record)
    items: dict[str, dict[str, dict[str, Any]]] = {}
    for data_path, path_records in sorted(by_path.items()):
        rows = _read_rows(rootdir / data_path) or {}
        scores: dict[tuple[str, str], dict[str, Mapping[str, float]]] = {}
        for record in path_records:
            scores.setdefault((record.suite, record.result.name), {})[record.role] = record.result.per_item
        suites = sorted({r.suite for r in path_records})
        ids = sorted({item for r in path_records for item in r.result.per_item})
        entries = {}
        for item_id in ids:
            row = rows.get(item_id, {})
            entry = {
                "prompt": limits.text(row.get("prompt", row.get("text", ""))),
                "reference": limits.text(row.get("reference", row.get("answer", ""))),
                "category": str(row.get("category") or ""),
                "choices": [limits.text(c) for c in row.get("choices", [])]
                if isinstance(row.get("choices"), list)
                else [],
                "answers": {},
            }
            for suite in suites:
                for role, text in answers.get((suite, item_id), {}).items():
                    entry["answers"][role] = limits.text(text)
            entries[item_id] = entry
        items[data_path] = entries
    _fit(items, records, limits)
    return items


def _size(entry: Mapping[str, Any]) -> int:
    return (
        len(entry["prompt"])
        + len(entry["reference"])
        + sum(map(len, entry["choices"]))
        + sum(map(len, entry["answers"].values()))
    )


def _fit(items: dict[str, dict[str, dict[str, Any]]], records: Sequence[MetricRecord], limits: Limits) -> None:
    """Past MAX_ITEMS_CHARS of text, keep only the items whose scores differ between the models."""
    if sum(_size(e) for entries in items.values() for e in entries.values()) <= MAX_ITEMS_CHARS:
        return
    scores: dict[str, list[dict[str, Mapping[str, float]]]] = {}
    grouped: dict[tuple[str, str, str], dict[str, Mapping[str, float]]] = {}
    for record in records:
        grouped.setdefault((record.data_path, record.suite, record.result.name), {})[record.role] = (
            record.result.per_item
        )
    for (data_path, _, _), by_role in grouped.items():
        scores.setdefault(data_path, []).append(by_role)
    for data_path, entries in items.items():
        for item_id in [i for i in entries if not _differs(scores.get(data_path, []), i)]:
            del entries[item_id]
            limits.dropped_items += 1


def case_evidence(outcomes: Sequence[CaseOutcome], rootdir: Path, limits: Limits) -> list[dict[str, Any]]:
    """Each case file: its cases with input, perturbed variants, and each role's outcome and failure."""
    from harness.cases.collect import load_cases

    by_group: dict[str, dict[str, dict[str, CaseOutcome]]] = {}
    for outcome in outcomes:
        by_group.setdefault(outcome.group, {}).setdefault(outcome.case_id, {})[outcome.role] = outcome
    files = []
    for group in sorted(by_group):
        try:
            specs = {case.id: case for case in load_cases(rootdir / group, rootdir)}
        except (HarnessError, OSError):
            specs = {}
        cases = []
        for case_id in sorted(by_group[group]):
            spec = specs.get(case_id)
            roles = by_group[group][case_id]
            any_outcome = next(iter(roles.values()))
            cases.append(
                {
                    "id": case_id,
                    "category": any_outcome.category,
                    "kind": spec.kind if spec else "",
                    "gate": spec.gate if spec else "",
                    "input": limits.text(spec.input if spec else ""),
                    "variants": [
                        {"name": v.name, "input": limits.text(v.input)} for v in (spec.variants if spec else ())
                    ],
                    "outcomes": {
                        role: {"passed": o.passed, "detail": limits.text(o.detail)} for role, o in sorted(roles.items())
                    },
                }
            )
        files.append({"group": group, "cases": cases})
    return files


def run_date() -> dt.datetime:
    """Now, or the time SOURCE_DATE_EPOCH names (the reproducible-builds convention), so that two runs on the
    same models and data can write byte-identical reports."""
    if epoch := os.environ.get("SOURCE_DATE_EPOCH", "").strip():
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        except (ValueError, OverflowError, OSError):
            raise HarnessError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a Unix time in seconds", hint="e.g. SOURCE_DATE_EPOCH=1767225600"
            ) from None
    return dt.datetime.now(dt.UTC)


def provenance(
    records: Sequence[MetricRecord], models: Mapping[str, str], command: Sequence[str], now: dt.datetime | None = None
) -> dict[str, Any]:
    """Models and fingerprints, eval data, decoding settings, environment, date and harness version."""
    from harness import __version__

    fingerprints: dict[str, set[str]] = {}
    for record in records:
        if record.model_fingerprint and record.test != "cases":
            fingerprints.setdefault(record.role, set()).add(record.model_fingerprint)
    environment: dict[str, Any] = {}
    for record in records:
        if record.role == TUNED and record.environment:
            environment = dict(record.environment)
            break
    data = sorted({(r.data_path, r.data_fingerprint) for r in records if r.data_path})
    return {
        "models": {
            role: {"name": models.get(role, ""), "fingerprints": sorted(fingerprints.get(role, ()))}
            for role in (BASE, TUNED)
        },
        "data": [{"path": path, "fingerprint": fingerprint} for path, fingerprint in data],
        "decoding": sorted({r.decoding for r in records if r.decoding}),
        "environment": {**environment, "python": sys.version.split()[0], "platform": platform.platform()},
        "date": (now or run_date()).isoformat(timespec="seconds"),
        "harness_version": __version__,
        "command": list(command),
    }
