"""Non-inferiority decisions: is the candidate's drop against a reference within the allowed margin?

For a gated drop D (how much worse the candidate is, in the metric's worse direction) and margin m:

- PASS when the one-sided (1 - alpha) upper bound of D is below m: we are confident the drop is within
  the margin (a non-inferiority test of H0: D >= m);
- FAIL when the one-sided (1 - alpha) lower bound of D is above m: we are confident the drop exceeds the
  margin (a test of H0: D <= m, corrected for the number of gated comparisons in the run);
- INCONCLUSIVE otherwise: the data cannot tell, and the verdict says how many more items would.

So at a true drop equal to the margin the gate FAILs at most alpha of the time, and at a true drop of
twice the margin (beyond the bounds) it PASSes at most alpha of the time. The bounds and both p-values
come from one procedure per metric, so the interval and the test in a row never disagree:

- a mean of 0/1 item scores (accuracy, pass rate): Tango's score test and interval for the difference of
  paired proportions (Tango 1998, Statistics in Medicine 17:891-908; at D = 0 it is McNemar's test);
- any other mean (ROUGE, length, a clustered pass rate): a studentized paired bootstrap (bootstrap-t) of
  the mean drop, whose bounds stay accurate for skewed scores on small samples;
- corpus statistics (BLEU, macro F1, perplexity): a paired bootstrap of the statistic itself (the same
  item draws for both models) with Efron's bias-corrected and accelerated (BCa) bounds, and p-values by
  inverting those bounds;
- items grouped in clusters (an eval set's `cluster` field): the same bootstraps drawing whole clusters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.metrics.result import MetricResult

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
POWER = 0.8  # at which "items needed" and the minimum detectable drop are quoted
TANGO = "Tango score test (paired proportions)"


@dataclass(frozen=True)
class MarginTest:
    """One gated comparison against a reference, decided as a non-inferiority test."""

    reference: str  # "base" or "promoted"
    drop: float  # candidate worse than the reference by this much (negative: better)
    bounds: tuple[float, float]  # one-sided (1 - alpha) lower and upper bounds of the drop
    margin: float
    alpha: float
    p_fail: float  # H0: drop <= margin; small means the drop is beyond the margin
    p_pass: float  # H0: drop >= margin; small means the drop is within the margin
    method: str
    n: int  # paired items (or clusters)
    sd: float  # standard deviation of the per-item drop, for sample-size planning
    better_rate: float = math.nan  # 0/1 items: share where only the candidate is right (for Tango's power)
    p_fail_adjusted: float = math.nan  # after the run-wide multiplicity correction
    # the drop FAILed with 80% power, when the procedure states its own (computed when first asked for)
    detectable_from: Callable[[], float] | None = field(default=None, compare=False, repr=False)

    @property
    def verdict(self) -> str:
        p_fail = self.p_fail if math.isnan(self.p_fail_adjusted) else self.p_fail_adjusted
        if self.p_pass < self.alpha:
            return PASS
        if p_fail < self.alpha:
            return FAIL
        return INCONCLUSIVE

    @cached_property
    def minimum_detectable_drop(self) -> float:
        """The true drop this comparison FAILs with 80% power: the margin plus what its noise hides.

        The studentized bootstrap states its own, from its draws; for 0/1 items it is solved from the power
        of Tango's test itself (its null and alternative variances differ); otherwise (BCa) the normal
        approximation margin + (z[1-alpha] + z[0.8]) * sd / sqrt(n).
        """
        if self.detectable_from is not None:
            return self.detectable_from()
        if self.method == TANGO:
            from scipy.optimize import brentq

            top = 1.0 - self.better_rate
            power = lambda d: tango_fail_power(d, self.better_rate, self.n, self.margin, self.alpha) - POWER  # noqa: E731
            if power(top) < 0:
                return math.inf
            if power(self.margin) >= 0:
                return self.margin
            return float(brentq(power, self.margin, top, xtol=1e-9))
        z = NormalDist().inv_cdf(1 - self.alpha) + NormalDist().inv_cdf(POWER)
        return self.margin + z * self.sd / math.sqrt(max(self.n, 1))

    def items_needed(self) -> int:
        """Paired items that would tell a drop of the margin from no drop at 80% power (both ways).

        From the observed per-item SD; for 0/1 items at least z^2 / margin, the items a score interval
        needs to fall within the margin even when no item flips.
        """
        z = NormalDist().inv_cdf(1 - self.alpha) + NormalDist().inv_cdf(POWER)
        if self.margin <= 0:
            return math.inf  # type: ignore[return-value]
        needed = (z * self.sd / self.margin) ** 2
        if self.method == TANGO:
            needed = max(needed, z * z / self.margin)
        return math.ceil(needed)

    def with_adjusted(self, p: float) -> MarginTest:
        return replace(self, p_fail_adjusted=p)


def _good(result: MetricResult, ids: Sequence[str]) -> np.ndarray:
    """Per-item scores oriented so that higher is better."""
    scores = np.array([result.per_item[i] for i in ids], dtype=np.float64)
    return scores if result.higher_is_better else -scores


# -- Tango's score test for paired proportions ---------------------------------------------------------


# Evidence of a drop beyond delta (b - c - n delta > 0) is shrunk by 0.6 of a pair. The plain score test
# FAILs too often on few discordant pairs (6.6% at a true drop equal to the margin, 50 items); a whole pair
# each way (Edwards' correction for McNemar) makes the intervals too wide (98.9% coverage), and 0.75 of a
# pair still over-covers on 5-10 discordant pairs (97.0%). At 0.6, simulated with 4,000 runs per cell
# (bench/bench_gate_statistics.py's model), false FAILs at the margin are 3.6-5.0% for 50-1,000 items and
# 95% coverage 94.7-96.8%; the PASS side needs none (under 1% false PASSes at twice the margin).
CONTINUITY = 0.6


def _tango_variance(worse: float, better: float, n: float, delta: float) -> float:
    """n * Var(b - c) under H0: delta, from the restricted maximum-likelihood P(ref wrong, cand right)."""
    a = 2.0 * n
    b_coef = -worse - better + (2.0 * n - worse + better) * delta
    c_coef = -better * delta * (1.0 - delta)
    q21 = (math.sqrt(max(b_coef * b_coef - 4.0 * a * c_coef, 0.0)) - b_coef) / (2.0 * a)
    return n * (2.0 * q21 + delta * (1.0 - delta))


def tango_statistic(worse: int, better: int, n: int, delta: float, continuity: float = CONTINUITY) -> float:
    """Tango's Z for H0: P(ref right, cand wrong) - P(ref wrong, cand right) = delta, on n pairs.

    `worse` counts pairs where only the reference is right, `better` pairs where only the candidate is.
    With `continuity` 0 and delta 0 it is McNemar's (b - c) / sqrt(b + c). `continuity` is subtracted from
    a positive numerator only (evidence of a larger drop), so FAIL stays conservative on few pairs.
    """
    variance = _tango_variance(worse, better, n, delta)
    numerator = worse - better - n * delta
    if numerator > 0:
        numerator = max(numerator - continuity, 0.0)
    if variance <= 0:
        return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def tango_fail_power(drop: float, better_rate: float, n: int, margin: float, alpha: float) -> float:
    """Normal-approximate chance that Tango's test FAILs at a true `drop` (only-candidate-right rate fixed)."""
    worse_rate = better_rate + drop
    if worse_rate > 1:
        return 1.0
    null = _tango_variance(n * worse_rate, n * better_rate, n, margin)
    alternative = n * (worse_rate + better_rate - drop * drop)
    shift = n * (drop - margin) - CONTINUITY - NormalDist().inv_cdf(1 - alpha) * math.sqrt(max(null, 0.0))
    if alternative <= 0:
        return 1.0 if shift > 0 else 0.0
    return NormalDist().cdf(shift / math.sqrt(alternative))


