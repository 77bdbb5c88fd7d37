"""Short-answer scoring with the SQuAD v1.1 definitions: exact match and token-level F1 after normalisation.

Normalisation (SQuAD's `normalize_answer`): lowercase, remove punctuation, remove the articles a/an/the,
collapse whitespace. Each item may have several acceptable references; the best-matching one counts.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import Any

from harness.errors import HarnessError
from harness.metrics.items import check_items, check_texts, mean_result
from harness.metrics.result import MetricResult

_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 answer normalisation: lowercase, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_f1(prediction: str, reference: str) -> float:
    """SQuAD v1.1 token F1 between one prediction and one reference (bag of normalised tokens)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(reference).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def _reference_sets(name: str, references: Sequence[str | Sequence[str]]) -> list[list[str]]:
    sets = []
    for position, reference in enumerate(references):
        options = [reference] if isinstance(reference, str) else list(reference)
        if not options or not all(isinstance(o, str) for o in options):
            raise HarnessError(f"{name}: references[{position}] must be a string or a non-empty list of strings")
        sets.append(options)
    return sets


def exact_match(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    ids: Sequence[Any],
    *,
    name: str = "exact_match",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Share of predictions equal to a reference after SQuAD normalisation (per item 1.0 or 0.0)."""
    ids = check_items(name, ids, predictions=predictions, references=references)
    check_texts(name, "predictions", predictions)
    options = _reference_sets(name, references)
    scores = [
        float(any(normalize_answer(p) == normalize_answer(r) for r in refs))
        for p, refs in zip(predictions, options, strict=True)
    ]
    return mean_result(name, ids, scores, n_resamples=n_resamples, seed=seed)


def token_f1(
    predictions: Sequence[str],
    references: Sequence[str | Sequence[str]],
    ids: Sequence[Any],
    *,
    name: str = "token_f1",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Mean SQuAD token-level F1 (per item: best F1 over that item's references)."""
    ids = check_items(name, ids, predictions=predictions, references=references)
    check_texts(name, "predictions", predictions)
    options = _reference_sets(name, references)
    scores = [max(squad_f1(p, r) for r in refs) for p, refs in zip(predictions, options, strict=True)]
    return mean_result(name, ids, scores, n_resamples=n_resamples, seed=seed)
