"""Assertions for suites: a metric against a threshold, and a tuned model against its base on the same items."""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable

from harness.errors import HarnessError
from harness.metrics.result import MetricResult
from harness.stats import PairedComparison, paired_comparison

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_SHOWN_IDS = 3


class UnderpoweredComparisonWarning(UserWarning):
    """A comparison was let through (allow_inconclusive) although its items were too few to tell."""


def _num(value: float) -> str:
    return f"{value:.3g}"


def _describe(result: MetricResult) -> str:
    lo, hi = result.ci
    unit = f" {result.unit}" if result.unit else ""
    return f"{_num(result.value)}{unit} [{_num(lo)}, {_num(hi)}]"


def _points(result: MetricResult, amount: float) -> str:
    """A size in the metric's units; fractions (0-1 scores) also in points, as people say them."""
    if not result.unit and 0 <= result.value <= 1 and all(0 <= v <= 1 for v in result.per_item.values()):
        return f"{amount * 100:.3g} points ({_num(amount)})"
    return f"{_num(amount)}{' ' + result.unit if result.unit else ''}"


def assert_metric(result: MetricResult, op: str, threshold: float) -> MetricResult:
    """Fail the test unless `result.value <op> threshold` (op: >=, >, <=, <, ==); returns the result."""
    __tracebackhide__ = True
    if op not in _OPERATORS:
        raise HarnessError(f"assert_metric: unknown comparison {op!r}", hint=f"use one of {', '.join(_OPERATORS)}")
    if not _OPERATORS[op](result.value, threshold):
        raise AssertionError(f"{result.name} = {_describe(result)} is not {op} {_num(threshold)} (n={result.n} items)")
    return result


def _flips(comparison: PairedComparison, binary: bool) -> str:
    worse = comparison.worse_ids
    if not worse:
        return "no item got worse"
    what = "right->wrong" if binary else "worse"
    order = "first" if binary else "largest drops first"
    shown = ", ".join(worse[:_SHOWN_IDS]) + (", ..." if len(worse) > _SHOWN_IDS else "")
    return f"{len(worse)} items {what} ({order}: {shown})"


def assert_no_regression(
    candidate: MetricResult,
    reference: MetricResult,
    *,
    max_drop: float = 0.0,
    alpha: float | None = 0.05,
    candidate_label: str = "tuned",
    reference_label: str = "base",
    allow_inconclusive: bool = False,
    seed: int = 0,
    n_resamples: int = 10_000,
) -> PairedComparison:
    """The gate's verdict as an assertion: the candidate may be worse than the reference by at most `max_drop`.

    Decided as the gate decides (harness.noninferiority): it passes when the one-sided (1 - alpha) upper
    bound of the drop is below `max_drop`, fails as "regressed" when the lower bound is above it, and
    otherwise fails as "cannot tell" (the items are too few), naming how many items would tell, unless
    `allow_inconclusive`, which turns that into an UnderpoweredComparisonWarning. `alpha=None` compares
    the point values alone. "Worse" follows higher_is_better. Returns the PairedComparison (flipped items).
    """
    __tracebackhide__ = True
    from harness.noninferiority import FAIL, PASS, margin_test

    if max_drop < 0:
        raise HarnessError(f"assert_no_regression: max_drop must be >= 0, got {max_drop}")
    comparison = paired_comparison(
        candidate, reference, alpha=0.05 if alpha is None else alpha, seed=seed, n_resamples=n_resamples
    )
    binary = comparison.test == "McNemar"
    story = (
        f"{candidate_label} {_describe(candidate)} vs {reference_label} {_describe(reference)}, "
        f"delta {_num(comparison.delta)}"
    )
    if alpha is None:
        if comparison.drop > max_drop:
            raise AssertionError(f"{candidate.name} regressed: {story}, {_flips(comparison, binary)}")
        return comparison
    test = margin_test(
        candidate, reference, max_drop, reference_name=reference_label, alpha=alpha, seed=seed, n_resamples=n_resamples
    )
    lo, hi = test.bounds
    evidence = (
        f"{1 - 2 * alpha:.0%} interval of the drop [{_num(lo)}, {_num(hi)}] against an allowed {_num(max_drop)}, "
        f"{test.method}"
    )
    if test.verdict == FAIL:
        p = "p<0.0001" if test.p_fail < 1e-4 else f"p={test.p_fail:.2g}"
        raise AssertionError(f"{candidate.name} regressed: {story}, {evidence} {p}, {_flips(comparison, binary)}")
    if test.verdict != PASS:
        more = max(0, test.items_needed() - test.n)
        message = (
            f"{candidate.name}: cannot tell whether it dropped by more than {_points(candidate, max_drop)}: {story}, "
            f"{evidence}; about {more:,} more items would tell at 80% power"
        )
        if not allow_inconclusive:
            raise AssertionError(message)
        warnings.warn(UnderpoweredComparisonWarning(message), stacklevel=2)
    return comparison
