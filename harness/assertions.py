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
    """A comparison passed, but on too few items to have detected a drop of the size it allows."""


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
    seed: int = 0,
    n_resamples: int = 10_000,
) -> PairedComparison:
    """Fail when the candidate is worse than the reference by more than `max_drop` and, unless alpha is None,
    the paired test on the same items is significant at `alpha`. "Worse" follows higher_is_better.

    Passing on too few items to detect a drop of `max_drop` (minimum detectable effect > max_drop) warns
    with UnderpoweredComparisonWarning. Returns the PairedComparison either way.
    """
    __tracebackhide__ = True
    if max_drop < 0:
        raise HarnessError(f"assert_no_regression: max_drop must be >= 0, got {max_drop}")
    comparison = paired_comparison(
        candidate, reference, alpha=0.05 if alpha is None else alpha, seed=seed, n_resamples=n_resamples
    )
    significant = alpha is None or comparison.p_value < alpha
    if comparison.drop > max_drop and significant:
        lo, hi = comparison.ci
        binary = comparison.test == "McNemar"
        p = "p<0.0001" if comparison.p_value < 1e-4 else f"p={comparison.p_value:.2g}"
        raise AssertionError(
            f"{candidate.name} regressed: {candidate_label} {_describe(candidate)} vs {reference_label} "
            f"{_describe(reference)}, delta {_num(comparison.delta)} [{_num(lo)}, {_num(hi)}], "
            f"{comparison.test} {p}, {_flips(comparison, binary)}"
        )
    mde = comparison.minimum_detectable_effect
    if mde > max_drop:
        limit = "any drop" if mde == float("inf") else f"a drop smaller than {_points(candidate, mde)}"
        warnings.warn(
            UnderpoweredComparisonWarning(
                f"{candidate.name}: {comparison.n} items cannot detect {limit} at alpha={comparison.alpha:g} "
                f"with 80% power; max_drop is {_points(candidate, max_drop)}"
            ),
            stacklevel=2,
        )
    return comparison
