"""The one result type every metric returns, and the corpus statistics a corpus metric carries in it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

RECIPE_KEY, ITEM_STATS_KEY = "statistic", "item_stats"  # where CorpusStats lives in MetricResult.details (JSON)


@dataclass(frozen=True)
class CorpusStats:
    """What a corpus metric (BLEU, chrF, TER, macro F1, perplexity) needs to be recomputed on a resample of its
    items: the recipe of its statistic and each item's sufficient statistics. Kept in the result's details, so a
    result read back from a baseline file can be paired too."""

    recipe: Mapping[str, Any]
    """The statistic, e.g. {"kind": "bleu", "max_ngram_order": 4, ...} (harness.metrics.corpus)."""
    ids: tuple[str, ...] = ()
    columns: Sequence[Sequence[float]] = ()
    """One column per sufficient statistic, each with one value per item in `ids` order."""

    @property
    def kind(self) -> str:
        return str(self.recipe.get("kind", "statistic"))

    @classmethod
    def from_details(cls, details: Mapping[str, Any]) -> CorpusStats | None:
        """The corpus statistics in a result's details; None for a mean of per-item scores. Malformed item
        statistics give no ids, so no pairing can use them (never a silent mean in their place)."""
        recipe, stats = details.get(RECIPE_KEY), details.get(ITEM_STATS_KEY)
        if not recipe or not isinstance(recipe, Mapping):
            return None
        if not isinstance(stats, Mapping) or "ids" not in stats or "columns" not in stats:
            return cls(dict(recipe))
        return cls(dict(recipe), tuple(str(i) for i in stats["ids"]), stats["columns"])

    def to_details(self) -> dict[str, Any]:
        return {RECIPE_KEY: dict(self.recipe), ITEM_STATS_KEY: {"ids": list(self.ids), "columns": self.columns}}

    def rows(self, ids: Sequence[str]) -> np.ndarray | None:
        """Items x statistics in `ids` order; None when some item has no statistics here."""
        import numpy as np

        position = {item: k for k, item in enumerate(self.ids)}
        if any(i not in position for i in ids):
            return None
        return np.asarray(self.columns, dtype=np.float64).T[[position[i] for i in ids]]

    def statistic(self) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
        """(additive, finish): per-item rows to additive columns, and column sums to the metric."""
        from harness.metrics.corpus import statistic_from_spec

        return statistic_from_spec(self.recipe)


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
    def corpus(self) -> CorpusStats | None:
        """The corpus statistics to recompute this metric on resamples; None when it is a mean of `per_item`."""
        return CorpusStats.from_details(self.details)

    @property
    def is_binary(self) -> bool:
        """True when every per-item score is 0 or 1 (accuracy, exact match, pass/fail)."""
        return all(v in (0.0, 1.0) for v in self.per_item.values())

    def format(self, digits: int = 3) -> str:
        lo, hi = self.ci
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.value:.{digits}f}{unit} [{lo:.{digits}f}, {hi:.{digits}f}]"