def tango_bound(worse: int, better: int, n: int, z: float) -> float:
    """The delta at which Tango's Z equals z (Z falls as delta rises): a one-sided confidence bound."""
    from scipy.optimize import brentq

    lo, hi = -1.0 + 1e-12, 1.0 - 1e-12
    f = lambda d: tango_statistic(worse, better, n, d) - z  # noqa: E731
    if f(lo) <= 0:
        return -1.0
    if f(hi) >= 0:
        return 1.0
    return float(brentq(f, lo, hi, xtol=1e-12))


def _tango_test(reference: MetricResult, candidate: MetricResult, ids: Sequence[str], margin: float, alpha: float):
    ref, cand = _good(reference, ids), _good(candidate, ids)
    worse = int(np.sum(ref > cand))
    better = int(np.sum(ref < cand))
    n = len(ids)
    z = NormalDist().inv_cdf(1 - alpha)
    drop = (worse - better) / n
    statistic = tango_statistic(worse, better, n, margin)
    p_fail = 1.0 - NormalDist().cdf(statistic) if math.isfinite(statistic) else float(statistic < 0)
    p_pass = NormalDist().cdf(statistic) if math.isfinite(statistic) else float(statistic > 0)
    bounds = (tango_bound(worse, better, n, z), tango_bound(worse, better, n, -z))
    sd = math.sqrt(max((worse + better) / n - drop * drop, 1.0 / n))  # at least one discordant pair's worth
    return drop, bounds, p_fail, p_pass, TANGO, n, sd, max(better / n, 0.5 / n)


