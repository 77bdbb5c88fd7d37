"""The run's verdict as a terminal table, JSON and Markdown: one row per metric, tuned vs base and promoted."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.environment import summary_line
from harness.gate import Verdict
from harness.metrics.result import MetricResult
from harness.records import result_to_dict

HEADER = ["suite", "metric", "base", "promoted", "tuned", "delta vs base [95% CI]", "delta vs promoted", "verdict"]


def _value(result: MetricResult | None, *, ci: bool = True) -> str:
    if result is None:
        return "-"
    return result.format(3) if ci else f"{result.value:.3f}"


def _signed(x: float) -> str:
    """+0.123 / -0.123, with a difference that rounds to nothing shown as +0.000, never -0.000."""
    return f"{x + 0.0 if round(x, 3) else 0.0:+.3f}"


def _delta(comparison: Any, tuned: MetricResult | None, reference: MetricResult | None, *, ci: bool) -> str:
    if tuned is None or reference is None:
        return "-"
    if comparison is None:
        return _signed(tuned.value - reference.value)
    p = "p<0.0001" if comparison.p_value < 1e-4 else f"p={comparison.p_value:.3g}"
    if not ci:
        return f"{_signed(comparison.delta)} ({p})"
    lo, hi = comparison.ci
    return f"{_signed(comparison.delta)} [{_signed(lo)}, {_signed(hi)}] {p}"


def verdict_label(verdict: Verdict) -> str:
    if verdict.not_measured:
        return "FAIL (not measured)"
    if verdict.tuned is None:
        return "base only"
    return ("FAIL" if verdict.failures else "ok") + f" ({verdict.direction})" * (verdict.direction != "-")


def table_rows(verdicts: Sequence[Verdict], *, ci: bool = True) -> list[list[str]]:
    return [
        [
            v.suite,
            v.metric,
            _value(v.base, ci=ci) + (" (stored)" if v.base_from_store else ""),
            _value(v.promoted, ci=False),
            _value(v.tuned, ci=ci),
            _delta(v.vs_base, v.tuned, v.base, ci=ci),
            _delta(v.vs_promoted, v.tuned, v.promoted, ci=False),
            verdict_label(v),
        ]
        for v in verdicts
    ]


def render_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Plain aligned columns (no box drawing, so CI logs stay readable)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in body)]


def notes(verdicts: Sequence[Verdict]) -> list[str]:
    """Gate failures and stale baselines, one line each."""
    lines = [f"FAIL {failure}" for v in verdicts for failure in v.failures]
    lines += [f"stale: {s}" for v in verdicts for s in v.stale]
    lines += [f"note: {n}" for v in verdicts for n in v.notes]
    if environment := summary_line([change for v in verdicts for change in v.environment_changes]):
        lines.append(environment)
    return lines


def case_lines(summaries: Sequence[Any]) -> list[str]:
    """Per case file: pass rate on base and tuned, and the cases that passed on base but fail on tuned."""
    if not summaries:
        return []

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    body = [
        [s.group, str(s.n), rate(s.base_pass_rate), rate(s.tuned_pass_rate), str(len(s.regressed)), str(len(s.fixed))]
        for s in summaries
    ]
    lines = render_table(["case file", "cases", "base pass", "tuned pass", "regressed", "fixed"], body)
    for s in summaries:
        if s.regressed:
            shown = ", ".join(s.regressed[:8]) + (
                f", ... ({len(s.regressed) - 8} more)" if len(s.regressed) > 8 else ""
            )
            lines.append(f"regressed in {s.group} (pass on base, fail on tuned): {shown}")
    return lines


def terminal_lines(verdicts: Sequence[Verdict]) -> list[str]:
    return render_table(HEADER, table_rows(verdicts)) + [""] * bool(notes(verdicts)) + notes(verdicts)


def markdown(verdicts: Sequence[Verdict], title: str = "Promotion gate") -> str:
    """A Markdown summary ready to post on a pull request."""
    failed = [v for v in verdicts if v.failures]
    status = f"**{len(failed)} metric(s) failed the gate**" if failed else "**All gated metrics passed**"
    lines = [f"## {title}", "", status, "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in table_rows(verdicts):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    if notes(verdicts):
        lines += [""] + [f"- {note}" for note in notes(verdicts)]
    return "\n".join(lines) + "\n"


def _comparison_dict(comparison: Any) -> dict[str, Any] | None:
    if comparison is None:
        return None
    return {
        "delta": comparison.delta,
        "ci": list(comparison.ci),
        "p_value": comparison.p_value,
        "test": comparison.test,
    }


def as_json(verdicts: Sequence[Verdict]) -> str:
    """The same verdicts as JSON (per-item scores left out; they live in the baselines)."""

    def brief(result: MetricResult | None) -> dict[str, Any] | None:
        if result is None:
            return None
        data = result_to_dict(result)
        data.pop("per_item")
        return data

    document = {
        "passed": all(v.passed for v in verdicts),
        "metrics": [
            {
                "suite": v.suite,
                "metric": v.metric,
                "base": brief(v.base),
                "base_from_store": v.base_from_store,
                "promoted": brief(v.promoted),
                "tuned": brief(v.tuned),
                "vs_base": _comparison_dict(v.vs_base),
                "vs_promoted": _comparison_dict(v.vs_promoted),
                "direction": v.direction,
                "passed": v.passed,
                "failures": v.failures,
                "stale": v.stale,
                "not_measured": v.not_measured,
                "notes": v.notes,
                "environment_changes": v.environment_changes,
            }
            for v in verdicts
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_reports(verdicts: Sequence[Verdict], json_path: Path | None, markdown_path: Path | None) -> None:
    if json_path is not None:
        atomic_write_text(json_path, as_json(verdicts))
    if markdown_path is not None:
        atomic_write_text(markdown_path, markdown(verdicts))
