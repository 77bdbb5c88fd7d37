"""Accuracy, precision, recall, F1 and the confusion matrix from scikit-learn, with item-resampling CIs.

Per-item score is 1.0 when the prediction equals the reference label, else 0.0. Precision, recall and F1
are not means of those, so their intervals resample items and recompute the averaged statistic from
per-class counts (see harness.metrics.corpus). zero_division=0 throughout, without warnings.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.metrics.items import check_items, corpus_result, mean_result
from harness.metrics.result import MetricResult

AVERAGES = ("macro", "micro", "weighted")


def _labels(name: str, predictions: Sequence[Hashable], references: Sequence[Hashable]) -> list[Any]:
    """Sorted labels seen in either column: scikit-learn's default label order (unique_labels)."""
    values = set(references) | set(predictions)
    if len({isinstance(v, str) for v in values}) > 1:
        raise HarnessError(
            f"{name}: predicted and reference labels mix strings with other types",
            hint="use one label type (all strings or all integers) for predictions and references",
        )
    try:
        labels = sorted(values)
    except TypeError as exc:
        raise HarnessError(f"{name}: labels cannot be ordered: {exc}", hint="use string or integer labels") from None
    return [v.item() if isinstance(v, np.generic) else v for v in labels]


def _codes(
    predictions: Sequence[Hashable], references: Sequence[Hashable], labels: list[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(reference codes, prediction codes): each label's position in `labels`.

    scikit-learn gives the same numbers for the codes as for the labels (their order is the same), and
    reads integer codes far faster than strings."""
    index = {label: k for k, label in enumerate(labels)}.__getitem__
    n = len(references)
    return np.fromiter(map(index, references), np.int64, n), np.fromiter(map(index, predictions), np.int64, n)


def _details(truth: np.ndarray, guess: np.ndarray, labels: list[Any]) -> dict[str, Any]:
    """Per-class precision/recall/F1/support and the confusion matrix (rows: reference, columns: predicted)."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    codes = np.arange(len(labels))
    p, r, f, support = precision_recall_fscore_support(truth, guess, labels=codes, average=None, zero_division=0.0)
    per_class = {
        str(label): {"precision": float(p[k]), "recall": float(r[k]), "f1": float(f[k]), "support": int(support[k])}
        for k, label in enumerate(labels)
    }
    with warnings.catch_warnings():  # one label seen: the 1x1 matrix is right, the advice to pass labels moot
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        matrix = confusion_matrix(truth, guess, labels=codes)
    return {"labels": labels, "per_class": per_class, "confusion_matrix": matrix.tolist()}


def _correct(truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """1.0 where the prediction equals the reference label, else 0.0."""
    return (truth == guess).astype(np.float64)


def accuracy(
    predictions: Sequence[Hashable],
    references: Sequence[Hashable],
    ids: Sequence[Any],
    *,
    name: str = "accuracy",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Share of items predicted correctly, as sklearn.metrics.accuracy_score; details hold the confusion matrix."""
    from sklearn.metrics import accuracy_score

    ids = check_items(name, ids, predictions=predictions, references=references)
    labels = _labels(name, predictions, references)
    truth, guess = _codes(predictions, references, labels)
    value = accuracy_score(truth, guess)
    details = _details(truth, guess, labels)
    scores = _correct(truth, guess)
    return mean_result(name, ids, scores, value=value, details=details, n_resamples=n_resamples, seed=seed)


def _averaged(
    metric: str,
    predictions: Sequence[Hashable],
    references: Sequence[Hashable],
    ids: Sequence[Any],
    average: str,
    name: str | None,
    n_resamples: int,
    seed: int,
) -> MetricResult:
    from sklearn import metrics as sk

    name = name or f"{average}_{metric}"
    if average not in AVERAGES:
        raise HarnessError(f"{name}: unknown average {average!r}", hint=f"use one of {', '.join(AVERAGES)}")
    ids = check_items(name, ids, predictions=predictions, references=references)
    labels = _labels(name, predictions, references)
    scorer = {"precision": sk.precision_score, "recall": sk.recall_score, "f1": sk.f1_score}[metric]
    truth, guess = _codes(predictions, references, labels)
    value = scorer(truth, guess, average=average, zero_division=0.0)
    stats = np.column_stack([truth, guess])
    spec = {"kind": "classification", "metric": metric, "average": average, "n_labels": len(labels)}
    details = {"average": average, **_details(truth, guess, labels)}
    return corpus_result(
        name,
        ids,
        value,
        _correct(truth, guess),
        stats,
        spec,
        details=details,
        n_resamples=n_resamples,
        seed=seed,
    )


def precision(
    predictions: Sequence[Hashable],
    references: Sequence[Hashable],
    ids: Sequence[Any],
    *,
    average: str = "macro",
    name: str | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Precision averaged over labels ("macro", "micro" or "weighted"), as sklearn.metrics.precision_score."""
    return _averaged("precision", predictions, references, ids, average, name, n_resamples, seed)


def recall(
    predictions: Sequence[Hashable],
    references: Sequence[Hashable],
    ids: Sequence[Any],
    *,
    average: str = "macro",
    name: str | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Recall averaged over labels ("macro", "micro" or "weighted"), as sklearn.metrics.recall_score."""
    return _averaged("recall", predictions, references, ids, average, name, n_resamples, seed)


def f1(
    predictions: Sequence[Hashable],
    references: Sequence[Hashable],
    ids: Sequence[Any],
    *,
    average: str = "macro",
    name: str | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """F1 averaged over labels ("macro", "micro" or "weighted"), as sklearn.metrics.f1_score."""
    return _averaged("f1", predictions, references, ids, average, name, n_resamples, seed)
