"""Perplexity from rolling log-likelihoods, with lm-evaluation-harness's definitions (lower is better)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.metrics.items import check_items, check_texts, corpus_result
from harness.metrics.result import MetricResult
from harness.models.base import RollingLoglikelihood


def perplexity(
    rolling: Sequence[RollingLoglikelihood],
    texts: Sequence[str],
    ids: Sequence[Any],
    *,
    name: str = "perplexity",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Token perplexity exp(-sum logprob / sum tokens) over all texts; per item each text's own perplexity.

    Details add lm-eval's word_perplexity, byte_perplexity and bits_per_byte (words: len(re.split(r"\\s+",
    text)); bytes: UTF-8 length). The CI resamples texts and recomputes the ratio of sums.
    """
    ids = check_items(name, ids, rolling=rolling, texts=texts)
    check_texts(name, "texts", texts)
    for item, record in zip(ids, rolling, strict=True):
        if not isinstance(record, RollingLoglikelihood):
            raise HarnessError(f"{name}: item {item} is {type(record).__name__}, expected a RollingLoglikelihood")
        if record.n_tokens <= 0:
            raise HarnessError(f"{name}: item {item} was scored on {record.n_tokens} tokens", hint="drop empty texts")
        if not math.isfinite(record.logprob):
            raise HarnessError(f"{name}: item {item} has a non-finite log-likelihood ({record.logprob})")
    logprob = np.array([r.logprob for r in rolling], dtype=np.float64)
    tokens = np.array([r.n_tokens for r in rolling], dtype=np.float64)
    words = sum(len(re.split(r"\s+", text)) for text in texts)
    n_bytes = sum(len(text.encode("utf-8")) for text in texts)
    total = float(logprob.sum())
    details = {
        "word_perplexity": math.exp(-total / words),
        "byte_perplexity": math.exp(-total / n_bytes) if n_bytes else math.inf,
        "bits_per_byte": -total / n_bytes / math.log(2) if n_bytes else math.inf,
        "tokens": int(tokens.sum()),
        "words": words,
        "bytes": n_bytes,
    }
    return corpus_result(
        name,
        ids,
        math.exp(-total / float(tokens.sum())),
        np.exp(-logprob / tokens),
        np.column_stack([logprob, tokens]),
        {"kind": "perplexity"},
        higher_is_better=False,
        details=details,
        n_resamples=n_resamples,
        seed=seed,
    )
