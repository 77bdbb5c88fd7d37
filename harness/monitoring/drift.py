"""Drift tests between reference texts and one window of production traffic: one function per test.

Each returns a `DriftTest` with a p-value (one-sided: small means the window differs) and an effect size that
reads the same at any window size and label count:

- classifier: the held-out ROC AUC of telling window from reference inputs (0.5 = indistinguishable);
- MMD: the smallest share of the window that would have to be new traffic to produce the observed MMD;
- label and output-length shift: PSI above chance, what the observed PSI exceeds the 95th percentile of its
  permutation null by, for these two sample sizes and this many labels (a clean window reads 0, whatever n and K).

A test only counts as drift when its corrected p-value is under the window's level *and* its effect reaches a
practical floor (AUC 0.55, new share 0.03, PSI above chance 0.1), so a large sample never turns a negligible
difference into an alarm.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.monitoring.embeddings import Embedder, tfidf_svd
from harness.monitoring.inference import batched_permutation_test

AUC_FLOOR = 0.55  # a classifier that separates a tenth of the window perfectly, or all of it slightly
SHARE_FLOOR = 0.03  # MMD: at least 3% of the window would have to be new traffic (a lower bound: 10% reads ~0.05)
PSI_BANDS = (0.1, 0.25)  # PSI above chance: under 0.1 stable, 0.1-0.25 moderate shift, 0.25 and over major shift
PSI_FLOOR = PSI_BANDS[0]
PSI_EFFECT = "PSI above chance"
_PROPORTION_FLOOR = 1e-4  # a bin empty on one side counts as this share in PSI (so PSI stays finite)


@dataclass(frozen=True)
class DriftTest:
    """One test's outcome on one window; `p_adjusted` and `flagged` are set by the window's correction."""

    name: str
    statistic: float | None
    p_value: float | None
    effect: float | None
    effect_name: str
    effect_floor: float | None
    n_reference: int
    n_window: int
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    p_adjusted: float | None = None
    flagged: bool = False

    @property
    def enough_data(self) -> bool:
        """Whether the test produced a p-value (False: too few items on one side)."""
        return self.p_value is not None

    @property
    def band(self) -> str | None:
        """For PSI effects: stable, moderate or major."""
        return psi_band(self.effect) if self.effect_name == PSI_EFFECT and self.effect is not None else None


def not_enough(name: str, effect_name: str, n_reference: int, n_window: int, minimum: int) -> DriftTest:
    """A test that was not run because one side has fewer than `minimum` items."""
    note = f"not enough data: {min(n_reference, n_window)} < {minimum} items"
    return DriftTest(name, None, None, None, effect_name, None, n_reference, n_window, note)


# -- PSI ---------------------------------------------------------------------------------------------


def psi(reference_counts: Sequence[float], window_counts: Sequence[float]) -> float:
    """Population stability index sum((w - r) * ln(w / r)) over bin shares; 0 for equal shares, symmetric, >= 0."""
    ref, win = np.asarray(reference_counts, dtype=float)[None], np.asarray(window_counts, dtype=float)[None]
    return float(psi_rows(ref, win)[0])


def psi_rows(reference_counts: np.ndarray, window_counts: np.ndarray, pseudo_count: float = 0.0) -> np.ndarray:
    """PSI of each row pair of two count matrices (rows: splits, columns: bins).

    With `pseudo_count` 0, an empty bin counts as a share of 1e-4; otherwise that many counts are added to every
    bin on both sides first (0.5: Jeffreys smoothing), which keeps rare labels from dominating small windows.
    """
    bins = reference_counts.shape[1]
    ref_total = reference_counts.sum(axis=1, keepdims=True)
    win_total = window_counts.sum(axis=1, keepdims=True)
    r = (reference_counts + pseudo_count) / np.maximum(ref_total + pseudo_count * bins, 1e-300)
    w = (window_counts + pseudo_count) / np.maximum(win_total + pseudo_count * bins, 1e-300)
    r, w = np.maximum(r, _PROPORTION_FLOOR), np.maximum(w, _PROPORTION_FLOOR)
    values = np.maximum(0.0, np.sum((w - r) * np.log(w / r), axis=1))
    return np.where((ref_total[:, 0] > 0) & (win_total[:, 0] > 0), values, 0.0)


def psi_band(value: float) -> str:
    """The reading of a PSI above chance: stable (< 0.1), moderate (0.1-0.25) or major (>= 0.25)."""
    return "stable" if value < PSI_BANDS[0] else "moderate" if value < PSI_BANDS[1] else "major"


def psi_shift(
    reference_codes: np.ndarray,
    window_codes: np.ndarray,
    bins: int,
    *,
    permutations: int,
    seed: int,
    stop_above: float,
) -> tuple[float, float, float, float, float, int]:
    """PSI between two samples of bin codes with its permutation null (items shuffled between the two sides).

    PSI here is over Jeffreys-smoothed shares (half a count added to each bin on both sides). Returns (observed
    PSI, permutation p, PSI above chance, null median, null 95th percentile, drawn). The null is the PSI two
    samples of these sizes show by chance alone, which grows with the number of bins and shrinks with the sample
    sizes. PSI above chance is what the observed PSI exceeds the null's 95th percentile by (0 when it does not):
    a clean window reads 0 in 19 of 20 cases, and barely more in the rest, whatever n and the number of bins.
    """
    codes = np.r_[reference_codes, window_codes].astype(int)
    one_hot = np.zeros((len(codes), bins))
    one_hot[np.arange(len(codes)), codes] = 1.0
    totals = one_hot.sum(axis=0)

    def statistics(masks: np.ndarray) -> np.ndarray:
        window_counts = masks @ one_hot
        return psi_rows(totals - window_counts, window_counts, pseudo_count=0.5)

    observed_mask = np.r_[np.zeros(len(reference_codes)), np.ones(len(window_codes))][None]
    observed = float(statistics(observed_mask)[0])
    result = batched_permutation_test(
        statistics, len(codes), len(window_codes), observed, permutations=permutations, seed=seed, stop_above=stop_above
    )
    median, q95 = float(np.median(result.null)), float(np.quantile(result.null, 0.95))
    excess = max(0.0, observed - q95)
    return observed, result.p_value, excess, median, q95, result.drawn


def rank_sum_null(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float, float]:
    """Mann-Whitney U of label-1 scores over label-0 scores, with its mean and variance (ties corrected) under H0."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    positive = labels == 1
    n1, n0 = int(positive.sum()), int((~positive).sum())
    n = n1 + n0
    u = float(ranks[positive].sum() - n1 * (n1 + 1) / 2)
    _, ties = np.unique(scores, return_counts=True)
    tie_term = float(np.sum(ties**3 - ties)) / (n * (n - 1)) if n > 1 else 0.0
    return u, n1 * n0 / 2, n1 * n0 / 12 * ((n + 1) - tie_term)