# -- paired bootstrap of the statistic ------------------------------------------------------------------


def _bca_constants(drops: np.ndarray, drop: float, jackknife: np.ndarray) -> tuple[float, float]:
    """Bias correction z0 and acceleration a of Efron's BCa interval (Efron 1987, JASA 82:171-185)."""
    below = (np.sum(drops < drop) + 0.5 * np.sum(drops == drop)) / drops.size
    z0 = NormalDist().inv_cdf(min(max(below, 0.5 / drops.size), 1 - 0.5 / drops.size))
    centred = jackknife.mean() - jackknife if jackknife.size > 1 else np.zeros(1)
    spread = float(np.sum(centred**2))
    acceleration = float(np.sum(centred**3)) / (6.0 * spread**1.5) if spread > 0 else 0.0
    return z0, acceleration


def _bca_level(z0: float, acceleration: float, level: float) -> float:
    """The percentile of the bootstrap distribution that BCa uses for a nominal one-sided `level`."""
    u = z0 + NormalDist().inv_cdf(level)
    denominator = 1 - acceleration * u
    if denominator <= 0:  # beyond where the correction is defined: the far end of the distribution
        return 1.0 if u > 0 else 0.0
    return NormalDist().cdf(z0 + u / denominator)


def _bca_p_below(drops: np.ndarray, z0: float, acceleration: float, margin: float) -> float:
    """The nominal level at which the BCa lower bound equals `margin` (the p-value of H0: drop <= margin)."""
    q = (np.sum(drops < margin) + 0.5 * np.sum(drops == margin)) / drops.size
    v = NormalDist().inv_cdf(min(max(q, 0.5 / drops.size), 1 - 0.5 / drops.size)) - z0
    return NormalDist().cdf(v / (1 + acceleration * v) - z0)


def _bootstrap_test(
    reference: MetricResult,
    candidate: MetricResult,
    ids: Sequence[str],
    margin: float,
    alpha: float,
    clusters: Mapping[str, str] | None,
    n_resamples: int,
    seed: int,
):
    """BCa bounds of the drop from a paired bootstrap of the statistic, and the p-values they invert to."""
    from harness.stats import paired_delta_draws

    draws = paired_delta_draws(candidate, reference, ids, clusters=clusters, n_resamples=n_resamples, seed=seed)
    sign = -1.0 if candidate.higher_is_better else 1.0
    # Rounded to 12 decimals: float noise of a difference that is exactly zero (identical results) must not
    # look like a distribution, whose skew would then steer the BCa correction.
    drops, jackknife = np.round(sign * draws.draws, 12), np.round(sign * draws.jackknife, 12)
    drop = round(sign * draws.delta, 12) + 0.0
    finite = drops[np.isfinite(drops)]
    if finite.size == 0:
        raise HarnessError(f"{candidate.name}: the bootstrap of the difference gave no finite values")
    z0, acceleration = _bca_constants(finite, drop, jackknife[np.isfinite(jackknife)])
    lower, upper = np.quantile(finite, [_bca_level(z0, acceleration, alpha), _bca_level(z0, acceleration, 1 - alpha)])
    p_fail = _bca_p_below(finite, z0, acceleration, margin)
    sd = float(np.std(finite, ddof=1)) * math.sqrt(draws.units) if finite.size > 1 else 0.0
    return drop, (float(lower), float(upper)), p_fail, 1.0 - p_fail, draws.method + " (BCa)", draws.units, sd


# -- studentized paired bootstrap of a mean ---------------------------------------------------------------


