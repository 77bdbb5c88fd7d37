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


def test_studentized_bounds_agree_with_arch():
    """A mean drop's bounds are the studentized bootstrap's, as arch.bootstrap computes them (90% two-sided)."""
    from arch.bootstrap import IIDBootstrap

    rng = np.random.default_rng(3)
    base = rng.beta(2, 3, 400)
    tuned = base - 0.03 + (rng.gamma(2.0, 1.0, 400) - 2.0) * 0.15  # skewed differences
    candidate, reference = results(base, tuned)
    test = margin_test(candidate, reference, 0.05, reference_name="base", alpha=0.05, n_resamples=20_000)
    drops = base - tuned

    def standard_error(mean, x):
        return np.array([np.std(x, ddof=1) / math.sqrt(len(x))])

    bootstrap = IIDBootstrap(drops, seed=1)
    low, high = bootstrap.conf_int(
        np.mean, reps=20_000, method="studentized", size=0.90, std_err_func=standard_error
    ).ravel()
    assert test.drop == pytest.approx(drops.mean(), abs=1e-12)
    assert test.bounds[0] == pytest.approx(low, abs=0.002)
    assert test.bounds[1] == pytest.approx(high, abs=0.002)
    assert test.method == "studentized bootstrap of the mean"


def test_corpus_bca_bounds_agree_with_scipy():
    """A corpus statistic's bounds are the paired BCa bootstrap's, as scipy.stats.bootstrap computes them."""
    from scipy.stats import bootstrap

    from harness.metrics.perplexity import perplexity
    from harness.models.base import RollingLoglikelihood

    rng = np.random.default_rng(4)
    n = 300
    tokens = rng.integers(5, 60, n).astype(float)
    base_lp = -tokens * rng.gamma(4.0, 0.5, n)
    tuned_lp = base_lp - tokens * rng.gamma(1.0, 0.05, n)  # tuned slightly worse, skewed per text
    ids = [f"t{k:03d}" for k in range(n)]
    texts = ["x"] * n

    def result(logprobs):
        rolling = [RollingLoglikelihood(float(lp), int(t)) for lp, t in zip(logprobs, tokens, strict=True)]
        return perplexity(rolling, texts, ids, n_resamples=200)

    test = margin_test(result(tuned_lp), result(base_lp), 0.5, reference_name="base", n_resamples=20_000)

    def drop(tuned, base, count, axis=-1):
        return np.exp(-tuned.sum(axis) / count.sum(axis)) - np.exp(-base.sum(axis) / count.sum(axis))

    scipy_ci = bootstrap(
        (tuned_lp, base_lp, tokens),
        drop,
        paired=True,
        confidence_level=0.90,
        method="BCa",
        n_resamples=20_000,
        random_state=1,
    ).confidence_interval
    assert test.bounds[0] == pytest.approx(scipy_ci.low, rel=0.02)
    assert test.bounds[1] == pytest.approx(scipy_ci.high, rel=0.02)
    assert "corpus perplexity (BCa)" in test.method


def test_clustered_items_widen_the_bounds():
    """Items from one source move together: resampling clusters gives wider bounds than treating items alone."""
    rng = np.random.default_rng(8)
    clusters = {f"i{k:04d}": f"doc{k // 10}" for k in range(300)}
    shared = np.repeat(rng.normal(0, 0.15, 30), 10)  # each document's items drop together
    base = rng.beta(2, 3, 300)
    tuned = base - 0.02 + shared + rng.normal(0, 0.05, 300)
    candidate, reference = results(base, tuned)
    alone = margin_test(candidate, reference, 0.05, reference_name="base", n_resamples=4000)
    grouped = margin_test(candidate, reference, 0.05, reference_name="base", clusters=clusters, n_resamples=4000)
    assert grouped.drop == pytest.approx(alone.drop)
    assert grouped.n == 30 and grouped.method == "studentized cluster bootstrap of the mean (30 clusters)"
    assert grouped.bounds[1] - grouped.bounds[0] > 2 * (alone.bounds[1] - alone.bounds[0])


