"""The forest plot: one row per gated metric, the change vs base (and vs promoted) with its interval, the
allowed margin as a dashed line, coloured by the metric's verdict.

Metrics have their own units (accuracy, perplexity, tokens), so each row has its own x axis, always oriented
so that right is better: a row's change is `tuned - reference` for a higher-is-better metric and
`reference - tuned` otherwise. The interval is the one the gate decided on (the non-inferiority test's
1 - 2 alpha interval) when the rule tested that reference, else the paired comparison's 95% interval.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.records import REFERENCES

COLOURS = {"PASS": "#1a7f37", "FAIL": "#cf222e", "INCONCLUSIVE": "#9a6700"}
OTHER_COLOUR = "#6e7781"
ROW_INCHES = 0.62


@dataclass(frozen=True)
class Estimate:
    """A change vs one reference, right = better: point, interval, and the allowed margin (or None)."""

    reference: str
    change: float
    low: float
    high: float
    margin: float | None
    interval: str  # which interval: "90% non-inferiority" or "95% paired"


@dataclass(frozen=True)
class ForestRow:
    suite: str
    metric: str
    status: str
    estimates: tuple[Estimate, ...]

    @property
    def colour(self) -> str:
        return COLOURS.get(self.status, OTHER_COLOUR)


def _estimate(metric: Mapping[str, Any], reference: str) -> Estimate | None:
    test = next((t for t in metric.get("margin_tests", []) if t["reference"] == reference), None)
    if test is not None:
        low, high = sorted(-b for b in test["bounds"])
        return Estimate(
            reference, -test["drop"], low, high, test["margin"], f"{test['confidence']:.0%} non-inferiority"
        )
    comparison = metric.get(f"vs_{reference}")
    tuned = metric.get("tuned") or {}
    if comparison is None:
        return None
    sign = 1.0 if tuned.get("higher_is_better", True) else -1.0
    low, high = sorted(sign * c for c in comparison["ci"])
    return Estimate(reference, sign * comparison["delta"], low, high, None, "95% paired")


def forest_rows(document: Mapping[str, Any]) -> list[ForestRow]:
    """One row per gated metric of the run, in the report's order."""
    rows = []
    for metric in document.get("metrics", []):
        if not metric.get("gated") and not metric.get("failures"):
            continue
        estimates = tuple(e for ref in REFERENCES if (e := _estimate(metric, ref)) is not None)
        rows.append(ForestRow(metric["suite"], metric["metric"], metric.get("status", ""), estimates))
    return rows


def _plain(text: str) -> str:
    """Text matplotlib draws as typed: a `$` would start mathtext."""
    return text.replace("$", r"\$")


def forest_svg(rows: Sequence[ForestRow]) -> str:
    """The plot as SVG text (text kept as text; each row a group with id forest-row-N)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "forest", "font.size": 9}):
        figure, axes = plt.subplots(
            max(1, len(rows)), 1, figsize=(9.5, 0.6 + ROW_INCHES * max(1, len(rows))), squeeze=False
        )
        for index, (row, ax) in enumerate(zip(rows, axes[:, 0], strict=False)):
            _draw_row(ax, row)
            ax.set_gid(f"forest-row-{index}")
        if not rows:
            axes[0, 0].text(0.5, 0.5, "no gated metric in this run", ha="center", va="center")
            axes[0, 0].set_axis_off()
        figure.subplots_adjust(
            left=0.36,
            right=0.86,
            top=1 - 0.35 / figure.get_figheight(),
            bottom=0.45 / figure.get_figheight(),
            hspace=0.9,
        )
        figure.text(0.5, 0.01, "change in the metric's units, right = better;  circle: vs base, square: vs promoted;  "
                    "dashed: the allowed drop", fontsize=8, color="#444", ha="center")  # fmt: skip
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(figure)
    return buffer.getvalue()


def _draw_row(ax: Any, row: ForestRow) -> None:
    colour = row.colour
    ax.axvline(0.0, color="#999", lw=0.8)
    ends = [0.0]
    for position, estimate in enumerate(row.estimates):
        y = 0.25 - 0.5 * position
        marker = "o" if estimate.reference == "base" else "s"
        ax.errorbar(
            [estimate.change],
            [y],
            xerr=[[estimate.change - estimate.low], [estimate.high - estimate.change]],
            fmt=marker,
            color=colour,
            ecolor=colour,
            capsize=3,
            ms=5,
            lw=1.6,
        )
        ends += [estimate.low, estimate.high]
        if estimate.margin is not None:
            ax.plot([-estimate.margin] * 2, [y - 0.22, y + 0.22], ls="--", color=colour, lw=1.2)
            ends.append(-estimate.margin)
    span = (max(ends) - min(ends)) or 1.0
    ax.set_xlim(min(ends) - 0.08 * span, max(ends) + 0.08 * span)
    ax.set_ylim(-0.6, 0.6)
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="x", labelsize=7, length=2, pad=1)
    label = f"{_plain(row.metric)}\n{_plain(row.suite)}"
    ax.text(-0.02, 0.5, label, transform=ax.transAxes, ha="right", va="center", fontsize=8)
    ax.text(1.02, 0.5, row.status or "-", transform=ax.transAxes, ha="left", va="center", color=colour,
            fontsize=8.5, fontweight="bold")  # fmt: skip
