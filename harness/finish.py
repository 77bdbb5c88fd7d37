"""End of a run, on the controller: gate verdicts, reports, and the baseline writes the user asked for."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.baselines import BaselineEntry, BaselineStore
from harness.config import SAME_AS_BASE, RunFlags
from harness.errors import HarnessError
from harness.gate import add_unmeasured, check_gate_tables, evaluate
from harness.noninferiority import INCONCLUSIVE
from harness.records import BASE, PROMOTED, TUNED, CaseOutcome, MetricRecord
from harness.report import (
    DO_NOT_PROMOTE,
    PROMOTE,
    Reason,
    as_json,
    noise_floor_lines,
    run_reasons,
    run_verdict,
    write_reports,
)
from harness.session import HarnessSession


def case_pass_rates(outcomes: Sequence[CaseOutcome], rootdir: Path, base_fingerprint: str) -> list[MetricRecord]:
    """Each case file's pass rate per role, as metric records that the gate treats like any other.

    The rule comes from the file's `pass_rate` (by default a drop of at most 10 points against the
    promoted model); the case file's own digest is its data fingerprint, so a stored pass rate of an
    edited file is stale.
    """
    if not outcomes:
        return []
    from harness.cases.collect import case_file_rules
    from harness.metrics import pass_rate

    grouped: dict[tuple[str, str], dict[str, float]] = {}
    for outcome in outcomes:
        grouped.setdefault((outcome.group, outcome.role), {})[outcome.case_id] = 1.0 if outcome.passed else 0.0
    files = {group for group, _ in grouped}
    rules = {group: case_file_rules(rootdir / group, rootdir) for group in files}
    digests = {group: _digest(rootdir / group) for group in files}
    records = []
    for (group, role), scores in sorted(grouped.items()):
        ids = sorted(scores)
        result = pass_rate([scores[i] for i in ids], ids, name="pass_rate")
        records.append(
            MetricRecord(
                suite=group,
                test="cases",
                role=role,
                result=result,
                base_fingerprint=base_fingerprint,
                data_fingerprint=digests[group],
                data_path=group,
                rules=dict(rules[group]),
            )
        )
    return records


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


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


def finish_run(harness: HarnessSession, *, session_failed: bool, flags: RunFlags) -> str:
    """Evaluate the gate over everything recorded; write reports and baselines; return the run's verdict.

    PROMOTE, DO NOT PROMOTE (a gated metric or a test failed) or INCONCLUSIVE (nothing failed, but some
    gated drop cannot be told from the margin on these eval sets).
    """
    config = harness.config
    if harness.outputs:
        path = write_outputs(harness, config.harness_cache_dir / "runs" / "last" / "outputs.jsonl")
        harness.note(f"{len(harness.outputs)} answers kept for review in {path}")
    cases = case_pass_rates(harness.case_outcomes, config.rootdir, _base_fingerprint(harness))
    records = harness.sorted_records() + cases
    if not records and not harness.unmeasured:
        return DO_NOT_PROMOTE if session_failed else PROMOTE
    store = BaselineStore(config.baselines_directory)
    suites = sorted({r.suite for r in records} | {u.suite for u in harness.unmeasured})
    stored = {suite: store.load(suite) for suite in suites}
    known = {r.result.name for r in records} | store.metric_names()
    check_gate_tables(config.gate, known, str(config.rootdir / "pyproject.toml"))
    a_a = config.tuned_model == SAME_AS_BASE  # an A/A run measures noise: no promoted model, no floors
    if a_a:
        stored = {suite: {**refs, PROMOTED: {}} for suite, refs in stored.items()}
    verdicts = evaluate(records, stored, config.gate, correction=config.multiplicity, bounds=not a_a, seed=config.seed)
    harness.verdicts = add_unmeasured(verdicts, harness.unmeasured, stored, records)
    if a_a:
        harness.messages += noise_floor_lines(harness.verdicts)
    verdict = DO_NOT_PROMOTE if session_failed else run_verdict(harness.verdicts)
    blocked = verdict == DO_NOT_PROMOTE or (verdict == INCONCLUSIVE and not flags.allow_inconclusive)
    reasons = run_reasons(harness.verdicts, harness.session_problems(session_failed))
    evidence = run_evidence(harness, records, verdict, reasons, flags) if flags.json or flags.html else None
    write_reports(harness.verdicts, flags.json, flags.markdown, evidence, reasons)
    if flags.html is not None:
        from harness.html_report.page import write_report_pages

        document = json.loads(as_json(harness.verdicts, evidence))
        report, *history = write_report_pages(document, flags.html, config.rootdir, config.baselines_directory)
        harness.note(f"HTML report written to {report}")
        for path in history:
            harness.note(f"history of the promoted baselines written to {path}")
    today = dt.date.today().isoformat()
    updates: dict[tuple[str, str], dict[str, BaselineEntry]] = {}
    if flags.update_baselines:
        updates |= {(suite, BASE): e for suite in suites if (e := _entries(records, suite, BASE, today))}
    if flags.promote:
        if blocked and not flags.force:
            harness.note(
                f"not promoted: the run's verdict is {verdict}, so the promoted baselines were left as they were "
                "(fix the failures, grow the eval sets, or pass --force to promote anyway)",
                "error",
            )
        else:
            updates |= {(suite, PROMOTED): e for suite in suites if (e := _entries(records, suite, TUNED, today))}
    if updates:
        store.write_many(updates)  # every baseline file of the run changes together, or none does
        for (suite, kind), entries in updates.items():
            path = store.path_for(suite)
            harness.note(
                f"updated the base baseline of {len(entries)} metric(s) in {path}"
                if kind == BASE
                else f"promoted: {len(entries)} metric(s) of the tuned model stored in {path}"
            )
    return verdict


def run_evidence(
    harness: HarnessSession,
    records: Sequence[MetricRecord],
    verdict: str,
    reasons: Sequence[Reason],
    flags: RunFlags,
) -> dict[str, Any]:
    """What the JSON report keeps besides the verdicts, so that the HTML page can be drawn from it alone."""
    from harness.html_report.evidence import Limits, case_evidence, eval_items, metric_sources, provenance

    config = harness.config
    limits = Limits()
    models = {BASE: config.base_model, TUNED: config.tuned_model}
    evidence = {
        "verdict": verdict,
        "reasons": [asdict(r) for r in reasons],
        "sources": metric_sources(records),
        "items": eval_items(records, harness.outputs.values(), config.rootdir, limits),
        "cases": case_evidence(harness.case_outcomes, config.rootdir, limits),
        "provenance": provenance(records, models, flags.command),
        "messages": [line.text for line in harness.messages],
    }
    evidence["limits"] = limits.as_dict()
    return evidence


def _base_fingerprint(harness: HarnessSession) -> str:
    """The base model's fingerprint for case-file records ("" when it cannot be read: then never stale)."""
    if not harness.case_outcomes:
        return ""
    try:
        return harness.base_fingerprint()
    except HarnessError:
        return ""