def detectable_share(tests: Sequence[DriftTest], level: float) -> float | None:
    """The share of new, clearly separable traffic a window of this size detects about half the time at `level`.

    From the classifier's held-out rank-sum null: new inputs the classifier separates perfectly raise the expected
    AUC to 0.5 + share / 2, which reaches the one-sided critical AUC at share = 2 z sd (and the AUC floor at 0.1).
    Less separable drift needs a larger share; the MMD test may catch text that differs a lot sooner.
    """
    from scipy.stats import norm

    classifier = next((t for t in tests if t.name == "domain_classifier" and "auc_null_sd" in t.details), None)
    if classifier is None:
        return None
    share = 2 * float(norm.isf(level)) * classifier.details["auc_null_sd"]
    return min(1.0, max(share, 2 * (AUC_FLOOR - 0.5)))


# -- the tests ---------------------------------------------------------------------------------------


def domain_classifier(
    reference: Sequence[str],
    window: Sequence[str],
    *,
    seed: int = 0,
    holdout: float = 0.5,
    top_words: int = 10,
    examples: int = 5,
) -> DriftTest:
    """Can TF-IDF + logistic regression tell window inputs from reference inputs? Held-out ROC AUC.

    The classifier is fitted on a seeded, stratified share (1 - `holdout`) of both sets and scores the rest.
    Under no drift, which held-out inputs are the window's is a random draw given everything the model saw, so
    the Mann-Whitney test on the held-out scores is exact (normal approximation, ties corrected); the effect is
    the held-out AUC. (Cross-validated scores pooled over folds are not: each fold's model has seen the others'
    labels, and the rank-sum test on them rejects about 13% of null windows at 5%.) Details: the words that most
    mark the window and the reference, and the window inputs a model fitted on everything finds most
    characteristic.
    """
    from scipy.stats import norm
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    texts = [*reference, *window]
    labels = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(window), dtype=int)]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=20000)
    features = vectorizer.fit_transform(texts)
    train, test = train_test_split(np.arange(len(labels)), test_size=holdout, stratify=labels, random_state=seed)

    def classifier() -> LogisticRegression:
        return LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced")

    scores = classifier().fit(features[train], labels[train]).decision_function(features[test])
    u, mean, variance = rank_sum_null(labels[test], scores)
    pairs = int(labels[test].sum()) * int((labels[test] == 0).sum())
    sd = math.sqrt(variance) if variance > 0 else 0.0
    z = (u - mean) / sd if sd > 0 else 0.0
    auc = u / pairs
    details: dict[str, Any] = {
        "p_method": "Mann-Whitney on held-out scores",
        "held_out": len(test),
        "z": z,
        "auc_null_sd": sd / pairs,
    }
    model = classifier().fit(features, labels)
    coefficients = model.coef_.ravel()
    names = vectorizer.get_feature_names_out()
    order = np.argsort(coefficients)
    details["window_words"] = [(str(names[i]), round(float(coefficients[i]), 3)) for i in order[::-1][:top_words]]
    details["reference_words"] = [(str(names[i]), round(float(coefficients[i]), 3)) for i in order[:top_words]]
    window_scores = model.decision_function(features[len(reference) :])
    details["example_indices"] = [int(i) for i in np.argsort(-window_scores, kind="stable")[:examples]]
    return DriftTest(
        "domain_classifier", auc, float(norm.sf(z)), auc, "AUC", AUC_FLOOR, len(reference), len(window), details=details
    )


