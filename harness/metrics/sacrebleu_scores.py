"""BLEU, chrF and TER from sacrebleu: corpus value, sentence-level per-item scores, corpus-resampling CI.

Scale: all three are reported as fractions, sacrebleu's 0-100 score divided by 100, so they sit on the same
0-1 scale as ROUGE, accuracy and F1 (a "1 point" drop is 0.01 everywhere). TER is an edit rate: lower is
better, 0 for identical text, and it can exceed 1. One reference per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.metrics.items import check_items, check_texts, corpus_result
from harness.metrics.result import MetricResult


def _inputs(name: str, predictions: Sequence[str], references: Sequence[str], ids: Sequence[Any]) -> list[str]:
    ids = check_items(name, ids, predictions=predictions, references=references)
    check_texts(name, "predictions", predictions)
    check_texts(name, "references", references)
    return ids


def _score(
    name: str,
    corpus_metric: Any,
    sentence_metric: Any,
    predictions: Sequence[str],
    references: Sequence[str],
    ids: list[str],
    spec: dict[str, Any],
    higher_is_better: bool,
    n_resamples: int,
    seed: int,
) -> MetricResult:
    # sacrebleu's own path for corpus_score / sentence_score, split so the statistics are extracted once:
    # per-sentence sufficient statistics -> corpus score from their sum, sentence score from each row.
    stats = corpus_metric._extract_corpus_statistics(list(predictions), [list(references)])
    value = corpus_metric._aggregate_and_compute(stats).score / 100.0
    per_item = np.array([sentence_metric._compute_score_from_stats(list(row)).score / 100.0 for row in stats])
    if higher_is_better:  # BLEU and chrF are bounded by 1; sacrebleu can return 100.00000000000004
        value, per_item = min(value, 1.0), np.minimum(per_item, 1.0)
    details = {"signature": str(corpus_metric.get_signature())}
    return corpus_result(
        name,
        ids,
        value,
        per_item,
        np.asarray(stats, dtype=np.float64),
        spec,
        higher_is_better=higher_is_better,
        details=details,
        n_resamples=n_resamples,
        seed=seed,
    )


def bleu(
    predictions: Sequence[str],
    references: Sequence[str],
    ids: Sequence[Any],
    *,
    name: str = "bleu",
    tokenize: str = "13a",
    lowercase: bool = False,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    max_ngram_order: int = 4,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Corpus BLEU (0-1) as sacrebleu.corpus_bleu; per item sentence BLEU as sacrebleu.sentence_bleu."""
    from sacrebleu.metrics import BLEU

    ids = _inputs(name, predictions, references, ids)
    options = dict(tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method, smooth_value=smooth_value)
    corpus_metric = BLEU(**options, max_ngram_order=max_ngram_order)
    sentence_metric = BLEU(**options, max_ngram_order=max_ngram_order, effective_order=True)
    spec = {
        "kind": "bleu",
        "max_ngram_order": max_ngram_order,
        "smooth_method": smooth_method,
        "smooth_value": smooth_value,
    }
    return _score(name, corpus_metric, sentence_metric, predictions, references, ids, spec, True, n_resamples, seed)


def chrf(
    predictions: Sequence[str],
    references: Sequence[str],
    ids: Sequence[Any],
    *,
    name: str = "chrf",
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    lowercase: bool = False,
    whitespace: bool = False,
    eps_smoothing: bool = False,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Corpus chrF (0-1; chrF++ with word_order=2) as sacrebleu.corpus_chrf; per item sentence chrF."""
    from sacrebleu.metrics import CHRF

    ids = _inputs(name, predictions, references, ids)
    metric = CHRF(
        char_order=char_order,
        word_order=word_order,
        beta=beta,
        lowercase=lowercase,
        whitespace=whitespace,
        eps_smoothing=eps_smoothing,
    )
    spec = {
        "kind": "chrf",
        "char_order": char_order,
        "word_order": word_order,
        "beta": beta,
        "eps_smoothing": eps_smoothing,
    }
    return _score(name, metric, metric, predictions, references, ids, spec, True, n_resamples, seed)


def ter(
    predictions: Sequence[str],
    references: Sequence[str],
    ids: Sequence[Any],
    *,
    name: str = "ter",
    normalized: bool = False,
    no_punct: bool = False,
    asian_support: bool = False,
    case_sensitive: bool = False,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Corpus TER (edits per reference word, lower is better) as sacrebleu.corpus_ter; per item sentence TER."""
    from sacrebleu.metrics import TER

    ids = _inputs(name, predictions, references, ids)
    metric = TER(normalized=normalized, no_punct=no_punct, asian_support=asian_support, case_sensitive=case_sensitive)
    return _score(name, metric, metric, predictions, references, ids, {"kind": "ter"}, False, n_resamples, seed)
