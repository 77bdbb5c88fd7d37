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
from harness.text.embeddings import embed, require_model

METHODS = ("tfidf", "minilm")
_FEATURE, _INSTEAD = "--embeddings minilm", "use --embeddings tfidf"

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


def minilm(reference: Sequence[str], window: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """all-MiniLM-L6-v2 sentence embeddings (`harness.text.embeddings`), the reference embedded once."""
    return _reference_embeddings(tuple(reference)), embed(window, feature=_FEATURE, instead=_INSTEAD)


@lru_cache(maxsize=1)
def _reference_embeddings(reference: tuple[str, ...]) -> np.ndarray:
    """The reference's embeddings, kept while the same reference is compared with window after window."""
    return embed(reference, feature=_FEATURE, instead=_INSTEAD)


def embedder(method: str) -> Embedder:
    """The embedding function named by --embeddings."""
    if method not in METHODS:
        raise HarnessError(f"--embeddings {method!r} is unknown", hint=f"use one of: {', '.join(METHODS)}")
    if method == "minilm":
        require_model(_FEATURE, instead=_INSTEAD)  # fail now, before any window is processed
        return minilm
    return tfidf_svd
