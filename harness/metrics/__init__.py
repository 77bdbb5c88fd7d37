"""Metrics: thin wrappers over rouge-score, sacrebleu and scikit-learn, all returning MetricResult.

Wrappers are imported on first use, so `import harness` (and the pytest plugin) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.metrics.result import MetricResult

_EXPORTS = {
    "harness.metrics.answers": ("exact_match", "normalize_answer", "squad_f1", "token_f1"),
    "harness.metrics.classification": ("accuracy", "f1", "precision", "recall"),
    "harness.metrics.generation": ("latency", "output_length"),
    "harness.metrics.hallucination": (
        "CITATION_PATTERNS",
        "find_citations",
        "hallucination_rate",
        "normalize_citation",
        "relative_change",
    ),
    "harness.metrics.items": ("mean_score", "pass_rate"),
    "harness.metrics.perplexity": ("perplexity",),
    "harness.metrics.rouge_scores": ("rouge", "rouge1", "rouge2", "rougeL", "rougeLsum"),
    "harness.metrics.sacrebleu_scores": ("bleu", "chrf", "ter"),
    "harness.metrics.samples": ("pass_at_k", "pass_hat_k", "sample_mean"),
    "harness.metrics.semantic": ("semantic_similarity",),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "MetricResult",
    "CITATION_PATTERNS",
    "accuracy",
    "bleu",
    "chrf",
    "exact_match",
    "f1",
    "find_citations",
    "hallucination_rate",
    "latency",
    "mean_score",
    "normalize_answer",
    "normalize_citation",
    "output_length",
    "pass_at_k",
    "pass_hat_k",
    "pass_rate",
    "perplexity",
    "precision",
    "recall",
    "relative_change",
    "rouge",
    "rouge1",
    "rouge2",
    "rougeL",
    "rougeLsum",
    "sample_mean",
    "semantic_similarity",
    "squad_f1",
    "ter",
    "token_f1",
]

if TYPE_CHECKING:
    from harness.metrics.answers import exact_match, normalize_answer, squad_f1, token_f1
    from harness.metrics.classification import accuracy, f1, precision, recall
    from harness.metrics.generation import latency, output_length
    from harness.metrics.hallucination import (
        CITATION_PATTERNS,
        find_citations,
        hallucination_rate,
        normalize_citation,
        relative_change,
    )
    from harness.metrics.items import mean_score, pass_rate
    from harness.metrics.perplexity import perplexity
    from harness.metrics.rouge_scores import rouge, rouge1, rouge2, rougeL, rougeLsum
    from harness.metrics.sacrebleu_scores import bleu, chrf, ter
    from harness.metrics.samples import pass_at_k, pass_hat_k, sample_mean
    from harness.metrics.semantic import semantic_similarity


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'harness.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