def embedding_mmd(
    reference: Sequence[str],
    window: Sequence[str],
    *,
    embed: Embedder = tfidf_svd,
    permutations: int = 4999,
    seed: int = 0,
    stop_above: float = 0.05,
    max_points: int = 1000,
) -> DriftTest:
    """Maximum mean discrepancy between the embeddings of both sets (RBF kernel, median bandwidth), permutation p.

    The statistic is the unbiased MMD^2, recomputed for a batch of permutations at once (one matrix product).
    The effect is the smallest share f of new traffic that explains it: a window mixing (1 - f) reference-like
    and f new inputs has MMD^2 = f^2 MMD^2(reference, new) <= f^2 (mean reference kernel + 1), so
    f >= sqrt(MMD^2 / (mean reference kernel + 1)). Each side is subsampled (seeded) to `max_points`.
    """
    rng = np.random.default_rng(seed)
    reference, window = (
        [texts[i] for i in sorted(rng.choice(len(texts), max_points, replace=False))]
        if len(texts) > max_points
        else list(texts)
        for texts in (reference, window)
    )
    x, y = embed(reference, window)
    points = np.vstack([x, y]).astype(float)
    norms = (points**2).sum(axis=1)
    squared = np.maximum(norms[:, None] + norms[None, :] - 2 * points @ points.T, 0.0)
    positive = squared[np.triu_indices(len(points), k=1)]
    positive = positive[positive > 0]
    bandwidth = float(np.median(positive)) if len(positive) else 1.0
    kernel = np.exp(-squared / bandwidth)
    n, m = len(x), len(y)
    total = float(kernel.sum())
    row_sums = kernel.sum(axis=1)
    kernel32 = kernel.astype(np.float32)

    def statistics(masks: np.ndarray) -> np.ndarray:
        masks32 = masks.astype(np.float32)
        within_window = np.einsum("ij,ij->i", masks32 @ kernel32, masks32).astype(float)
        window_all = masks @ row_sums
        across = window_all - within_window
        within_reference = total - within_window - 2 * across
        # the diagonal is exp(0) = 1 for each point
        return (within_reference - n) / (n * (n - 1)) + (within_window - m) / (m * (m - 1)) - 2 * across / (n * m)

    observed = float(statistics(np.r_[np.zeros(n), np.ones(m)][None])[0])
    result = batched_permutation_test(
        statistics, n + m, m, observed, permutations=permutations, seed=seed, stop_above=stop_above
    )
    reference_kernel = (kernel[:n, :n].sum() - n) / (n * (n - 1))
    share = min(1.0, math.sqrt(max(observed, 0.0) / (reference_kernel + 1.0)))
    details = {
        "p_method": "permutation",
        "permutations": result.drawn,
        "bandwidth": round(bandwidth, 6),
        "mmd": math.sqrt(max(observed, 0.0)),
        "null_q95": result.quantile(0.95),
        "reference_kernel": float(reference_kernel),
        "dims": int(x.shape[1]),
    }
    return DriftTest("embedding_mmd", observed, result.p_value, share, "new share", SHARE_FLOOR, n, m, details=details)