def _ratio_and_se(sums: np.ndarray, units: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean drop (a ratio of sums over units) and its linearized standard error, per row of unit sums.

    Columns: y, x, y*y, x*y, x*x per unit (y: the unit's summed drop, x: its items; x = 1 without clusters),
    so a cluster resample and an item resample share one formula (the ratio estimator's delta method).
    """
    y, x, yy, xy, xx = (sums[:, k] for k in range(5))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y / x
        residual = np.maximum(yy - 2 * ratio * xy + ratio * ratio * xx, 0.0)
        se = np.sqrt(residual * units / max(units - 1, 1)) / x
    return ratio, se


def _studentized_test(
    reference: MetricResult,
    candidate: MetricResult,
    ids: Sequence[str],
    margin: float,
    alpha: float,
    clusters: Mapping[str, str] | None,
    n_resamples: int,
    seed: int,
):
    """Bootstrap-t test of a mean drop: the distribution of (resampled mean - mean) / its own SE.

    Studentizing makes the bounds second-order accurate for skewed scores (Hall 1988), where percentile and
    BCa bounds of a mean run short on small samples. The smallest drop it FAILs with 80% power is
    studentized_detectable_drop at this test's own critical value.
    """
    from harness.stats import group_rows, resampled_sums

    drops = _good(reference, ids) - _good(candidate, ids)
    rows = np.column_stack([drops, np.ones(len(ids))])
    method = "studentized bootstrap of the mean"
    if clusters:
        rows = group_rows(rows, ids, clusters)
        method = f"studentized cluster bootstrap of the mean ({len(rows)} clusters)"
    y, x = rows[:, 0], rows[:, 1]
    units = len(rows)
    observed_drop = float(y.sum() / x.sum())
    drop = round(observed_drop, 12) + 0.0
    # Centred on the observed mean before any sum of squares is taken: the spread is then computed from the
    # errors themselves, not as a small difference of large sums (which leaves float noise for a spread of 0).
    centred = y - observed_drop * x
    if units < 2 or np.all(np.abs(centred) <= 1e-12 * max(1.0, float(np.abs(y).max()))):
        beyond, within = drop > margin, drop < margin  # every unit drops by the same amount: nothing to resample
        return drop, (drop, drop), float(not beyond), float(not within), method, units, 0.0, None
    moments = np.column_stack([centred, x, centred * centred, x * centred, x * x])
    observed_se = float(_ratio_and_se(moments.sum(axis=0)[None, :], units)[1][0])
    sd = observed_se * math.sqrt(units)
    shifts, ses = _ratio_and_se(resampled_sums(moments, n_resamples=n_resamples, seed=seed), units)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(ses > 0, shifts / ses, np.sign(shifts) * np.inf)  # (resampled mean - mean) / its SE
    t = t[~np.isnan(t)]
    statistic = (observed_drop - margin) / observed_se
    b = t.size
    p_fail = (1.0 + np.sum(t >= statistic)) / (b + 1.0)
    p_pass = (1.0 + np.sum(t <= statistic)) / (b + 1.0)
    upper_t, lower_t = np.quantile(t, [1 - alpha, alpha])
    bounds = (observed_drop - upper_t * observed_se, observed_drop - lower_t * observed_se)
    linearized = centred * units / x.sum()  # each unit's share of the mean's error
    mde = partial(studentized_detectable_drop, linearized, margin, float(upper_t), seed=seed)
    return drop, (float(bounds[0]), float(bounds[1])), float(p_fail), float(p_pass), method, units, sd, mde


# The stated minimum detectable drop of a mean is an upper 80% confidence bound, as conservative sample-size
# planning uses an upper confidence limit of a pilot's SD (Browne 1995, Statistics in Medicine 14:1933-1940):
# the spread and skew that decide the power are themselves estimated, and 50 skewed scores understate them.
DETECTABLE_CONFIDENCE = 0.8
DETECTABLE_RESAMPLES = 200


def studentized_detectable_drop(scores: np.ndarray, margin: float, critical: float, *, seed: int = 0) -> float:
    """detectable_drop for per-unit (item or cluster) contributions whose mean is the drop's estimate.

    The cumulants are estimated without bias (k-statistics) on DETECTABLE_RESAMPLES seeded resamples of the
    units, and the drop stated is the DETECTABLE_CONFIDENCE quantile of the results.
    """
    from scipy.stats import kstat

    n = len(scores)
    if n < 4:
        return math.inf
    rng = np.random.default_rng(seed)
    chunk = max(1, 4_000_000 // n)  # resampled scores held at once
    drops = []
    for start in range(0, DETECTABLE_RESAMPLES, chunk):
        sample = scores[rng.integers(0, n, (min(chunk, DETECTABLE_RESAMPLES - start), n))]
        k2, k3, k4 = (kstat(sample, order, axis=1) for order in (2, 3, 4))
        drops.append(detectable_drop(n, k2, k3, k4, margin, critical))
    return float(np.quantile(np.concatenate(drops), DETECTABLE_CONFIDENCE))


def detectable_drop(n: int, k2: Any, k3: Any, k4: Any, margin: float, critical: float) -> Any:
    """The true mean drop at which `mean - critical * SE > margin` (the studentized FAIL rule) holds 80% of the time.

    For n units whose scores have cumulants k2 (variance), k3 and k4 (numbers or arrays of them). The rule compares
    W = mean - critical * SE with the margin, so the drop is margin + critical * SE + z[0.8] * sd(W), with
    Var(W) = Var(mean) + critical^2 Var(SE) - 2 critical Cov(mean, SE) by the delta method, from
    Var(s^2) = (mu4 - sigma^4 (n - 3) / (n - 1)) / n and Cov(mean, s^2) = mu3 / n. In skewed scores the SE moves
    with the mean: scores with a long low tail lose power (a low mean comes with a large SE), which a normal
    approximation does not see. Infinite where the scores do not vary.
    """
    k2, k3, k4 = (np.asarray(k, dtype=np.float64) for k in (k2, k3, k4))
    with np.errstate(divide="ignore", invalid="ignore"):
        mu4 = k4 + 3.0 * k2 * k2
        se = np.sqrt(np.maximum(k2, 0.0) / n)
        var_se = np.maximum((mu4 - k2 * k2 * (n - 3) / (n - 1)) / n, 0.0) / (4.0 * k2 * n)
        cov_mean_se = k3 / (2.0 * np.sqrt(k2) * n * math.sqrt(n))
        var_w = np.maximum(se * se + critical * critical * var_se - 2.0 * critical * cov_mean_se, 0.0)
        drop = margin + critical * se + NormalDist().inv_cdf(POWER) * np.sqrt(var_w)
    drop = np.where((k2 > 0) & np.isfinite(drop), drop, np.inf) if n >= 4 else np.full_like(k2, np.inf)
    return float(drop) if drop.ndim == 0 else drop


def margin_test(
    candidate: MetricResult,
    reference: MetricResult,
    margin: float,
    *,
    reference_name: str,
    alpha: float = 0.05,
    clusters: Mapping[str, str] | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MarginTest:
    """Decide whether `candidate` is worse than `reference` by less than `margin` (see the module docs)."""
    from harness.stats import check_same_items, is_mean_of_items

    if not 0 < alpha < 1:
        raise HarnessError(f"alpha must be between 0 and 1, got {alpha}")
    if not math.isfinite(margin) or margin < 0:
        raise HarnessError(f"the allowed drop must be a finite number >= 0, got {margin}")
    ids = check_same_items(candidate, reference)
    binary = candidate.is_binary and reference.is_binary and is_mean_of_items(candidate, reference)
    better_rate, detectable = math.nan, None
    if binary and not clusters:
        drop, bounds, p_fail, p_pass, method, n, sd, better_rate = _tango_test(reference, candidate, ids, margin, alpha)
    elif is_mean_of_items(candidate, reference):
        drop, bounds, p_fail, p_pass, method, n, sd, detectable = _studentized_test(
            reference, candidate, ids, margin, alpha, clusters, n_resamples, seed
        )
    else:
        drop, bounds, p_fail, p_pass, method, n, sd = _bootstrap_test(
            reference, candidate, ids, margin, alpha, clusters, n_resamples, seed
        )
    return MarginTest(
        reference_name,
        drop,
        bounds,
        margin,
        alpha,
        p_fail,
        p_pass,
        method,
        n,
        sd,
        better_rate,
        detectable_from=detectable,
    )


def adjust(tests: Sequence[MarginTest], method: str = "holm") -> list[MarginTest]:
    """Correct the FAIL p-values of all gated comparisons of a run together (Holm by default, or BH)."""
    from statsmodels.stats.multitest import multipletests

    if not tests:
        return []
    names = {"holm": "holm", "bh": "fdr_bh"}
    if method not in names:
        raise HarnessError(f"unknown multiplicity correction {method!r}", hint="use holm or bh")
    _, adjusted, _, _ = multipletests([t.p_fail for t in tests], method=names[method])
    return [t.with_adjusted(float(p)) for t, p in zip(tests, adjusted, strict=True)]
