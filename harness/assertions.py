"""Assertions for suites: a metric against a threshold, and a tuned model against its base on the same items."""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable

from harness.errors import HarnessError
from harness.metrics.result import MetricResult
from harness.rules import DEFAULT_ALPHA
from harness.stats import MCNEMAR, PairedComparison, paired_comparison

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
    alpha: float | None = DEFAULT_ALPHA,
    candidate_label: str = "tuned",
    reference_label: str = "base",
    allow_inconclusive: bool = False,
    seed: int = 0,
    n_resamples: int = 10_000,
) -> PairedComparison:
    """The gate's verdict as an assertion: the candidate may be worse than the reference by at most `max_drop`.

    Decided and worded as the gate decides (harness.rules.check_rule on a non-inferiority test): it passes
    when the one-sided (1 - alpha) upper bound of the drop is below `max_drop`, fails as "dropped" when the
    lower bound is above it, and otherwise fails as undecided (the items are too few), naming how many items
    would tell, unless `allow_inconclusive`, which turns that into an UnderpoweredComparisonWarning.
    `alpha=None` compares the point values alone. "Worse" follows higher_is_better. Returns the
    PairedComparison (flipped items).
    """
    __tracebackhide__ = True
    from harness.noninferiority import margin_test
    from harness.rules import GateRule, Threshold, check_rule, worse_by

    if max_drop < 0:
        raise HarnessError(f"assert_no_regression: max_drop must be >= 0, got {max_drop}")
    comparison = paired_comparison(
        candidate, reference, alpha=DEFAULT_ALPHA if alpha is None else alpha, seed=seed, n_resamples=n_resamples
    )
    story = f"{candidate_label} {_describe(candidate)} vs {reference_label} {_describe(reference)}"
    flips = _flips(comparison, binary=comparison.test == MCNEMAR)
    if alpha is None:
        drop = worse_by(candidate.value, reference.value, candidate.higher_is_better)
        if drop > max_drop:
            raise AssertionError(
                f"{candidate.name} dropped vs {reference_label}: {reference.value:.3f} -> {candidate.value:.3f} "
                f"(drop {drop:.3f} above the allowed {max_drop:.3f}; point values, alpha=None); {story}, {flips}"
            )
        return comparison
    rule = GateRule(max_drop_vs_base=Threshold(max_drop), alpha=alpha)
    test = margin_test(
        candidate, reference, max_drop, reference_name=reference_label, alpha=alpha, seed=seed, n_resamples=n_resamples
    )
    check = check_rule(rule, candidate, [test], {reference_label: reference})
    if check.failures:
        raise AssertionError(f"{check.failures[0]}; {story}, {flips}")
    if check.undecided:
        message = f"{check.undecided[0]}; {story}"
        if not allow_inconclusive:
            raise AssertionError(message)
        warnings.warn(UnderpoweredComparisonWarning(message), stacklevel=2)
    return comparison
