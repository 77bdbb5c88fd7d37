"""Bootstrap confidence intervals, paired base-vs-tuned tests and the minimum detectable effect.

Every interval here comes from one resampling engine, `resampled_sums`: items are drawn with replacement
(the same draws for every column, so paired data stay paired) and each resample's per-item statistics are
summed. A metric is then any function of those sums: a mean, a corpus BLEU from n-gram counts, a perplexity
from log-likelihood and token totals, a macro F1 from per-class counts. Resampling is seeded and vectorised
with numpy; when items take few distinct values (binary scores, class pairs) the per-value counts are drawn
from the equivalent multinomial instead of item by item, which gives the same distribution far faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.metrics.result import CorpusStats, MetricResult

Statistic = Callable[[np.ndarray], np.ndarray]
"""Maps summed per-item statistics, shape (resamples, k), to one metric value per resample, shape (resamples,)."""
RowTransform = Callable[[np.ndarray], np.ndarray]
"""Maps stored per-item rows, shape (n, j), to additive per-item statistics, shape (n, k)."""

_CHUNK_ELEMENTS = 2_000_000  # draws per batch: keeps memory flat for any n x n_resamples
_POWER = 0.8  # power at which minimum_detectable_effect is quoted
COMPARED_DIGITS = 6  # per-item scores are compared at the precision the baseline store writes them


def _as_matrix(data: Any) -> np.ndarray:
    matrix = np.asarray(data, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] == 0:
        raise HarnessError(f"bootstrap needs per-item data of shape (n,) or (n, k) with n >= 1, got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise HarnessError("bootstrap data contain NaN or infinite per-item values", hint="check the metric inputs")
    return matrix


def _distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(unique rows in lexicographic order, index of each row's unique row), fast for 1 column or small ints."""
    if matrix.shape[1] == 1:
        unique, inverse = np.unique(matrix[:, 0], return_inverse=True)
        return unique[:, None], inverse.ravel()
    low, high = matrix.min(axis=0), matrix.max(axis=0)
    spans = high - low + 1
    if np.all(matrix == np.round(matrix)) and float(np.prod(spans)) < 2.0**62:
        radix = np.cumprod(np.concatenate([spans[1:], [1.0]])[::-1])[::-1].astype(np.int64)
        keys = np.zeros(len(matrix), dtype=np.int64)  # mixed-radix code, first column most significant
        for column, base, weight in zip(matrix.T, low, radix, strict=True):
            keys += (column - base).astype(np.int64) * weight
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return matrix[first], inverse.ravel()
    unique, inverse = np.unique(matrix, axis=0, return_inverse=True)
    return unique, inverse.ravel()


