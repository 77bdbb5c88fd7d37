"""Checking per-item inputs and turning per-item scores into a MetricResult with its bootstrap interval."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.metrics.corpus import statistic_from_spec
from harness.metrics.result import CorpusStats, MetricResult
from harness.stats import bootstrap_ci


def check_items(metric: str, ids: Sequence[Any], **columns: Sequence[Any]) -> list[str]:
    """Item ids as strings, after checking they are unique and every column has one entry per id."""
    if isinstance(ids, str):
        raise HarnessError(f"{metric}: ids must be a sequence of item ids, not one string")
    ids = list(map(str, ids))
    for column, values in columns.items():
        if isinstance(values, str):
            raise HarnessError(f"{metric}: {column} must be a sequence with one entry per item, not one string")
        if len(values) != len(ids):
            raise HarnessError(
                f"{metric}: length mismatch: {len(values)} {column} but {len(ids)} ids",
                hint="pass one entry per item, in the same order as the ids",
            )
    if not ids:
        raise HarnessError(f"{metric}: no items to score", hint="check that the eval set is not empty")
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, count in Counter(ids).items() if count > 1)
        shown = ", ".join(repeated[:5]) + (f", ... ({len(repeated) - 5} more)" if len(repeated) > 5 else "")
        raise HarnessError(f"{metric}: duplicate item ids: {shown}", hint="give every eval item a unique id")
    return ids


def check_texts(metric: str, column: str, texts: Sequence[Any]) -> None:
    """Raise HarnessError naming the first entry of `texts` that is not a string."""
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise HarnessError(f"{metric}: {column}[{position}] is {type(text).__name__}, expected str")


def mean_result(
    name: str,
    ids: Sequence[str],
    scores: Sequence[float] | np.ndarray,
    *,
    higher_is_better: bool = True,
    unit: str = "",
    details: Mapping[str, Any] | None = None,
    value: float | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """A metric that is the mean of its per-item scores; `value` overrides the mean (e.g. a library's own)."""
    array = np.asarray(scores, dtype=np.float64)
    point = float(array.mean()) if value is None else float(value)
    lo, hi = bootstrap_ci(array, n_resamples=n_resamples, seed=seed)
    return MetricResult(
        name=name,
        value=point,
        ci=(min(lo, point), max(hi, point)),
        n=len(ids),
        per_item=dict(zip(ids, array.tolist(), strict=True)),
        higher_is_better=higher_is_better,
        unit=unit,
        details=dict(details or {}),
    )


def corpus_result(
    name: str,
    ids: Sequence[str],
    value: float,
    per_item: Sequence[float] | np.ndarray,
    item_stats: np.ndarray,
    spec: Mapping[str, Any],
    *,
    higher_is_better: bool = True,
    unit: str = "",
    details: Mapping[str, Any] | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """A corpus metric: CI from resampling items and recomputing the statistic from their sufficient stats.

    The stats and the recipe are kept in details (CorpusStats) so a paired comparison, even against a result
    read back from a baseline file, can recompute the statistic for both.
    """
    rows = np.asarray(item_stats, dtype=np.float64)
    additive, finish = statistic_from_spec(spec)
    lo, hi = bootstrap_ci(rows, finish, transform=additive, n_resamples=n_resamples, seed=seed)
    stored = rows.astype(np.int64) if np.all(rows == np.round(rows)) else rows
    return MetricResult(
        name=name,
        value=float(value),
        ci=(min(lo, float(value)), max(hi, float(value))),
        n=len(ids),
        per_item=dict(zip(ids, np.asarray(per_item, dtype=np.float64).tolist(), strict=True)),
        higher_is_better=higher_is_better,
        unit=unit,
        details={**dict(details or {}), **CorpusStats(dict(spec), tuple(ids), stored.T.tolist()).to_details()},
    )


def pass_rate(
    passed: Sequence[bool | float],
    ids: Sequence[Any],
    *,
    name: str = "pass_rate",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Share of items that passed (1.0 = pass, 0.0 = fail), with a bootstrap CI."""
    ids = check_items(name, ids, passed=passed)
    scores = [float(p) for p in passed]
    bad = [i for i, s in zip(ids, scores, strict=True) if s not in (0.0, 1.0)]
    if bad:
        raise HarnessError(f"{name}: pass/fail scores must be 0 or 1 (or bools); item {bad[0]} is not")
    return mean_result(name, ids, scores, n_resamples=n_resamples, seed=seed)


def mean_score(
    scores: Sequence[float],
    ids: Sequence[Any],
    *,
    name: str,
    higher_is_better: bool = True,
    unit: str = "",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Any per-item score you computed yourself, as a mean with a bootstrap CI (so it can be gated and paired)."""
    ids = check_items(name, ids, scores=scores)
    array = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise HarnessError(f"{name}: item {ids[int(np.flatnonzero(~np.isfinite(array))[0])]} has a non-finite score")
    return mean_result(
        name, ids, array, higher_is_better=higher_is_better, unit=unit, n_resamples=n_resamples, seed=seed
    )
