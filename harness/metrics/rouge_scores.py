"""ROUGE F-measures from Google's rouge-score package (the implementation behind most published ROUGE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.errors import HarnessError
from harness.metrics.items import check_items, check_texts, mean_result
from harness.metrics.result import MetricResult

ROUGE_KINDS = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def rouge(
    predictions: Sequence[str],
    references: Sequence[str],
    ids: Sequence[Any],
    *,
    kind: str = "rougeL",
    use_stemmer: bool = True,
    name: str | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Mean ROUGE F-measure (0-1) of each prediction against its reference; per item: that pair's F-measure.

    `kind` is rouge1, rouge2, rougeL or rougeLsum (rougeLsum splits summaries into sentences on newlines).
    Stemming (Porter, as in the original ROUGE-1.5.5 `-m`) is on by default.
    """
    from rouge_score import rouge_scorer

    name = name or kind
    if kind not in ROUGE_KINDS:
        raise HarnessError(f"{name}: unknown ROUGE kind {kind!r}", hint=f"use one of {', '.join(ROUGE_KINDS)}")
    ids = check_items(name, ids, predictions=predictions, references=references)
    check_texts(name, "predictions", predictions)
    check_texts(name, "references", references)
    scorer = rouge_scorer.RougeScorer([kind], use_stemmer=use_stemmer)
    scores = [scorer.score(ref, pred)[kind] for pred, ref in zip(predictions, references, strict=True)]
    n = len(scores)
    details = {
        "kind": kind,
        "use_stemmer": use_stemmer,
        "precision": sum(s.precision for s in scores) / n,
        "recall": sum(s.recall for s in scores) / n,
    }
    fmeasures = [s.fmeasure for s in scores]
    return mean_result(name, ids, fmeasures, details=details, n_resamples=n_resamples, seed=seed)


def rouge1(predictions: Sequence[str], references: Sequence[str], ids: Sequence[Any], **options: Any) -> MetricResult:
    """ROUGE-1 (unigram overlap) F-measure; see `rouge`."""
    return rouge(predictions, references, ids, kind="rouge1", **options)


def rouge2(predictions: Sequence[str], references: Sequence[str], ids: Sequence[Any], **options: Any) -> MetricResult:
    """ROUGE-2 (bigram overlap) F-measure; see `rouge`."""
    return rouge(predictions, references, ids, kind="rouge2", **options)


def rougeL(predictions: Sequence[str], references: Sequence[str], ids: Sequence[Any], **options: Any) -> MetricResult:
    """ROUGE-L (longest common subsequence) F-measure; see `rouge`."""
    return rouge(predictions, references, ids, kind="rougeL", **options)


def rougeLsum(
    predictions: Sequence[str], references: Sequence[str], ids: Sequence[Any], **options: Any
) -> MetricResult:
    """ROUGE-Lsum (summary-level LCS over newline-separated sentences) F-measure; see `rouge`."""
    return rouge(predictions, references, ids, kind="rougeLsum", **options)
