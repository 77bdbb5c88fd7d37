"""Several sampled answers per item: average a metric over the samples, and pass@k / pass^k of a check.

The item stays the unit: each item's score is its mean over samples (or its pass@k), so bootstrap
intervals and paired tests resample items, never individual samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

import numpy as np

from harness.errors import HarnessError
from harness.metrics.items import check_items, mean_result
from harness.metrics.result import MetricResult


def sample_mean(per_sample: Sequence[MetricResult], *, name: str | None = None) -> MetricResult:
    """One result from the same mean-type metric scored on each sample: per item, the mean over samples."""
    if not per_sample:
        raise HarnessError("sample_mean needs at least one result")
    first = per_sample[0]
    if any(r.corpus is not None for r in per_sample):
        raise HarnessError(
            f"{first.name}: a corpus statistic (BLEU, F1, perplexity) cannot be averaged per item over samples",
            hint="average a per-item metric (ROUGE, exact match, a pass/fail check) instead",
        )
    ids = list(first.per_item)
    if any(set(r.per_item) != set(ids) for r in per_sample):
        raise HarnessError(f"{first.name}: the samples were scored on different items")
    scores = np.mean([[r.per_item[i] for i in ids] for r in per_sample], axis=0)
    return mean_result(
        name or first.name,
        ids,
        scores,
        higher_is_better=first.higher_is_better,
        unit=first.unit,
        details={"samples": len(per_sample)},
    )


def _passes(name: str, passes: Sequence[Sequence[bool]], k: int) -> list[tuple[int, int]]:
    counts = []
    for position, item in enumerate(passes):
        n = len(item)
        if n < k:
            raise HarnessError(f"{name}: item {position} has {n} samples, fewer than k={k}")
        counts.append((n, int(sum(bool(p) for p in item))))
    return counts


def pass_at_k(passes: Sequence[Sequence[bool]], ids: Sequence[str], k: int, *, name: str = "") -> MetricResult:
    """Chance that at least one of k samples passes, per item, by the unbiased estimator 1 - C(n-c, k)/C(n, k)
    (Chen et al. 2021, "Evaluating Large Language Models Trained on Code")."""
    name = name or f"pass@{k}"
    ids = check_items(name, ids, passes=passes)
    scores = [1.0 - comb(n - c, k) / comb(n, k) for n, c in _passes(name, passes, k)]
    return mean_result(name, ids, scores, details={"k": k})


def pass_hat_k(passes: Sequence[Sequence[bool]], ids: Sequence[str], k: int, *, name: str = "") -> MetricResult:
    """Chance that all of k samples pass, per item, C(c, k)/C(n, k): reliability rather than luck (pass^k)."""
    name = name or f"pass^{k}"
    ids = check_items(name, ids, passes=passes)
    scores = [comb(c, k) / comb(n, k) for n, c in _passes(name, passes, k)]
    return mean_result(name, ids, scores, details={"k": k})
