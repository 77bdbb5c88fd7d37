"""Suite assertions: readable failures for thresholds and regressions, a warning when n is too small."""

from __future__ import annotations

import warnings

import pytest

from harness.assertions import UnderpoweredComparisonWarning, assert_metric, assert_no_regression
from harness.errors import HarnessError
from harness.metrics.result import MetricResult

FAST = 500


def binary(name, scores, ids=None, higher=True):
    ids = ids or [f"clause-{k:04d}" for k in range(len(scores))]
    value = sum(scores) / len(scores)
    return MetricResult(
        name, value, (value - 0.05, value + 0.05), len(scores), dict(zip(ids, scores, strict=True)), higher
    )


def test_assert_metric_passes_and_fails_with_the_value_and_interval():
    result = binary("clause_accuracy", [1.0] * 61 + [0.0] * 39)
    assert assert_metric(result, ">=", 0.6) is result
    assert_metric(result, "<", 0.7)
    with pytest.raises(AssertionError, match=r"clause_accuracy = 0.61 \[0.56, 0.66\] is not >= 0.9 \(n=100 items\)"):
        assert_metric(result, ">=", 0.9)
    with pytest.raises(AssertionError, match="is not == 0.5"):
        assert_metric(result, "==", 0.5)


def test_assert_metric_rejects_an_unknown_operator():
    with pytest.raises(HarnessError, match="unknown comparison '=>'"):
        assert_metric(binary("m", [1.0]), "=>", 0.5)


def _clauses():
    """base right on 72 of 100; tuned loses 16 of those and gains 5 elsewhere (61 right)."""
    base = [1.0] * 72 + [0.0] * 28
    tuned = [0.0] * 16 + [1.0] * 56 + [1.0] * 5 + [0.0] * 23
    order = [f"clause-{k:04d}" for k in (41, 7, 112)] + [f"clause-{k:04d}" for k in range(200, 297)]
    return binary("clause_accuracy", tuned, order), binary("clause_accuracy", base, order)


def test_a_significant_regression_fails_with_the_full_story():
    tuned, base = _clauses()
    with pytest.raises(AssertionError) as failure:
        assert_no_regression(tuned, base, max_drop=0.02, n_resamples=FAST)
    message = str(failure.value)
    assert message.startswith("clause_accuracy dropped vs base: 0.720 -> 0.610 (drop 0.110, 90% interval of the drop [")
    assert "lies above the allowed 0.020; Tango score test (paired proportions), p=0.031 < 0.05); " in message
    assert "tuned 0.61 [0.56, 0.66] vs base 0.72 [0.67, 0.77], " in message
    assert message.endswith("16 items right->wrong (first: clause-0041, clause-0007, clause-0112, ...)")


def test_a_drop_within_max_drop_or_not_significant_passes():
    tuned, base = _clauses()
    comparison = assert_no_regression(tuned, base, max_drop=0.2, n_resamples=FAST)
    assert comparison.delta == pytest.approx(-0.11)
    small_tuned = binary("acc", [0.0, 1.0, 1.0, 0.0])
    small_base = binary("acc", [1.0, 1.0, 1.0, 0.0])
    undecided = r"acc vs base: drop 0.250, 90% interval of the drop .* contains the allowed 0.050"
    with pytest.raises(AssertionError, match=undecided):
        assert_no_regression(small_tuned, small_base, max_drop=0.05, alpha=0.05, n_resamples=FAST)
    more = "more paired items would tell a drop of 0.050 from none at 80% power"
    with pytest.warns(UnderpoweredComparisonWarning, match=more):
        assert_no_regression(small_tuned, small_base, max_drop=0.05, allow_inconclusive=True, n_resamples=FAST)


def test_alpha_none_fails_on_the_drop_alone():
    small_tuned = binary("acc", [0.0, 1.0, 1.0, 0.0])
    small_base = binary("acc", [1.0, 1.0, 1.0, 0.0])
    with pytest.raises(
        AssertionError, match=r"acc dropped vs base: 0.750 -> 0.500 \(drop 0.250 above the allowed 0.050; point"
    ):
        assert_no_regression(small_tuned, small_base, max_drop=0.05, alpha=None, n_resamples=FAST)


def test_lower_is_better_regresses_upwards_and_uses_custom_labels():
    base = binary("hallucination_rate", [0.0] * 40 + [1.0] * 10, higher=False)
    tuned = binary("hallucination_rate", [1.0] * 30 + [0.0] * 10 + [1.0] * 10, higher=False)
    with pytest.raises(AssertionError, match=r"candidate 0.8 .* vs promoted 0.2 .* 30 items right->wrong"):
        assert_no_regression(
            tuned, base, max_drop=0.05, candidate_label="candidate", reference_label="promoted", n_resamples=FAST
        )
    with warnings.catch_warnings():  # a clear improvement passes even a zero margin
        warnings.simplefilter("error")
        assert_no_regression(base, tuned, max_drop=0.0, n_resamples=FAST)


def test_continuous_regression_lists_the_largest_drops_first():
    ids = [f"s{k:02d}" for k in range(30)]
    base = MetricResult("rougeL", 0.5, (0.45, 0.55), 30, dict.fromkeys(ids, 0.5))
    drops = {i: 0.5 - 0.01 * (k + 1) for k, i in enumerate(ids)}
    tuned = MetricResult("rougeL", 0.345, (0.3, 0.4), 30, drops)
    with pytest.raises(
        AssertionError, match=r"studentized bootstrap of the mean, p=.*, 30 items worse \(largest drops first: s29"
    ):
        assert_no_regression(tuned, base, max_drop=0.01, n_resamples=FAST)


def test_too_few_items_cannot_pass_a_tight_margin_but_can_a_wide_one():
    tuned = binary("general_accuracy", [1.0] * 50)
    base = binary("general_accuracy", [1.0] * 50)
    with pytest.raises(AssertionError, match=r"contains the allowed 0.050; about 74 more paired items would tell"):
        assert_no_regression(tuned, base, max_drop=0.05, n_resamples=FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_no_regression(tuned, base, max_drop=0.15, n_resamples=FAST)  # 50 items with no flip: within 15


def test_mismatched_items_and_a_negative_max_drop_are_user_errors():
    with pytest.raises(HarnessError, match="only in the candidate"):
        assert_no_regression(binary("a", [1.0], ["x"]), binary("a", [1.0], ["y"]))
    with pytest.raises(HarnessError, match="max_drop must be >= 0"):
        assert_no_regression(binary("a", [1.0]), binary("a", [1.0]), max_drop=-0.1)


def test_failures_hide_the_helper_frames(pytester):
    pytester.makepyfile(
        """
        from harness.assertions import assert_metric
        from harness.metrics.result import MetricResult

        def test_floor():
            assert_metric(MetricResult("acc", 0.5, (0.4, 0.6), 2, {"a": 1.0, "b": 0.0}), ">=", 0.9)
        """
    )
    outcome = pytester.runpytest_subprocess("-p", "no:harness", "-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    output = outcome.stdout.str()
    assert "acc = 0.5 [0.4, 0.6] is not >= 0.9 (n=2 items)" in output
    assert "_OPERATORS" not in output  # the assertion helper's own lines are not shown
