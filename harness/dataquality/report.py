"""Lint reports: a readable terminal listing grouped by rule, and a JSON document for CI (written atomically)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.dataquality.findings import ERROR, NOTE, SEVERITIES, WARNING, LintReport

SHOWN_PER_RULE = 12


def as_dict(report: LintReport) -> dict[str, Any]:
    """The report as plain data: summary, per-rule counts, timings and every finding."""
    return {
        "version": 1,
        "passed": report.passed,
        "spec": report.spec_path,
        "data": report.data_paths,
        "eval_sets": report.eval_sets,
        "contamination": report.contamination,
        "records": report.n_records,
        "summary": {s + "s": report.count(s) for s in SEVERITIES},
        "rules": report.rule_counts(),
        "timings_s": report.timings,
        "findings": [f.to_dict() for f in report.findings],
    }


def write_json(report: LintReport, path: Path) -> None:
    """Write the JSON report atomically, so CI never reads half a file."""
    atomic_write_text(Path(path), json.dumps(as_dict(report), indent=2, ensure_ascii=False) + "\n")


def terminal_lines(report: LintReport, shown_per_rule: int = SHOWN_PER_RULE) -> list[str]:
    """Findings grouped by rule (errors first), each with where, what and the fix; then a one-line verdict."""
    checked = report.contamination
    lines = [
        f"data lint: {', '.join(report.data_paths)} against {report.spec_path} ({report.n_records} records)",
        f"contamination: {checked.get('eval_items', 0)} eval items in {len(report.eval_sets)} file(s) checked "
        f"for shared {checked.get('ngram', '?')}-grams"
        + (
            f" ({checked['boilerplate_ngrams']} boilerplate n-grams set aside)"
            if checked.get("boilerplate_ngrams")
            else ""
        ),
    ]
    groups: dict[tuple[str, str], list[Any]] = {}
    for finding in report.findings:
        groups.setdefault((finding.severity, finding.rule), []).append(finding)
    for (severity, rule), found in groups.items():
        lines.append("")
        lines.append(f"{severity.upper()} {rule} ({len(found)})")
        for finding in found[:shown_per_rule]:
            lines.append(f"  {finding.where}: {finding.message}")
            lines.append(f"      fix: {finding.fix}")
        if len(found) > shown_per_rule:
            lines.append(f"  ... and {len(found) - shown_per_rule} more (see --json)")
    lines.append("")
    counts = f"{report.count(ERROR)} error(s), {report.count(WARNING)} warning(s), {report.count(NOTE)} note(s)"
    timing = f"{report.timings.get('total', 0.0):.2f}s"
    lines.append(f"{'PASSED' if report.passed else 'FAILED'}: {counts} in {timing}")
    return lines
