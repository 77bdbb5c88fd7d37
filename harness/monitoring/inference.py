"""From statistics to decisions: seeded permutation p-values and corrections across the tests of a window.

Permutation p-values are (k + 1) / (n + 1), where k of the n permuted statistics reach the observed one: never
0, and exact under the null whatever the statistic. A test stops early once k is so large that even the full
run's p-value, at least (k + 1) / (n_planned + 1), would exceed `stop_above` (the level of the window): the
p-value reported is then (k + 1) / (n_drawn + 1), larger still (a valid sequential p-value, Besag & Clifford
1991), so every verdict at that alpha is the one all permutations would give, at a fraction of the cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

CORRECTIONS = ("holm", "bonferroni")


@dataclass(frozen=True)
class PermutationResult:
    """A permutation test's p-value, how many permuted statistics reached the observed one, and the null drawn."""

    p_value: float
    exceed: int
    drawn: int
    null: tuple[float, ...]

    def quantile(self, q: float) -> float | None:
        """A quantile of the permutation null (None when fewer than 20 permutations were drawn)."""
        return float(np.quantile(self.null, q)) if len(self.null) >= 20 else None


def permutation_p_value(exceed: int, drawn: int) -> float:
    """(k + 1) / (n + 1) for k of n permuted statistics at or above the observed one."""
    return (exceed + 1) / (drawn + 1)


def window_masks(n_total: int, n_window: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random splits of `n_total` items as 0/1 rows marking `n_window` of them as the window."""
    keys = rng.random((count, n_total))
    chosen = np.argpartition(keys, n_window - 1, axis=1)[:, :n_window] if n_window < n_total else None
    masks = np.zeros((count, n_total))
    if chosen is None:
        masks[:] = 1.0
    else:
        np.put_along_axis(masks, chosen, 1.0, axis=1)
    return masks


def batched_permutation_test(
    statistics: Callable[[np.ndarray], np.ndarray],
    n_total: int,
    n_window: int,
    observed: float,
    *,
    permutations: int,
    seed: int,
    stop_above: float = 0.05,
    batch: int = 500,
) -> PermutationResult:
    """A permutation test whose statistic is computed for a batch of splits at once (rows of 0/1 window masks);
    larger statistics mean more drift.

    The first batch always runs (so the null's quantiles are known); later ones stop early by the rule above,
    checked between batches.
    """
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    exceed = drawn = 0
    while drawn < permutations:
        size = min(batch, permutations - drawn)
        values = np.asarray(statistics(window_masks(n_total, n_window, size, rng)), dtype=float).reshape(size)
        parts.append(values)
        exceed += int(np.sum(values >= observed - 1e-12))
        drawn += size
        if (exceed + 1) / (permutations + 1) > stop_above:
            break
    null = np.concatenate(parts)
    return PermutationResult(permutation_p_value(exceed, drawn), exceed, drawn, tuple(null.tolist()))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values: the family-wise error stays under alpha, with more power than Bonferroni."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def bonferroni(p_values: Sequence[float]) -> list[float]:
    """Bonferroni adjusted p-values: each p times the number of tests, capped at 1."""
    return [min(1.0, len(p_values) * p) for p in p_values]


def adjust(p_values: Sequence[float], method: str) -> list[float]:
    """Adjusted p-values by `method` (holm or bonferroni)."""
    return holm(p_values) if method == "holm" else bonferroni(p_values)
