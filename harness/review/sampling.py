"""How many answers people must review (Cochran) and which ones (stratified, seeded, disagreements oversampled)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from harness.errors import HarnessError
from harness.review.items import ReviewItem

DISAGREE = "base and tuned disagree"


def cochran_size(population: int, *, confidence: float = 0.95, margin: float = 0.05, proportion: float = 0.5) -> int:
    """Sample size for a proportion within ±margin at `confidence`, with the finite-population correction.

    n0 = z² p(1-p) / e² (p = 0.5 is the worst case); n = n0 / (1 + (n0 - 1) / N), rounded up, at most N.
    """
    if population < 1:
        raise HarnessError(f"cannot sample from {population} items", hint="run the suites so there are answers")
    if not 0 < confidence < 1:
        raise HarnessError(f"--confidence must be between 0 and 1, got {confidence}", hint="e.g. --confidence 0.95")
    if not 0 < margin < 1:
        raise HarnessError(f"--margin must be between 0 and 1, got {margin}", hint="e.g. --margin 0.05 for ±5%")
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    n0 = z * z * proportion * (1 - proportion) / (margin * margin)
    n = n0 / (1 + (n0 - 1) / population)
    return min(population, max(1, math.ceil(n - 1e-9)))


@dataclass(frozen=True)
class Stratum:
    """A group of items sampled together; `weight` = population / sampled, used when estimating rates."""

    name: str
    population: int
    sampled: int

    @property
    def weight(self) -> float:
        return self.population / self.sampled if self.sampled else 0.0


@dataclass(frozen=True)
class ReviewSample:
    """The items drawn for review, in review order, with the strata they were drawn from."""

    items: tuple[ReviewItem, ...]
    strata: dict[str, Stratum]
    stratum_of: dict[tuple[str, str], str]
    population: int
    target: int
    confidence: float
    margin: float
    seed: int

    def explain(self) -> str:
        """One line on the size and why, e.g. '323 of 2,000 items for ±5% at 95%'."""
        line = (
            f"{len(self.items):,} of {self.population:,} items for ±{self.margin:.0%} at {self.confidence:.0%} "
            f"(Cochran's formula with finite-population correction, p = 0.5)"
        )
        if (disagree := self.strata.get(DISAGREE)) is not None:
            share = disagree.population / self.population
            line += (
                f"; base and tuned disagree on {disagree.population:,} ({share:.0%}), "
                f"oversampled to {disagree.sampled:,} and reweighted in the estimates"
            )
        return line


def stratum_name(item: ReviewItem) -> str:
    """The stratum of an item: disagreements together, the rest by eval set and category."""
    if item.disagree:
        return DISAGREE
    return f"{item.eval_set} / {item.category or '-'}"


def allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Proportional allocation of `total` over strata (largest remainder), each capped at its size.

    When `total` allows, every non-empty stratum gets at least one item, so none is left out of the estimates.
    """
    allocation = {name: 0 for name in sizes}
    remaining = min(total, sum(sizes.values()))
    if remaining >= sum(1 for size in sizes.values() if size > 0):
        allocation = {name: min(1, size) for name, size in sizes.items()}
        remaining -= sum(allocation.values())
    open_strata = {name for name, size in sizes.items() if size > 0}
    while remaining > 0 and open_strata:
        pool = sum(sizes[name] - allocation[name] for name in open_strata)
        shares = {name: remaining * (sizes[name] - allocation[name]) / pool for name in open_strata}
        floors = {name: math.floor(share) for name, share in shares.items()}
        leftover = remaining - sum(floors.values())
        for name in sorted(open_strata, key=lambda s: (-(shares[s] - floors[s]), s))[:leftover]:
            floors[name] += 1
        for name, extra in floors.items():
            allocation[name] += extra
            remaining -= extra
        open_strata = {name for name in open_strata if allocation[name] < sizes[name]}
    return allocation


def draw_sample(
    items: Sequence[ReviewItem],
    *,
    confidence: float = 0.95,
    margin: float = 0.05,
    seed: int = 0,
    oversample: float = 2.0,
    size: int | None = None,
) -> ReviewSample:
    """A seeded stratified sample; the disagreement stratum gets `oversample` x its proportional share."""
    if oversample < 1:
        raise HarnessError(f"--oversample must be at least 1, got {oversample}")
    population = len(items)
    target = cochran_size(population, confidence=confidence, margin=margin) if size is None else size
    if not 1 <= target <= population:
        raise HarnessError(f"--size must be between 1 and {population}, got {target}")
    groups: dict[str, list[ReviewItem]] = {}
    for item in sorted(items, key=lambda i: i.key):
        groups.setdefault(stratum_name(item), []).append(item)
    sizes = {name: len(group) for name, group in groups.items()}
    allocation: dict[str, int] = {}
    if DISAGREE in sizes:
        proportional = target * sizes[DISAGREE] / population
        allocation[DISAGREE] = min(sizes[DISAGREE], target, max(1, round(oversample * proportional)))
    rest = {name: n for name, n in sizes.items() if name != DISAGREE}
    allocation |= allocate(rest, target - allocation.get(DISAGREE, 0))
    rng = np.random.default_rng(seed)
    chosen: list[ReviewItem] = []
    stratum_of: dict[tuple[str, str], str] = {}
    for name in sorted(groups):
        group = groups[name]
        picks = sorted(rng.choice(len(group), size=allocation[name], replace=False).tolist())
        for index in picks:
            chosen.append(group[index])
            stratum_of[group[index].key] = name
    order = rng.permutation(len(chosen)).tolist()  # review order mixes strata, so partial reviews are unbiased
    strata = {name: Stratum(name, sizes[name], allocation[name]) for name in sorted(groups)}
    return ReviewSample(
        items=tuple(chosen[i] for i in order),
        strata=strata,
        stratum_of=stratum_of,
        population=population,
        target=target,
        confidence=confidence,
        margin=margin,
        seed=seed,
    )
