"""Statistics of a review: stratum-weighted Wilson intervals, the A/B sign test and inter-rater agreement."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rate:
    """A weighted share with its Wilson interval; `n` items, `n_effective` after weighting (Kish)."""

    value: float
    ci: tuple[float, float]
    n: int
    n_effective: float

    def format(self, digits: int = 3) -> str:
        if self.n == 0:
            return "n/a (no reviews)"
        return f"{self.value:.{digits}f} [{self.ci[0]:.{digits}f}, {self.ci[1]:.{digits}f}]"


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for successes out of n (both may be fractional), clipped to [0, 1]."""
    from statsmodels.stats.proportion import proportion_confint

    if n <= 0:
        return (0.0, 1.0)
    lo, hi = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    share = successes / n
    return (max(0.0, min(float(lo), share)), min(1.0, max(float(hi), share)))


def weighted_rate(scores: Sequence[float], weights: Sequence[float], confidence: float = 0.95) -> Rate:
    """Stratum-weighted mean of per-item scores in [0, 1], with a Wilson interval on the effective sample size.

    Items of an oversampled stratum carry less weight (population / sampled), so the estimate is for the
    whole run; the Kish effective size (sum w)² / sum w² widens the interval for the unequal weights.
    """
    y = np.asarray(scores, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if y.size == 0 or w.sum() <= 0:
        return Rate(float("nan"), (0.0, 1.0), 0, 0.0)
    value = float(np.clip((w * y).sum() / w.sum(), 0.0, 1.0))
    n_effective = float(w.sum() ** 2 / (w * w).sum())
    return Rate(value, wilson_interval(value * n_effective, n_effective, confidence), int(y.size), n_effective)


@dataclass(frozen=True)
class SignTest:
    """Exact sign test of tuned wins against base wins (ties left out)."""

    wins: int
    losses: int
    p_two_sided: float
    p_worse: float  # one-sided: evidence that tuned loses more often than it wins


def sign_test(wins: int, losses: int) -> SignTest:
    """scipy's binomtest on the decided comparisons; p-values are 1 when there are none."""
    from scipy.stats import binomtest

    n = wins + losses
    if n == 0:
        return SignTest(wins, losses, 1.0, 1.0)
    two_sided = binomtest(wins, n, 0.5, alternative="two-sided").pvalue
    worse = binomtest(wins, n, 0.5, alternative="less").pvalue
    return SignTest(wins, losses, float(two_sided), float(worse))


def cohen_kappa(first: Sequence[float], second: Sequence[float], *, ordinal: bool) -> float:
    """Cohen's kappa of two reviewers on the same items (quadratic weights for ordinal scales).

    NaN (undefined) when every rating falls in one category: the formula is 0/0 and agreement on a constant
    says nothing. Otherwise identical ratings give 1.0.
    """
    from sklearn.metrics import cohen_kappa_score

    a, b = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if a.size == 0 or a.size != b.size or np.unique(np.concatenate([a, b])).size < 2:
        return float("nan")
    if np.array_equal(a, b):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = cohen_kappa_score(a, b, weights="quadratic" if ordinal else None)
    return float(kappa)


def krippendorff_alpha(ratings: np.ndarray, *, ordinal: bool, domain: Sequence[float]) -> float:
    """Krippendorff's alpha of a reviewers x items matrix (NaN = not rated).

    NaN (undefined) when no item has two ratings, or when the pairable ratings never vary: the expected
    disagreement is then 0 and alpha is 0/0 (the `krippendorff` package refuses such data). Constant ratings
    are no evidence of agreement; see `alpha_undefined_reason`.
    """
    import krippendorff

    data = np.asarray(ratings, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        return float("nan")
    rated = (~np.isnan(data)).sum(axis=0)
    pairable = data[:, rated >= 2]
    if pairable.shape[1] == 0:
        return float("nan")
    values = pairable[~np.isnan(pairable)]
    if np.unique(values).size == 1:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        alpha = krippendorff.alpha(
            reliability_data=pairable,
            level_of_measurement="ordinal" if ordinal else "nominal",
            value_domain=sorted(set(domain) | set(values.tolist())),
        )
    return float(alpha) if math.isfinite(alpha) else float("nan")


def alpha_undefined_reason(ratings: np.ndarray) -> str:
    """Why `krippendorff_alpha` of this matrix is undefined, in words; "" when it is defined."""
    data = np.asarray(ratings, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        return "undefined: fewer than two reviewers"
    pairable = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    if pairable.shape[1] == 0:
        return "undefined: no answer has two ratings"
    values = np.unique(pairable[~np.isnan(pairable)])
    if values.size == 1:
        return f"undefined: all {int((~np.isnan(pairable)).sum())} paired ratings are the same value (no variation)"
    return ""
