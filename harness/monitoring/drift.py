"""Drift tests between reference texts and one window of production traffic: one function per test.

Each returns a `DriftTest` with a p-value (one-sided: small means the window differs) and an effect size.
A test only counts as drift when its corrected p-value is under alpha *and* its effect reaches a practical
floor (AUC 0.55, PSI 0.1), so a large sample never turns a negligible difference into an alarm.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.monitoring.embeddings import Embedder, tfidf_svd
from harness.monitoring.inference import permutation_test

AUC_FLOOR = 0.55  # "or 0.55 for large samples": the practical floor of a classifier or a perplexity shift
PSI_BANDS = (0.1, 0.25)  # under 0.1 stable, 0.1-0.25 moderate shift, 0.25 and over major shift
PSI_FLOOR = PSI_BANDS[0]
LARGE_SAMPLE = 4000  # reference + window texts from which the classifier uses Mann-Whitney instead of permutations
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
        return psi_band(self.effect) if self.effect_name == "PSI" and self.effect is not None else None


def not_enough(name: str, effect_name: str, n_reference: int, n_window: int, minimum: int) -> DriftTest:
    """A test that was not run because one side has fewer than `minimum` items."""
    note = f"not enough data: {min(n_reference, n_window)} < {minimum} items"
    return DriftTest(name, None, None, None, effect_name, None, n_reference, n_window, note)


# -- PSI ---------------------------------------------------------------------------------------------


def psi(reference_counts: Sequence[float], window_counts: Sequence[float]) -> float:
    """Population stability index sum((w - r) * ln(w / r)) over bin shares; 0 for equal shares, symmetric, >= 0."""
    ref = np.asarray(reference_counts, dtype=float)
    win = np.asarray(window_counts, dtype=float)
    if ref.sum() <= 0 or win.sum() <= 0:
        return 0.0
    r = np.maximum(ref / ref.sum(), _PROPORTION_FLOOR)
    w = np.maximum(win / win.sum(), _PROPORTION_FLOOR)
    return float(max(0.0, np.sum((w - r) * np.log(w / r))))


def psi_band(value: float) -> str:
    """The conventional reading of a PSI: stable (< 0.1), moderate (0.1-0.25) or major (>= 0.25)."""
    return "stable" if value < PSI_BANDS[0] else "moderate" if value < PSI_BANDS[1] else "major"


def _chi_squared(reference_counts: np.ndarray, window_counts: np.ndarray, ordered: bool) -> tuple[float, float, int]:
    """Chi-squared test of homogeneity on a 2 x K table after merging sparse columns; (chi2, p, dof)."""
    from scipy.stats import chi2_contingency

    table = _merge_sparse(np.vstack([reference_counts, window_counts]), ordered)
    if table.shape[1] < 2:
        return 0.0, 1.0, 0
    chi2, p, dof, _ = chi2_contingency(table, correction=False)
    return float(chi2), float(p), int(dof)


def _merge_sparse(table: np.ndarray, ordered: bool, min_expected: float = 5.0) -> np.ndarray:
    """Merge columns until every expected count is at least `min_expected` (neighbours if ordered, else the rarest)."""
    table = table[:, table.sum(axis=0) > 0]
    share = table.sum(axis=1, keepdims=True) / max(table.sum(), 1)
    while table.shape[1] > 1 and (share * table.sum(axis=0)).min() < min_expected:
        column = int(np.argmin(table.sum(axis=0)))
        if ordered:
            neighbour = column - 1 if column == table.shape[1] - 1 else column + 1
            if 0 < column < table.shape[1] - 1 and table[:, column - 1].sum() < table[:, column + 1].sum():
                neighbour = column - 1
        else:
            others = [c for c in np.argsort(table.sum(axis=0)) if c != column]
            neighbour = int(others[0])
        table[:, neighbour] += table[:, column]
        table = np.delete(table, column, axis=1)
    return table


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of scores for labels 1 vs 0, from ranks (ties count half): the Mann-Whitney U over n1 * n0."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    positive = labels == 1
    n1, n0 = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


# -- the tests ---------------------------------------------------------------------------------------


def domain_classifier(
    reference: Sequence[str],
    window: Sequence[str],
    *,
    permutations: int = 199,
    seed: int = 0,
    stop_above: float = 0.05,
    folds: int = 5,
    large_sample: int = LARGE_SAMPLE,
    top_words: int = 10,
    examples: int = 5,
) -> DriftTest:
    """Can TF-IDF + logistic regression tell window inputs from reference inputs? Cross-validated ROC AUC.

    p-value: permutation null of the AUC (reference/window labels shuffled, seeded); from `large_sample` texts on,
    Mann-Whitney on the out-of-fold scores. Details: the words that most mark the window and the reference, and
    the window inputs the classifier finds most characteristic.
    """
    from scipy.stats import mannwhitneyu
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    texts = [*reference, *window]
    labels = np.r_[np.zeros(len(reference), dtype=int), np.ones(len(window), dtype=int)]
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, max_features=20000)
    features = vectorizer.fit_transform(texts)
    splitter = StratifiedKFold(n_splits=min(folds, len(reference), len(window)), shuffle=True, random_state=seed)

    def classifier() -> LogisticRegression:
        return LogisticRegression(C=1.0, solver="liblinear", class_weight="balanced")

    def out_of_fold(y: np.ndarray) -> np.ndarray:
        scores = np.zeros(len(y))
        for train, test in splitter.split(features, y):
            scores[test] = classifier().fit(features[train], y[train]).decision_function(features[test])
        return scores

    def auc(y: np.ndarray) -> float:
        return roc_auc(y, out_of_fold(y))

    scores = out_of_fold(labels)
    observed = roc_auc(labels, scores)
    details: dict[str, Any] = {"folds": splitter.get_n_splits()}
    if len(texts) >= large_sample:
        p_value = float(mannwhitneyu(scores[labels == 1], scores[labels == 0], alternative="greater").pvalue)
        details["p_method"] = "Mann-Whitney U on out-of-fold scores (large sample)"
    else:
        result = permutation_test(auc, labels, observed, permutations=permutations, seed=seed, stop_above=stop_above)
        p_value = result.p_value
        details |= {"p_method": "permutation", "permutations": result.drawn, "null_q95": result.quantile(0.95)}
    coefficients = classifier().fit(features, labels).coef_.ravel()
    names = vectorizer.get_feature_names_out()
    order = np.argsort(coefficients)
    details["window_words"] = [(str(names[i]), round(float(coefficients[i]), 3)) for i in order[::-1][:top_words]]
    details["reference_words"] = [(str(names[i]), round(float(coefficients[i]), 3)) for i in order[:top_words]]
    window_scores = scores[len(reference) :]
    details["example_indices"] = [int(i) for i in np.argsort(-window_scores, kind="stable")[:examples]]
    return DriftTest(
        "domain_classifier", observed, p_value, observed, "AUC", AUC_FLOOR, len(reference), len(window), details=details
    )


def embedding_mmd(
    reference: Sequence[str],
    window: Sequence[str],
    *,
    embed: Embedder = tfidf_svd,
    permutations: int = 999,
    seed: int = 0,
    stop_above: float = 0.05,
    max_points: int = 2000,
) -> DriftTest:
    """Maximum mean discrepancy between the embeddings of both sets (RBF kernel, median bandwidth), permutation p.

    The statistic is the unbiased MMD^2; the effect is MMD (its square root, 0 when negative). Each side is
    subsampled (seeded) to `max_points`, so the kernel matrix stays small whatever the traffic.
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
    labels = np.r_[np.zeros(len(x), dtype=int), np.ones(len(y), dtype=int)]

    def mmd2(z: np.ndarray) -> float:
        a, b = (z == 0).astype(float), (z == 1).astype(float)
        n, m = a.sum(), b.sum()
        ka, kb = kernel @ a, kernel @ b
        within_a = (a @ ka - n) / (n * (n - 1))  # the diagonal is exp(0) = 1 for each point
        within_b = (b @ kb - m) / (m * (m - 1))
        return float(within_a + within_b - 2 * (a @ kb) / (n * m))

    observed = mmd2(labels)
    result = permutation_test(mmd2, labels, observed, permutations=permutations, seed=seed, stop_above=stop_above)
    details = {
        "p_method": "permutation",
        "permutations": result.drawn,
        "bandwidth": round(bandwidth, 6),
        "null_q95": result.quantile(0.95),
        "dims": int(x.shape[1]),
    }
    effect = math.sqrt(max(observed, 0.0))
    return DriftTest("embedding_mmd", observed, result.p_value, effect, "MMD", None, len(x), len(y), details=details)