def output_length_shift(
    reference: Sequence[str],
    window: Sequence[str],
    *,
    bins: int = 10,
    permutations: int = 4999,
    seed: int = 0,
    stop_above: float = 0.05,
) -> DriftTest:
    """Output length in words: PSI over the reference's quantile bins, against its permutation null."""
    ref = np.array([len(t.split()) for t in reference], dtype=float)
    win = np.array([len(t.split()) for t in window], dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_codes = np.searchsorted(edges, ref, side="left")
    win_codes = np.searchsorted(edges, win, side="left")
    observed, p_value, excess, median, q95, drawn = psi_shift(
        ref_codes, win_codes, len(edges) + 1, permutations=permutations, seed=seed, stop_above=stop_above
    )
    details = {
        "psi": observed,
        "psi_null_median": median,
        "psi_null_q95": q95,
        "permutations": drawn,
        "bin_upper_edges": [float(e) for e in edges],
        "reference_mean": float(ref.mean()),
        "window_mean": float(win.mean()),
    }
    return DriftTest(
        "output_length", observed, p_value, excess, PSI_EFFECT, PSI_FLOOR, len(ref), len(win), details=details
    )


def label_shift(
    reference: Sequence[str],
    window: Sequence[str],
    *,
    permutations: int = 4999,
    seed: int = 0,
    stop_above: float = 0.05,
) -> DriftTest:
    """Label (answer class) distribution: PSI over every label against its permutation null (no merging)."""
    names = sorted(set(reference) | set(window))
    code = {name: k for k, name in enumerate(names)}
    observed, p_value, excess, median, q95, drawn = psi_shift(
        np.array([code[n] for n in reference]),
        np.array([code[n] for n in window]),
        len(names),
        permutations=permutations,
        seed=seed,
        stop_above=stop_above,
    )
    ref_count, win_count = Counter(reference), Counter(window)
    shares = {
        n: {"reference": round(ref_count[n] / len(reference), 4), "window": round(win_count[n] / len(window), 4)}
        for n in names
    }
    details = {
        "psi": observed,
        "psi_null_median": median,
        "psi_null_q95": q95,
        "permutations": drawn,
        "labels": len(names),
        "shares": shares,
    }
    return DriftTest(
        "label_shift", observed, p_value, excess, PSI_EFFECT, PSI_FLOOR, len(reference), len(window), details=details
    )


def perplexity_novelty(reference: Sequence[float], window: Sequence[float]) -> DriftTest:
    """Are window inputs more surprising to the base model? One-sided Mann-Whitney on per-token log-perplexity.

    Effect: AUC = P(a window input is more surprising than a reference input).
    """
    from scipy.stats import mannwhitneyu

    test = mannwhitneyu(window, reference, alternative="greater")
    auc = float(test.statistic) / (len(window) * len(reference))
    details = {"reference_median": float(np.median(reference)), "window_median": float(np.median(window))}
    return DriftTest(
        "input_perplexity",
        float(test.statistic),
        float(test.pvalue),
        auc,
        "AUC",
        AUC_FLOOR,
        len(reference),
        len(window),
        details=details,
    )


def log_perplexities(model: Any, texts: Sequence[str]) -> list[float]:
    """Per-token negative log-likelihood of each text under `model` (its `loglikelihood_rolling`)."""
    scored = model.loglikelihood_rolling(list(texts))
    return [-s.logprob / max(s.n_tokens, 1) for s in scored]