@pytest.mark.parametrize("n", [50, 200])
def test_the_detectable_drop_formula_matches_a_simulation_of_its_rule(n):
    """mean - c * SE > margin, simulated at the formula's drop on skewed scores, holds 80% of the time."""
    from harness.noninferiority import detectable_drop

    rng = np.random.default_rng(21)
    margin, critical, scale = 0.05, 1.8, 0.2 / math.sqrt(2.0)
    # Scores with a long low tail (the SE grows as the mean falls): drop - scale * (Gamma(2, 1) - 2), whose
    # cumulants are 2 scale^2, -4 scale^3 and 12 scale^4.
    stated = detectable_drop(n, 2 * scale**2, -4 * scale**3, 12 * scale**4, margin, critical)
    normal = margin + (critical + 0.8416) * 0.2 / math.sqrt(n)
    assert stated > normal + 0.001 * math.sqrt(200 / n)  # the skew costs power a normal approximation misses
    scores = stated - (rng.gamma(2.0, 1.0, (20_000, n)) - 2.0) * scale
    failed = scores.mean(axis=1) - critical * scores.std(axis=1, ddof=1) / math.sqrt(n) > margin
    assert failed.mean() == pytest.approx(0.80, abs=0.015)


def test_the_stated_detectable_drop_is_failed_about_80_percent_of_the_time():
    """The studentized test's own minimum detectable drop, simulated: FAILs in 0.70-0.90 of 200 runs."""
    rng = np.random.default_rng(12)
    n, margin = 100, 0.05

    def draw(drop):
        base = rng.beta(2, 3, n)
        return base, base - drop + (rng.gamma(2.0, 1.0, n) - 2.0) / math.sqrt(2.0) * 0.2

    stated = np.median(
        [
            margin_test(
                *results(*draw(margin)), margin, reference_name="base", n_resamples=1000
            ).minimum_detectable_drop
            for _ in range(40)
        ]
    )
    assert margin < stated < margin + 4 * 0.2 / math.sqrt(n)
    failed = sum(
        margin_test(*results(*draw(stated)), margin, reference_name="base", n_resamples=1000).verdict == FAIL
        for _ in range(200)
    )
    assert 0.70 <= failed / 200 <= 0.90


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


def test_a_constant_difference_is_exact_even_with_float_noise():
    """Every item 0.02 better (0.5 + 0.01 k vs 0.52 + 0.01 k, not exact in binary): a PASS with no spread."""
    base = np.array([0.5 + 0.01 * k for k in range(40)])
    tuned = np.array([0.52 + 0.01 * k for k in range(40)])
    test = margin_test(*results(base, tuned), 0.1, reference_name="base")
    assert test.verdict == PASS
    assert test.drop == pytest.approx(-0.02) and test.bounds == (test.drop, test.drop)
    assert test.minimum_detectable_drop == pytest.approx(0.1)


@given(st.floats(-0.3, 0.3), st.integers(0, 2**16))
def test_shifting_every_drop_shifts_the_bounds_alike(shift, seed):
    """The studentized bounds move with the data: drops all larger by s give bounds larger by s."""
    rng = np.random.default_rng(seed)
    base = rng.beta(2, 3, 60)
    tuned = base - rng.gamma(2.0, 0.05, 60)
    plain = margin_test(*results(base, tuned), 0.05, reference_name="base", n_resamples=500)
    shifted = margin_test(*results(base, tuned - shift), 0.05, reference_name="base", n_resamples=500)
    assert shifted.drop == pytest.approx(plain.drop + shift, abs=1e-9)
    assert shifted.bounds[0] == pytest.approx(plain.bounds[0] + shift, abs=1e-9)
    assert shifted.bounds[1] == pytest.approx(plain.bounds[1] + shift, abs=1e-9)
