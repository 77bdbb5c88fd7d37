"""The end-of-run comparison of tuned against base: one row per metric, with paired statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.metrics.result import MetricResult
from harness.records import BASE, TUNED, MetricRecord

ALPHA = 0.05


@dataclass(frozen=True)
class ComparisonRow:
    """One metric of one suite: the base and tuned results and how they differ."""

    suite: str
    metric: str
    base: MetricResult | None
    tuned: MetricResult | None
    comparison: object | None  # harness.stats.PairedComparison

    @property
    def verdict(self) -> str:
        """better / worse / same (not significant at ALPHA) / '-' when a side is missing."""
        if self.base is None or self.tuned is None:
            return "-"
        if self.comparison is None:
            return "n/a"
        delta = self.comparison.delta
        if self.comparison.p_value >= ALPHA or delta == 0:
            return "same"
        improved = delta > 0 if self.tuned.higher_is_better else delta < 0
        return "better" if improved else "worse"


def _compare(tuned: MetricResult, base: MetricResult) -> object | None:
    from harness.errors import HarnessError
    from harness.stats import paired_comparison

    if set(tuned.per_item) != set(base.per_item) or not tuned.per_item:
        return None
    try:
        return paired_comparison(tuned, base)
    except HarnessError:
        return None


def comparison_rows(records: Sequence[MetricRecord]) -> list[ComparisonRow]:
    """Pair each metric's base and tuned records (the last record of each wins) into table rows."""
    by_key: dict[tuple[str, str], dict[str, MetricResult]] = {}
    for record in records:
        by_key.setdefault((record.suite, record.result.name), {})[record.role] = record.result
    rows = []
    for (suite, metric), sides in sorted(by_key.items()):
        base, tuned = sides.get(BASE), sides.get(TUNED)
        comparison = _compare(tuned, base) if base is not None and tuned is not None else None
        rows.append(ComparisonRow(suite, metric, base, tuned, comparison))
    return rows


def _fmt(result: MetricResult | None) -> str:
    return "-" if result is None else result.format(3)


def _fmt_delta(row: ComparisonRow) -> str:
    c = row.comparison
    if c is None:
        if row.base is not None and row.tuned is not None:
            return f"{row.tuned.value - row.base.value:+.3f}"
        return "-"
    lo, hi = c.ci
    return f"{c.delta:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _fmt_p(row: ComparisonRow) -> str:
    c = row.comparison
    if c is None:
        return "-"
    return "<0.0001" if c.p_value < 1e-4 else f"{c.p_value:.4f}"


def render_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Plain aligned columns (no box drawing, so logs and CI output stay readable)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *body, strict=True)]
    lines = ["  ".join(str(cell).ljust(w) for cell, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in body]
    return lines


def comparison_lines(records: Sequence[MetricRecord]) -> list[str]:
    """The terminal table: suite | metric | base | tuned | delta (paired CI) | p | verdict."""
    rows = comparison_rows(records)
    body = [
        [row.suite, row.metric, _fmt(row.base), _fmt(row.tuned), _fmt_delta(row), _fmt_p(row), row.verdict]
        for row in rows
    ]
    header = ["suite", "metric", "base [95% CI]", "tuned [95% CI]", "delta vs base [CI]", "p", "verdict"]
    return render_table(header, body)
