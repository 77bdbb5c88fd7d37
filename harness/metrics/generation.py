"""Latency and output length per example, from the backend's Generation records (lower is better)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.errors import HarnessError
from harness.metrics.items import check_items, mean_result
from harness.metrics.result import MetricResult
from harness.models.base import Generation

LENGTH_UNITS = ("tokens", "words")


def _generations(name: str, generations: Sequence[Generation], ids: Sequence[Any]) -> list[str]:
    ids = check_items(name, ids, generations=generations)
    for item, generation in zip(ids, generations, strict=True):
        if not isinstance(generation, Generation):
            raise HarnessError(f"{name}: item {item} is {type(generation).__name__}, expected a Generation record")
    return ids


def latency(
    generations: Sequence[Generation],
    ids: Sequence[Any],
    *,
    name: str = "latency",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Mean seconds per generated example (wall clock as the backend measured it); lower is better."""
    ids = _generations(name, generations, ids)
    seconds = [float(g.seconds) for g in generations]
    if any(s < 0 for s in seconds):
        raise HarnessError(f"{name}: negative generation time in the records")
    return mean_result(
        name,
        ids,
        seconds,
        higher_is_better=False,
        unit="s",
        n_resamples=n_resamples,
        seed=seed,
        details={"total_seconds": sum(seconds)},
    )


def output_length(
    generations: Sequence[Generation],
    ids: Sequence[Any],
    *,
    unit: str = "tokens",
    name: str | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Mean output length in generated tokens or whitespace-separated words; lower is better (verbosity)."""
    name = name or f"output_{unit}"
    if unit not in LENGTH_UNITS:
        raise HarnessError(f"{name}: unknown length unit {unit!r}", hint=f"use one of {', '.join(LENGTH_UNITS)}")
    ids = _generations(name, generations, ids)
    tokens = [float(g.n_tokens) for g in generations]
    words = [float(len(g.text.split())) for g in generations]
    n = len(ids)
    details = {"mean_tokens": sum(tokens) / n, "mean_words": sum(words) / n}
    scores = tokens if unit == "tokens" else words
    return mean_result(
        name, ids, scores, higher_is_better=False, unit=unit, details=details, n_resamples=n_resamples, seed=seed
    )
