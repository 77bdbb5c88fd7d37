"""End of a run, on the controller: gate verdicts, reports, and the baseline writes the user asked for."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.baselines import BaselineEntry, BaselineStore
from harness.config import gate_rules
from harness.errors import HarnessError
from harness.gate import add_unmeasured, check_gate_tables, evaluate
from harness.records import BASE, TUNED, CaseOutcome, MetricRecord
from harness.report import write_reports
from harness.session import HarnessSession


def case_pass_rates(outcomes: Sequence[CaseOutcome], rootdir: Path, base_fingerprint: str) -> list[MetricRecord]:
    """Each case file's pass rate per role, as metric records that the gate treats like any other.

    The case file's own digest is its data fingerprint, so a stored pass rate of an edited file is stale.
    """
    if not outcomes:
        return []
    from harness.metrics import pass_rate

    grouped: dict[tuple[str, str], dict[str, float]] = {}
    for outcome in outcomes:
        grouped.setdefault((outcome.group, outcome.role), {})[outcome.case_id] = 1.0 if outcome.passed else 0.0
    records = []
    for (group, role), scores in sorted(grouped.items()):
        ids = sorted(scores)
        result = pass_rate([scores[i] for i in ids], ids, name="pass_rate")
        path = rootdir / group
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        records.append(
            MetricRecord(
                suite=group,
                test="cases",
                role=role,
                result=result,
                base_fingerprint=base_fingerprint,
                data_fingerprint=digest,
                data_path=group,
                rules={"max_drop_vs_base": 0.0, "alpha": 0.05},
            )
        )
    return records


def _entries(records: Sequence[MetricRecord], suite: str, role: str, today: str) -> dict[str, BaselineEntry]:
    return {
        r.result.name: BaselineEntry.from_record(r, base_fingerprint=r.base_fingerprint, date=today)
        for r in records
        if r.suite == suite and r.role == role
    }


def write_outputs(harness: HarnessSession, path: Path) -> Path:
    """The run's answers as JSONL, sorted, written atomically (the input of `harness review sample`)."""
    lines = [
        json.dumps(harness.outputs[key].to_dict(), sort_keys=True, ensure_ascii=False)
        for key in sorted(harness.outputs)
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def finish_run(harness: HarnessSession, *, session_failed: bool, flags: Mapping[str, Any]) -> bool:
    """Evaluate the gate over everything recorded; write reports and baselines. True when the gate failed."""
    config = harness.config
    if harness.outputs:
        path = write_outputs(harness, config.harness_cache_dir / "runs" / "last" / "outputs.jsonl")
        harness.messages.append(f"{len(harness.outputs)} answers kept for review in {path}")
    cases = case_pass_rates(harness.case_outcomes, config.rootdir, _base_fingerprint(harness))
    records = harness.sorted_records() + cases
    if not records and not harness.unmeasured:
        return False
    store = BaselineStore(config.baselines_directory)
    suites = sorted({r.suite for r in records} | {u.suite for u in harness.unmeasured})
    stored = {suite: store.load(suite) for suite in suites}
    rules = gate_rules(config.rootdir)
    known = {r.result.name for r in records} | store.metric_names()
    check_gate_tables(rules, known, str(config.rootdir / "pyproject.toml"))
    verdicts = evaluate(records, stored, rules)
    harness.verdicts = add_unmeasured(verdicts, harness.unmeasured, stored, records)
    gate_failed = any(not v.passed for v in harness.verdicts)
    write_reports(harness.verdicts, _path(flags.get("json")), _path(flags.get("markdown")))
    today = dt.date.today().isoformat()
    updates: dict[tuple[str, str], dict[str, BaselineEntry]] = {}
    if flags.get("update_baselines"):
        updates |= {(suite, BASE): e for suite in suites if (e := _entries(records, suite, BASE, today))}
    if flags.get("promote"):
        if (gate_failed or session_failed) and not flags.get("force"):
            harness.messages.append(
                "not promoted: the run failed, so the promoted baselines were left as they were "
                "(fix the failures, or pass --force to promote anyway)"
            )
        else:
            updates |= {(suite, "promoted"): e for suite in suites if (e := _entries(records, suite, TUNED, today))}
    if updates:
        store.write_many(updates)  # every baseline file of the run changes together, or none does
        for (suite, kind), entries in updates.items():
            path = store.path_for(suite)
            harness.messages.append(
                f"updated the base baseline of {len(entries)} metric(s) in {path}"
                if kind == BASE
                else f"promoted: {len(entries)} metric(s) of the tuned model stored in {path}"
            )
    return gate_failed


def _base_fingerprint(harness: HarnessSession) -> str:
    """The base model's fingerprint for case-file records ("" when it cannot be read: then never stale)."""
    if not harness.case_outcomes:
        return ""
    try:
        return harness.base_fingerprint()
    except HarnessError:
        return ""


def _path(value: Any) -> Path | None:
    return Path(value) if value else None
