"""Non-inferiority decisions: checked against reference libraries, by properties, and by a small simulation.

The full simulation with the README's table is bench/bench_gate_statistics.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.metrics.items import mean_result
from harness.noninferiority import FAIL, INCONCLUSIVE, PASS, adjust, margin_test, tango_statistic


def results(base: np.ndarray, tuned: np.ndarray):
    ids = [f"i{k:04d}" for k in range(len(base))]
    return mean_result("m", ids, tuned, n_resamples=200), mean_result("m", ids, base, n_resamples=200)


@pytest.mark.parametrize(("worse", "better", "n"), [(12, 5, 100), (3, 0, 40), (31, 30, 500), (4, 1, 10)])
def test_tango_at_zero_is_mcnemars_test(worse, better, n):
    """Without and with Edwards' continuity correction (applied to a drop), as statsmodels computes McNemar."""
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[n - worse - better, worse], [better, 0]]
    plain = mcnemar(table, exact=False, correction=False).statistic
    corrected = mcnemar(table, exact=False, correction=True).statistic
    assert tango_statistic(worse, better, n, 0.0, continuity=0.0) ** 2 == pytest.approx(plain)
    assert tango_statistic(worse, better, n, 0.0, continuity=1.0) ** 2 == pytest.approx(corrected)


def test_bca_bounds_agree_with_scipy():
    """The paired bootstrap's BCa bounds of a mean difference match scipy.stats.bootstrap's BCa."""
    from scipy.stats import bootstrap

    rng = np.random.default_rng(3)
    base = rng.beta(2, 3, 400)
    tuned = base - 0.03 + (rng.gamma(2.0, 1.0, 400) - 2.0) * 0.15  # skewed differences
    candidate, reference = results(base, tuned)
    test = margin_test(candidate, reference, 0.05, reference_name="base", alpha=0.05, n_resamples=20_000)
    drops = base - tuned
    scipy_ci = bootstrap(
        (drops,), np.mean, confidence_level=0.90, method="BCa", n_resamples=20_000, random_state=1
    ).confidence_interval
    assert test.bounds[0] == pytest.approx(scipy_ci.low, abs=0.002)
    assert test.bounds[1] == pytest.approx(scipy_ci.high, abs=0.002)
    assert "BCa" in test.method


@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=5, max_size=120),
    st.sampled_from([0.0, 0.02, 0.05, 0.1]),
)
def test_a_binary_verdict_follows_its_interval(pairs, margin):
    """PASS exactly when the upper bound is below the margin, FAIL exactly when the lower bound is above it."""
    base = np.array([b for b, _ in pairs], dtype=float)
    tuned = np.array([t for _, t in pairs], dtype=float)
    test = margin_test(*results(base, tuned), margin, reference_name="base")
    lower, upper = test.bounds
    assert lower <= test.drop + 1e-9 and test.drop <= upper + 1e-9
    assert test.p_pass + test.p_fail >= 1.0 - 1e-9  # the continuity correction is conservative both ways
    expected = PASS if upper < margin else FAIL if lower > margin else INCONCLUSIVE
    if not (math.isclose(upper, margin, abs_tol=1e-9) or math.isclose(lower, margin, abs_tol=1e-9)):
        assert test.verdict == expected


@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_false_fail_at_the_margin_is_at_most_alpha(kind):
    """At a true drop equal to the margin the gate FAILs at most alpha of the time (simulated, 400 runs)."""
    rng = np.random.default_rng(11)
    n, margin, runs, failed = 150, 0.05, 400, 0
    for _ in range(runs):
        if kind == "binary":
            base = (rng.random(n) < 0.7).astype(float)
            u = rng.random(n)
            base = np.where(u < 0.1, 1.0, np.where(u < 0.15, 0.0, base))
            tuned = np.where(u < 0.1, 0.0, np.where(u < 0.15, 1.0, base))
        else:
            base = rng.beta(2, 3, n)
            tuned = base - margin + (rng.gamma(2.0, 1.0, n) - 2.0) / math.sqrt(2.0) * 0.2
        test = margin_test(*results(base, tuned), margin, reference_name="base", n_resamples=1000)
        failed += test.verdict == FAIL
    assert failed / runs <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / runs)


def test_holm_and_bh_adjust_only_the_fail_side():
    rng = np.random.default_rng(5)
    tests = []
    for k in range(6):
        base = (rng.random(200) < 0.8).astype(float)
        tuned = base.copy()
        tuned[: 10 + 4 * k] = 0.0
        tests.append(margin_test(*results(base, tuned), 0.02, reference_name="base"))
    for method in ("holm", "bh"):
        adjusted = adjust(tests, method)
        assert all(a.p_fail_adjusted >= a.p_fail - 1e-12 for a in adjusted)
        assert [a.p_pass for a in adjusted] == [t.p_pass for t in tests]


def test_items_needed_grows_as_the_margin_shrinks():
    rng = np.random.default_rng(2)
    base = (rng.random(100) < 0.8).astype(float)
    tuned = base.copy()
    tuned[:8] = 1 - tuned[:8]
    wide = margin_test(*results(base, tuned), 0.10, reference_name="base")
    narrow = margin_test(*results(base, tuned), 0.02, reference_name="base")
    assert narrow.items_needed() > wide.items_needed() > 0
    assert narrow.minimum_detectable_drop > narrow.margin
