"""From statistics to decisions: seeded permutation p-values and corrections across the tests of a window.

Permutation p-values are (k + 1) / (n + 1), where k of the n permuted statistics reach the observed one: never
0, and exact under the null whatever the statistic. A test stops early once k is so large that even the full
run's p-value, at least (k + 1) / (n_planned + 1), would exceed `stop_above` (the alpha of the window): the
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


def permutation_test(
    statistic: Callable[[np.ndarray], float],
    labels: np.ndarray,
    observed: float,
    *,
    permutations: int,
    seed: int,
    stop_above: float = 0.05,
) -> PermutationResult:
    """Recompute `statistic` on seeded shuffles of `labels`; larger statistics mean more drift."""
    rng = np.random.default_rng(seed)
    null: list[float] = []
    exceed = 0
    for _ in range(permutations):
        value = statistic(rng.permutation(labels))
        null.append(value)
        exceed += value >= observed - 1e-12
        if (exceed + 1) / (permutations + 1) > stop_above:
            break
    return PermutationResult(permutation_p_value(exceed, len(null)), exceed, len(null), tuple(null))


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
