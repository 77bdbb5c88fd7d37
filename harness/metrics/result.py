"""The one result type every metric returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MetricResult:
    """A metric value with its uncertainty and the per-item scores it came from.

    `per_item` maps item id -> that item's score (e.g. 1.0/0.0 for correctness, a sentence-level
    ROUGE-L F for summaries); paired comparisons between two models use it. `ci` is a 95% interval
    from a seeded bootstrap over items. `details` holds extras such as per-class F1 or a confusion matrix.
    """

    name: str
    value: float
    ci: tuple[float, float]
    n: int
    per_item: Mapping[str, float]
    higher_is_better: bool = True
    unit: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_binary(self) -> bool:
        """True when every per-item score is 0 or 1 (accuracy, exact match, pass/fail)."""
        return all(v in (0.0, 1.0) for v in self.per_item.values())

    def format(self, digits: int = 3) -> str:
        lo, hi = self.ci
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.value:.{digits}f}{unit} [{lo:.{digits}f}, {hi:.{digits}f}]"
