"""The run's verdict as a terminal table, JSON and Markdown: one row per metric, tuned vs base and promoted.

Every run ends with one headline (PROMOTE / DO NOT PROMOTE / INCONCLUSIVE) and, under it, every reason the
run does not exit 0; the JSON report holds the same reasons and enough evidence (per-item scores, both
models' answers) to draw the HTML page again from it alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.environment import summary_line
from harness.gate import Verdict
from harness.metrics.result import MetricResult
from harness.noninferiority import INCONCLUSIVE, PASS, MarginTest
from harness.records import BASE, PROMOTED, result_to_dict
from harness.terminal import ReportLine

PROMOTE, DO_NOT_PROMOTE = "PROMOTE", "DO NOT PROMOTE"  # with INCONCLUSIVE, the verdicts of a whole run
REPORT_FORMAT = 2  # of the JSON report: 2 keeps per-item scores, reasons and the evidence the HTML page shows
MAX_PER_ITEM = 50_000  # per-item scores kept per result in the JSON report; more are left out, with a note
GATE_RULE_KEYS = ("floor", "floor_lower_bound", "ceiling", "max_drop_vs_base", "max_drop_vs_promoted")

HEADER = [
    "suite",
    "metric",
    "base",
    "promoted",
    "tuned",
    "delta vs base [CI] test",
    "delta vs promoted [CI] test",
    "verdict",
]


def _value(result: MetricResult | None, *, ci: bool = True) -> str:
    if result is None:
        return "-"
    return result.format(3) if ci else f"{result.value:.3f}"


def _signed(x: float) -> str:
    """+0.123 / -0.123, with a difference that rounds to nothing shown as +0.000, never -0.000."""
    return f"{x + 0.0 if round(x, 3) else 0.0:+.3f}"


def _short_method(method: str) -> str:
    """The procedure's name in a table cell: Tango, bootstrap-t or BCa bootstrap, over items or clusters."""
    if method.startswith("Tango"):
        return "Tango"
    kind = "bootstrap-t" if method.startswith("studentized") else "BCa bootstrap"
    return f"cluster {kind}" if "cluster" in method else kind


def _margin_cell(test: MarginTest, higher_is_better: bool) -> str:
    """delta [lo, hi] at 1 - 2 alpha, in the metric's own direction, with the test and its p-values."""
    sign = -1.0 if higher_is_better else 1.0
    delta, ends = sign * test.drop, sorted(sign * b for b in test.bounds)
    p = f"within p={test.p_pass:.2g}, beyond p={test.p_fail:.2g} (adj {test.p_fail_adjusted:.2g})"
    return f"{_signed(delta)} [{_signed(ends[0])}, {_signed(ends[1])}] {_short_method(test.method)}: {p}"


def _delta(
    comparison: Any,
    tuned: MetricResult | None,
    reference: MetricResult | None,
    *,
    ci: bool,
    test: MarginTest | None = None,
) -> str:
    if tuned is None or reference is None:
        return "-"
    if test is not None:
        return _margin_cell(test, tuned.higher_is_better)
    if comparison is None:
        return _signed(tuned.value - reference.value)
    p = "p<0.0001" if comparison.p_value < 1e-4 else f"p={comparison.p_value:.3g}"
    if not ci:
        return f"{_signed(comparison.delta)} ({comparison.test} {p})"
    lo, hi = comparison.ci
    return f"{_signed(comparison.delta)} [{_signed(lo)}, {_signed(hi)}] {comparison.test} {p}"


def verdict_label(verdict: Verdict) -> str:
    """FAIL / INCONCLUSIVE / PASS with the direction vs base; "reported" for a metric no rule gates, so a drop
    that nothing checks never reads as a pass."""
    if verdict.not_measured:
        return "FAIL (not measured)"
    if verdict.tuned is None:
        return "base only"
    status = verdict.status if verdict.rule.gates or verdict.status != PASS else "reported"
    return status + f" ({verdict.direction})" * (verdict.direction != "-")