def resampled_sums(
    data: Any, *, n_resamples: int = 10_000, seed: int = 0, transform: RowTransform | None = None
) -> np.ndarray:
    """Column sums of `n_resamples` bootstrap resamples of the rows of `data` (shape (n_resamples, k)).

    `transform` maps stored per-item rows to additive columns (e.g. a class pair to one-hot counts); it is
    applied per distinct row where possible, so compact rows stay cheap to resample.
    """
    matrix = _as_matrix(data)
    if n_resamples < 1:
        raise HarnessError(f"n_resamples must be at least 1, got {n_resamples}")
    transform = transform or _identity
    n = len(matrix)
    rng = np.random.default_rng(seed)
    unique, inverse = _distinct_rows(matrix)
    if len(unique) <= max(2, n // 16):
        # Counts of each distinct row in a resample are Multinomial(n, frequencies): same law, O(distinct).
        frequencies = np.bincount(inverse, minlength=len(unique)) / n
        counts = rng.multinomial(n, frequencies, size=n_resamples)
        return counts @ transform(unique)
    matrix = transform(matrix)
    k = matrix.shape[1]
    index_dtype = np.uint16 if n <= 1 << 16 else np.uint32 if n <= 1 << 32 else np.int64
    chunk = max(1, _CHUNK_ELEMENTS // n)
    sums = np.empty((n_resamples, k))
    column = np.ascontiguousarray(matrix[:, 0]) if k == 1 else None
    offsets = (np.arange(chunk, dtype=np.int64) * n)[:, None]
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        draws = rng.integers(0, n, size=(rows, n), dtype=index_dtype)
        if column is not None:
            sums[start : start + rows, 0] = column[draws].sum(axis=1)
        else:
            counts = np.bincount((draws + offsets[:rows]).ravel(), minlength=rows * n).reshape(rows, n)
            sums[start : start + rows] = counts @ matrix
    return sums


def _identity(rows: np.ndarray) -> np.ndarray:
    return rows


def mean_statistic(n: int) -> Statistic:
    """The statistic for a plain mean of per-item scores (column 0 of the sums, divided by n)."""
    return lambda sums: sums[:, 0] / n


def bootstrap_distribution(
    data: Any,
    statistic: Statistic | None = None,
    *,
    n_resamples: int = 10_000,
    seed: int = 0,
    transform: RowTransform | None = None,
) -> np.ndarray:
    """The statistic on each of `n_resamples` seeded item resamples (default statistic: the mean of column 0)."""
    matrix = _as_matrix(data)
    statistic = statistic or mean_statistic(len(matrix))
    sums = resampled_sums(matrix, n_resamples=n_resamples, seed=seed, transform=transform)
    return np.asarray(statistic(sums), dtype=np.float64)


def bootstrap_ci(
    data: Any,
    statistic: Statistic | None = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    transform: RowTransform | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over items, widened if needed to hold the point estimate.

    `data` holds per-item statistics, shape (n,) or (n, k), additive after the optional row `transform`;
    `statistic` maps their column sums to the metric (default: the mean). Deterministic for a given seed.
    Resampling bias of a non-linear statistic (e.g. corpus BLEU on few items) can push the point estimate
    outside the percentile band; the interval is then stretched to include it, so a reported value always
    lies inside its own interval.
    """
    if not 0 < confidence < 1:
        raise HarnessError(f"confidence must be between 0 and 1, got {confidence}")
    matrix = _as_matrix(data)
    statistic = statistic or mean_statistic(len(matrix))
    point = float(np.asarray(statistic((transform or _identity)(matrix).sum(axis=0)[None, :]))[0])
    values = bootstrap_distribution(matrix, statistic, n_resamples=n_resamples, seed=seed, transform=transform)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return (point, point)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(values, [tail, 1 - tail])
    return (float(min(lo, point)), float(max(hi, point)))


# ---------------------------------------------------------------------------------------------------------
# Paired comparison of two models on the same items


def _significance_floor(alpha: float) -> int:
    """Fewest one-sided discordant items for which an exact two-sided sign/McNemar/Wilcoxon test reaches alpha.

    With m such items all pointing the same way the smallest attainable p-value is 2 * 0.5**m.
    """
    return max(1, math.ceil(math.log2(2 / alpha)))


def minimum_detectable_effect(
    n: int,
    *,
    discordant_rate: float | None = None,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = _POWER,
) -> float:
    """Smallest paired difference a two-sided test at `alpha` detects with `power`, on n items.

    Normal approximation for a paired difference: MDE = (z[1 - alpha/2] + z[power]) * sd_d / sqrt(n).
    Binary scores (give `discordant_rate`, the share of items where the two models disagree): sd_d under the
    null is sqrt(discordant_rate), and the result is never below m/n, where m = ceil(log2(2/alpha)) is the
    fewest discordant items an exact McNemar test can call significant (6 at alpha=0.05); capped at 1.
    Continuous scores (give `sd`, the standard deviation of the per-item differences): inf when n < m,
    because an exact Wilcoxon test on so few items can never reach alpha.
    """
    if n < 1:
        raise HarnessError(f"minimum_detectable_effect needs n >= 1 items, got {n}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise HarnessError(f"alpha and power must be between 0 and 1, got alpha={alpha}, power={power}")
    if (discordant_rate is None) == (sd is None):
        raise HarnessError("minimum_detectable_effect needs exactly one of discordant_rate= (binary) or sd=")
    z = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    floor = _significance_floor(alpha)
    if discordant_rate is not None:
        if not 0 <= discordant_rate <= 1:
            raise HarnessError(f"discordant_rate must be between 0 and 1, got {discordant_rate}")
        return min(1.0, max(z * math.sqrt(discordant_rate / n), floor / n))
    if sd is None or sd < 0:
        raise HarnessError(f"sd must be non-negative, got {sd}")
    if n < floor:
        return math.inf
    return z * sd / math.sqrt(n)


PairedTest = Literal["McNemar", "Wilcoxon"]
"""The paired test: McNemar's exact test for 0/1 scores, the Wilcoxon signed-rank test otherwise."""
MCNEMAR: PairedTest = "McNemar"
WILCOXON: PairedTest = "Wilcoxon"
Basis = Literal["corpus statistic", "per-item mean"]
"""What a paired interval resamples: the corpus metric recomputed per resample, or the per-item mean."""
CORPUS_STATISTIC: Basis = "corpus statistic"
PER_ITEM_MEAN: Basis = "per-item mean"


@dataclass(frozen=True)
class PairedComparison:
    """A candidate model against a reference on the same items: delta with CI, paired test, flipped items.

    The test, the flipped ids and minimum_detectable_effect come from the per-item scores (for corpus metrics
    such as BLEU or macro F1 those are sentence scores or correctness, so the MDE is an approximation there);
    delta and its interval are on the metric itself.
    """

    name: str
    delta: float  # candidate - reference, in the metric's units
    ci: tuple[float, float]  # paired-bootstrap interval of delta
    p_value: float
    test: PairedTest
    n: int
    worse_ids: tuple[str, ...]  # binary: right->wrong, in item order; continuous: largest drops first
    better_ids: tuple[str, ...]  # binary: wrong->right; continuous: largest gains first
    minimum_detectable_effect: float  # smallest drop this n detects at alpha with 80% power
    alpha: float
    higher_is_better: bool
    candidate: MetricResult
    reference: MetricResult
    basis: Basis

    @property
    def significant(self) -> bool:
        """Whether the paired test rejects "no difference" at this comparison's alpha."""
        return self.p_value < self.alpha

    @property
    def drop(self) -> float:
        """How much worse the candidate is, in the metric's worse direction (negative means it improved)."""
        return -self.delta if self.higher_is_better else self.delta


def check_same_items(candidate: MetricResult, reference: MetricResult) -> list[str]:
    only_candidate = sorted(set(candidate.per_item) - set(reference.per_item))
    only_reference = sorted(set(reference.per_item) - set(candidate.per_item))
    if only_candidate or only_reference:
        parts = []
        for label, extra in (("candidate", only_candidate), ("reference", only_reference)):
            if extra:
                shown = ", ".join(extra[:5]) + (f", ... ({len(extra) - 5} more)" if len(extra) > 5 else "")
                parts.append(f"{len(extra)} only in the {label} ({shown})")
        raise HarnessError(
            f"cannot pair {candidate.name!r} with {reference.name!r}: item ids differ: " + "; ".join(parts),
            hint="score both models on the same eval items",
        )
    if not candidate.per_item:
        raise HarnessError(f"cannot pair {candidate.name!r}: the results have no per-item scores")
    if candidate.higher_is_better != reference.higher_is_better:
        raise HarnessError(f"cannot pair {candidate.name!r} with {reference.name!r}: their directions differ")
    return sorted(candidate.per_item)


def _corpus_data(result: MetricResult, ids: Sequence[str]) -> tuple[CorpusStats, np.ndarray] | None:
    """(corpus statistics, per-item sufficient stats in `ids` order) when the result carries them, else None."""
    corpus = result.corpus
    rows = corpus.rows(ids) if corpus is not None else None
    return None if corpus is None or rows is None else (corpus, rows)


def _same_statistic(first: tuple[CorpusStats, np.ndarray], second: tuple[CorpusStats, np.ndarray]) -> bool:
    return first[0].recipe == second[0].recipe


def is_mean_of_items(*results: MetricResult) -> bool:
    """Whether each result is the mean of its per-item scores (no corpus statistic to recompute)."""
    return all(result.corpus is None for result in results)


@dataclass(frozen=True)
class DeltaDraws:
    """Paired-bootstrap draws of candidate - reference on one metric."""

    delta: float  # the observed difference
    draws: np.ndarray  # the difference on each resample
    jackknife: np.ndarray  # the difference with each unit left out once (for the BCa acceleration)
    method: str  # how it was resampled, for the report
    units: int  # what was resampled: items, or clusters of items


def group_rows(rows: np.ndarray, ids: Sequence[str], clusters: Mapping[str, str]) -> np.ndarray:
    """Per-cluster sums of additive per-item rows (clusters in first-seen order)."""
    missing = [i for i in ids if i not in clusters]
    if missing:
        raise HarnessError(f"items without a cluster: {', '.join(missing[:5])}", hint="give every item a cluster")
    order: dict[str, int] = {}
    index = np.array([order.setdefault(str(clusters[i]), len(order)) for i in ids])
    grouped = np.zeros((len(order), rows.shape[1]))
    np.add.at(grouped, index, rows)
    return grouped


def paired_delta_draws(
    candidate: MetricResult,
    reference: MetricResult,
    ids: Sequence[str],
    *,
    clusters: Mapping[str, str] | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    statistic_of_items: bool = False,
) -> DeltaDraws:
    """Bootstrap the difference of the metric itself: the same item (or cluster) draws for both models.

    A corpus statistic (BLEU, macro F1, perplexity) is recomputed from its per-item sufficient statistics on
    every resample; any other metric is the mean of its per-item scores. `statistic_of_items` takes the mean
    of the per-item scores even for a corpus metric (the fallback when only one side carries its statistics).
    """
    corpus_c, corpus_r = _corpus_data(candidate, ids), _corpus_data(reference, ids)
    transform: RowTransform | None = None
    if not statistic_of_items and corpus_c is not None and corpus_r is not None and _same_statistic(corpus_c, corpus_r):
        additive, finish = corpus_c[0].statistic()
        j = corpus_c[1].shape[1]
        k = additive(corpus_c[1][:1]).shape[1]
        rows = np.hstack([corpus_c[1], corpus_r[1]])
        transform = lambda items: np.hstack([additive(items[:, :j]), additive(items[:, j:])])  # noqa: E731
        statistic: Statistic = lambda sums: finish(sums[:, :k]) - finish(sums[:, k:])  # noqa: E731
        what = f"corpus {corpus_c[0].kind}"
    elif statistic_of_items or is_mean_of_items(candidate, reference):
        differences = np.array([candidate.per_item[i] - reference.per_item[i] for i in ids], dtype=np.float64)
        rows = np.column_stack([differences, np.ones(len(ids))])
        statistic = lambda sums: sums[:, 0] / sums[:, 1]  # noqa: E731
        what = "mean"
    else:
        raise HarnessError(
            f"{candidate.name}: the two results are different corpus statistics and cannot be compared",
            hint="record both with the same metric function",
        )
    additive_rows = transform(rows) if transform is not None else rows
    # From the same sums the resamples use (not the stored values, which are rounded): the observed
    # difference and its bootstrap draws then agree exactly when nothing changed.
    delta = float(np.asarray(statistic(additive_rows.sum(axis=0)[None, :]))[0])
    if clusters:
        rows, transform = group_rows(additive_rows, ids, clusters), None
        additive_rows = rows
        method = f"cluster bootstrap of the {what} ({len(rows)} clusters)"
    else:
        method = f"paired bootstrap of the {what}"
    draws = bootstrap_distribution(rows, statistic, n_resamples=n_resamples, seed=seed, transform=transform)
    left_out = additive_rows.sum(axis=0)[None, :] - additive_rows
    jackknife = np.asarray(statistic(left_out), dtype=np.float64) if len(rows) > 1 else draws[:0]
    return DeltaDraws(delta, draws, jackknife, method, len(rows))


def _delta_interval(
    first: MetricResult, second: MetricResult, ids: Sequence[str], n_resamples: int, seed: int
) -> tuple[float, tuple[float, float], Basis]:
    """delta = first - second, its 95% paired-bootstrap interval, and whether the corpus statistic was used."""
    corpus_first, corpus_second = _corpus_data(first, ids), _corpus_data(second, ids)
    corpus = corpus_first is not None and corpus_second is not None and _same_statistic(corpus_first, corpus_second)
    draws = paired_delta_draws(first, second, ids, n_resamples=n_resamples, seed=seed, statistic_of_items=not corpus)
    delta = float(first.value - second.value) if corpus else draws.delta
    finite = draws.draws[np.isfinite(draws.draws)]
    lo, hi = np.quantile(finite, [0.025, 0.975]) if finite.size else (delta, delta)
    return delta, (min(float(lo), delta), max(float(hi), delta)), CORPUS_STATISTIC if corpus else PER_ITEM_MEAN


def _canonical_key(result: MetricResult, ids: Sequence[str]) -> tuple[bytes, float, bytes]:
    """An order on results so a comparison is computed one fixed way round, whichever model is the candidate."""
    scores = np.array([result.per_item[i] for i in ids], dtype=np.float64).tobytes()
    corpus = _corpus_data(result, ids)
    return scores, float(result.value), b"" if corpus is None else corpus[1].tobytes()


def paired_comparison(
    candidate: MetricResult,
    reference: MetricResult,
    *,
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = 10_000,
) -> PairedComparison:
    """Compare two models' results on the same items: paired-bootstrap delta CI, exact test, flipped items.

    The bootstrap draws the same item indices for both models. Corpus metrics (BLEU, chrF, TER, perplexity,
    F1) that carry per-item sufficient statistics are recomputed on each resample; others use the mean of
    per-item differences. The p-value is McNemar's exact test (binomial on the discordant items) when both
    results are 0/1 per item, otherwise a two-sided Wilcoxon signed-rank test on the per-item differences
    (1.0 when every difference is zero). Swapping the two models negates delta and its interval exactly
    and leaves the p-value unchanged: everything is computed in one canonical order, then mirrored.
    """
    from scipy import stats as scipy_stats

    if not 0 < alpha < 1:
        raise HarnessError(f"alpha must be between 0 and 1, got {alpha}")
    ids = check_same_items(candidate, reference)
    n = len(ids)
    mirrored = _canonical_key(candidate, ids) > _canonical_key(reference, ids)
    first, second = (reference, candidate) if mirrored else (candidate, reference)
    delta, ci, basis = _delta_interval(first, second, ids, n_resamples, seed)
    if mirrored:
        delta, ci = -delta, (-ci[1], -ci[0])
    if basis == CORPUS_STATISTIC:
        delta = float(candidate.value - reference.value)

    # Compared at the precision the baseline store keeps, so a stored result and the same result measured
    # live are equal item by item instead of differing in the seventh decimal.
    a = np.round(np.array([first.per_item[i] for i in ids], dtype=np.float64), COMPARED_DIGITS)
    b = np.round(np.array([second.per_item[i] for i in ids], dtype=np.float64), COMPARED_DIGITS)
    differences = a - b
    sign = (1.0 if candidate.higher_is_better else -1.0) * (-1.0 if mirrored else 1.0)
    gain = sign * differences  # > 0: the candidate is better on that item
    order = {item: k for k, item in enumerate(candidate.per_item)}
    if candidate.is_binary and reference.is_binary:
        test: PairedTest = MCNEMAR
        n_worse, n_better = int(np.sum(gain < 0)), int(np.sum(gain > 0))
        discordant = n_worse + n_better
        low = min(n_worse, n_better)  # the two-sided exact p-value depends on the split only
        p_value = 1.0 if discordant == 0 else float(scipy_stats.binomtest(low, discordant).pvalue)
        worse_ids = tuple(sorted((ids[k] for k in np.flatnonzero(gain < 0)), key=order.__getitem__))
        better_ids = tuple(sorted((ids[k] for k in np.flatnonzero(gain > 0)), key=order.__getitem__))
        mde = minimum_detectable_effect(n, discordant_rate=discordant / n, alpha=alpha)
    else:
        test = WILCOXON
        nonzero = differences[differences != 0]
        p_value = 1.0 if nonzero.size == 0 else float(scipy_stats.wilcoxon(differences, zero_method="wilcox").pvalue)
        worse_ids = tuple(ids[k] for k in sorted(np.flatnonzero(gain < 0), key=lambda k: (gain[k], ids[k])))
        better_ids = tuple(ids[k] for k in sorted(np.flatnonzero(gain > 0), key=lambda k: (-gain[k], ids[k])))
        sd = float(np.std(differences, ddof=1)) if n > 1 else 0.0
        mde = minimum_detectable_effect(n, sd=sd, alpha=alpha)
    return PairedComparison(
        name=candidate.name,
        delta=delta,
        ci=(float(ci[0]), float(ci[1])),
        p_value=min(1.0, p_value),
        test=test,
        n=n,
        worse_ids=worse_ids,
        better_ids=better_ids,
        minimum_detectable_effect=mde,
        alpha=alpha,
        higher_is_better=candidate.higher_is_better,
        candidate=candidate,
        reference=reference,
        basis=basis,
    )