def output_length_shift(reference: Sequence[str], window: Sequence[str], *, bins: int = 10) -> DriftTest:
    """Output length in words: PSI over the reference's quantile bins, chi-squared test of homogeneity."""
    ref = np.array([len(t.split()) for t in reference], dtype=float)
    win = np.array([len(t.split()) for t in window], dtype=float)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    ref_counts = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=len(edges) + 1)
    win_counts = np.bincount(np.searchsorted(edges, win, side="left"), minlength=len(edges) + 1)
    chi2, p_value, dof = _chi_squared(ref_counts, win_counts, ordered=True)
    details = {
        "chi2_dof": dof,
        "bin_upper_edges": [float(e) for e in edges],
        "reference_mean": float(ref.mean()),
        "window_mean": float(win.mean()),
    }
    return DriftTest(
        "output_length",
        chi2,
        p_value,
        psi(ref_counts, win_counts),
        "PSI",
        PSI_FLOOR,
        len(ref),
        len(win),
        details=details,
    )


def label_shift(reference: Sequence[str], window: Sequence[str]) -> DriftTest:
    """Label (answer class) distribution: PSI over labels, chi-squared test of homogeneity (rare labels merged)."""
    names = sorted(set(reference) | set(window))
    ref_count, win_count = Counter(reference), Counter(window)
    ref_counts = np.array([ref_count[n] for n in names], dtype=float)
    win_counts = np.array([win_count[n] for n in names], dtype=float)
    chi2, p_value, dof = _chi_squared(ref_counts, win_counts, ordered=False)
    shares = {
        n: {"reference": round(ref_count[n] / len(reference), 4), "window": round(win_count[n] / len(window), 4)}
        for n in names
    }
    return DriftTest(
        "label_shift",
        chi2,
        p_value,
        psi(ref_counts, win_counts),
        "PSI",
        PSI_FLOOR,
        len(reference),
        len(window),
        details={"chi2_dof": dof, "shares": shares},
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