def table_rows(verdicts: Sequence[Verdict], *, ci: bool = True) -> list[list[str]]:
    return [
        [
            v.suite,
            v.metric,
            _value(v.base, ci=ci) + (" (stored)" if v.base_from_store else ""),
            _value(v.promoted, ci=False),
            _value(v.tuned, ci=ci),
            _delta(v.vs_base, v.tuned, v.base, ci=ci, test=v.test_against(BASE)),
            _delta(v.vs_promoted, v.tuned, v.promoted, ci=False, test=v.test_against(PROMOTED)),
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


def note_lines(verdicts: Sequence[Verdict]) -> list[ReportLine]:
    """Gate failures, undecided drops, stale baselines, notes and environment changes, one line each."""
    lines = [ReportLine(f"FAIL {failure}", "error") for v in verdicts for failure in v.failures]
    lines += [ReportLine(f"INCONCLUSIVE {reason}", "warning") for v in verdicts for reason in v.inconclusive]
    lines += [ReportLine(f"stale: {s}", "warning") for v in verdicts for s in v.stale]
    lines += [ReportLine(f"note: {n}") for v in verdicts for n in v.notes]
    if environment := summary_line([change for v in verdicts for change in v.environment_changes]):
        lines.append(ReportLine(environment, "warning"))
    return lines


def notes(verdicts: Sequence[Verdict]) -> list[str]:
    """The text of `note_lines`, as the Markdown report lists it."""
    return [line.text for line in note_lines(verdicts)]


def case_lines(summaries: Sequence[Any]) -> list[ReportLine]:
    """Per case file: pass rate on base and tuned, and the cases that passed on base but fail on tuned."""
    if not summaries:
        return []

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    body = [
        [s.group, str(s.n), rate(s.base_pass_rate), rate(s.tuned_pass_rate), str(len(s.regressed)), str(len(s.fixed))]
        for s in summaries
    ]
    table = render_table(["case file", "cases", "base pass", "tuned pass", "regressed", "fixed"], body)
    lines = [ReportLine(line) for line in table]
    for s in summaries:
        if s.regressed:
            shown = ", ".join(s.regressed[:8]) + (
                f", ... ({len(s.regressed) - 8} more)" if len(s.regressed) > 8 else ""
            )
            lines.append(ReportLine(f"regressed in {s.group} (pass on base, fail on tuned): {shown}", "error"))
    return lines


def terminal_lines(verdicts: Sequence[Verdict]) -> list[ReportLine]:
    """The verdict table, then one line per failure, undecided drop, stale reference and note."""
    noted = note_lines(verdicts)
    table = [ReportLine(line) for line in render_table(HEADER, table_rows(verdicts))]
    return table + [ReportLine("")] * bool(noted) + noted


def markdown(verdicts: Sequence[Verdict], title: str = "Promotion gate", reasons: Sequence[Reason] = ()) -> str:
    """A Markdown summary ready to post on a pull request (with the run's reasons, when given, under it)."""
    failed = [v for v in verdicts if v.failures]
    undecided = [v for v in verdicts if v.inconclusive and not v.failures]
    if failed:
        status = f"**{len(failed)} metric(s) failed the gate**"
    elif undecided:
        status = f"**{len(undecided)} metric(s) inconclusive: the eval sets cannot tell**"
    else:
        status = "**All gated metrics passed**"
    lines = [f"## {title}", "", status, "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in table_rows(verdicts):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    if notes(verdicts):
        lines += [""] + [f"- {note}" for note in notes(verdicts)]
    if blocking := [r for r in reasons if r.kind in BLOCKING]:
        lines += ["", "Why the run does not exit 0:", ""] + [f"- {r.line()}" for r in blocking]
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


def _finite_or_none(value: float) -> float | None:
    """JSON has no infinity: a quantity no number of items reaches is null."""
    return value if math.isfinite(value) else None


def _margin_dict(test: MarginTest) -> dict[str, Any]:
    return {
        "reference": test.reference,
        "verdict": test.verdict,
        "drop": test.drop,
        "bounds": list(test.bounds),
        "confidence": 1 - 2 * test.alpha,
        "margin": test.margin,
        "alpha": test.alpha,
        "p_within_margin": test.p_pass,
        "p_beyond_margin": test.p_fail,
        "p_beyond_margin_adjusted": test.p_fail_adjusted,
        "method": test.method,
        "n": test.n,
        "items_needed": _finite_or_none(test.items_needed()),
        "minimum_detectable_drop": _finite_or_none(test.minimum_detectable_drop),
    }


def noise_floor_lines(verdicts: Sequence[Verdict]) -> list[ReportLine]:
    """For an A/A run (the base against itself): each metric's difference is the stack's own noise; a gated
    margin no larger than that noise cannot tell a fine-tune from a rerun, and is flagged."""
    measured = [v for v in verdicts if v.tuned is not None and v.base is not None]
    if not measured:
        return []
    parts, flagged = [], []
    for v in measured:
        assert v.tuned is not None and v.base is not None
        noise = abs(v.tuned.value - v.base.value)
        margins = [t.margin for t in v.margin_tests]
        parts.append(f"{v.metric} {noise:.3g}" + (f" (margin {min(margins):.3g})" if margins else ""))
        if margins and min(margins) <= noise:
            flagged.append(f"{v.metric}: margin {min(margins):.3g} <= noise {noise:.3g}")
    lines = [ReportLine("A/A noise floor, |tuned - base| with the base against itself: " + ", ".join(parts))]
    if flagged:
        text = "margins no larger than the noise (a rerun alone could cross them): " + "; ".join(flagged)
        lines.append(ReportLine(text, "warning"))
    return lines


def run_verdict(verdicts: Sequence[Verdict]) -> str:
    """PROMOTE, DO NOT PROMOTE (a gated metric failed) or INCONCLUSIVE (none failed, some cannot be told)."""
    if any(v.failures for v in verdicts):
        return DO_NOT_PROMOTE
    return INCONCLUSIVE if any(v.inconclusive for v in verdicts) else PROMOTE


@dataclass(frozen=True)
class Reason:
    """One reason a run does not promote: what kind, where (a test id, a suite and metric), and the message."""

    kind: str  # gated metric, inconclusive, test failed, test error, collection error, harness error, stale
    where: str
    message: str

    def line(self) -> str:
        return f"{self.kind}: {self.where}: {self.message}" if self.where else f"{self.kind}: {self.message}"


BLOCKING = ("harness error", "collection error", "test error", "test failed", "gated metric", "inconclusive")


def run_reasons(
    verdicts: Sequence[Verdict], problems: Sequence[Reason] = (), errors: Sequence[str] = ()
) -> list[Reason]:
    """Every reason for a non-zero exit, in a fixed order: harness errors, collection errors, failed tests
    (must-pass cases, floors), failed gated metrics, inconclusive ones; then stale references, which leave a
    gated comparison unmade (they explain a verdict, they do not block it)."""
    order = {kind: rank for rank, kind in enumerate(BLOCKING)}
    reasons = [Reason("harness error", "", e) for e in errors]
    reasons += sorted(problems, key=lambda r: (order.get(r.kind, len(order)), r.where))
    reasons += [Reason("gated metric", f"{v.suite}::{v.metric}", f) for v in verdicts for f in v.failures]
    reasons += [Reason("inconclusive", f"{v.suite}::{v.metric}", i) for v in verdicts for i in v.inconclusive]
    reasons += [Reason("stale", f"{v.suite}::{v.metric}", s) for v in verdicts for s in v.stale]
    return list(dict.fromkeys(reasons))


def reason_lines(reasons: Sequence[Reason], limit: int = 40) -> list[str]:
    """The lines under the headline: one per reason, the first `limit` of them, then how many more."""
    lines = [f"  - {r.line()}" for r in reasons[:limit]]
    if len(reasons) > limit:
        lines.append(f"  ... and {len(reasons) - limit} more (all of them are in the --harness-json report)")
    return lines


def _brief(result: MetricResult | None, capped: list[str]) -> dict[str, Any] | None:
    """A result as JSON with its per-item scores (the first MAX_PER_ITEM of them, noted when cut)."""
    if result is None:
        return None
    data = result_to_dict(result)
    if len(data["per_item"]) > MAX_PER_ITEM:
        kept = sorted(data["per_item"])[:MAX_PER_ITEM]
        data["per_item"] = {k: data["per_item"][k] for k in kept}
        capped.append(f"{result.name}: {len(result.per_item):,} per-item scores, the first {MAX_PER_ITEM:,} kept")
    return data


def _rule_dict(verdict: Verdict) -> dict[str, Any]:
    rule = verdict.rule
    values = {key: getattr(rule, key) for key in GATE_RULE_KEYS if getattr(rule, key) is not None}
    return {key: value if isinstance(value, float) else str(value) for key, value in values.items()}


def as_json(verdicts: Sequence[Verdict], evidence: Mapping[str, Any] | None = None) -> str:
    """The verdicts as JSON: each result with its per-item scores, the run's reasons, and any `evidence` the
    run adds (items with both models' answers, case files, provenance) for the HTML page."""
    evidence = dict(evidence or {})
    capped: list[str] = []

    def brief(result: MetricResult | None) -> dict[str, Any] | None:
        return _brief(result, capped)

    sources = evidence.pop("sources", {})
    reasons = evidence.pop("reasons", None)
    verdict = evidence.pop("verdict", None) or run_verdict(verdicts)
    document = {
        "report_format": REPORT_FORMAT,
        "verdict": verdict,
        "reasons": reasons if reasons is not None else [asdict(r) for r in run_reasons(verdicts)],
        "passed": all(v.passed for v in verdicts),
        "metrics": [
            {
                "gated": v.rule.gates,
                "rule": _rule_dict(v),
                "source": sources.get(f"{v.suite}::{v.metric}", {}),
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
                "status": v.status if v.tuned is not None or v.not_measured else "base only",
                "margin_tests": [_margin_dict(t) for t in v.margin_tests],
                "inconclusive": v.inconclusive,
                "failures": v.failures,
                "stale": v.stale,
                "not_measured": v.not_measured,
                "notes": v.notes,
                "environment_changes": v.environment_changes,
            }
            for v in verdicts
        ],
        **evidence,
    }
    limits = dict(document.get("limits", {}))
    if capped:
        limits["per_item"] = capped
    document["limits"] = limits
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_reports(
    verdicts: Sequence[Verdict],
    json_path: Path | None,
    markdown_path: Path | None,
    evidence: Mapping[str, Any] | None = None,
    reasons: Sequence[Reason] = (),
) -> None:
    if json_path is not None:
        atomic_write_text(json_path, as_json(verdicts, evidence))
    if markdown_path is not None:
        atomic_write_text(markdown_path, markdown(verdicts, reasons=reasons))
