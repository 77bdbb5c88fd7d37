"""Semantic similarity: cosine between output and reference embeddings of all-MiniLM-L6-v2 (optional extra).

The embeddings are `harness.text.embeddings`' (the same as the data lint's and the drift test's); the model
is imported only when this metric is used.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.metrics.items import check_items, check_texts, mean_result
from harness.metrics.result import MetricResult
from harness.text.embeddings import MODEL_NAME, embed


def semantic_similarity(
    predictions: Sequence[str],
    references: Sequence[str],
    ids: Sequence[Any],
    *,
    name: str = "semantic_similarity",
    batch_size: int = 64,
    device: str = "cpu",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Mean cosine similarity (-1..1, 1 = same meaning) between each prediction's and reference's embedding."""
    ids = check_items(name, ids, predictions=predictions, references=references)
    check_texts(name, "predictions", predictions)
    check_texts(name, "references", references)
    encode = functools.partial(embed, feature="semantic similarity", batch_size=batch_size, device=device)
    predicted, expected = encode(predictions), encode(references)
    cosine = np.einsum("ij,ij->i", predicted, expected)  # both unit length (an empty text embeds to a unit vector)
    details = {"model": MODEL_NAME}
    return mean_result(name, ids, np.clip(cosine, -1.0, 1.0), details=details, n_resamples=n_resamples, seed=seed)
