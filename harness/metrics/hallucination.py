"""Hallucinated citations: outputs that cite a case, section, statute or URL their grounding does not hold."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from harness.metrics.items import check_items, check_texts, mean_result
from harness.metrics.result import MetricResult
from harness.text.citations import (
    CITATION_PATTERNS,
    Extractor,
    compile_extractors,
    find_citations,
    normalize_citation,
    unsupported_citations,
)

__all__ = [
    "CITATION_PATTERNS",
    "find_citations",
    "hallucination_rate",
    "normalize_citation",
    "relative_change",
]


def hallucination_rate(
    outputs: Sequence[str],
    groundings: Sequence[str | Iterable[str]],
    ids: Sequence[Any],
    extractors: Iterable[str | Extractor] | None = None,
    *,
    name: str = "hallucination_rate",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Share of outputs citing something outside their grounding (per item 1.0 = hallucinated); lower is better.

    Citations are what case files' `no_unsupported_citations` finds (case names, statutes, sections, URLs;
    `harness.text.citations`), or the matches of your own `extractors` (regexes). Each item's grounding is
    either the citations it may use or its source text (a string); a citation is supported when the grounding
    makes the same citation or contains it word for word. Details list the unsupported citations of each
    hallucinating item, normalised by `normalize_citation`.
    """
    patterns = None if extractors is None else compile_extractors(extractors)
    ids = check_items(name, ids, outputs=outputs, groundings=groundings)
    check_texts(name, "outputs", outputs)
    unsupported: dict[str, list[str]] = {}
    cited = 0
    for item, output, grounding in zip(ids, outputs, groundings, strict=True):
        cited += bool(find_citations(output, patterns))
        sources = [grounding] if isinstance(grounding, str) else list(grounding)
        missing = unsupported_citations(output, sources, patterns)
        if missing:
            unsupported[item] = list(dict.fromkeys(normalize_citation(c.text) for c in missing))
    scores = [1.0 if item in unsupported else 0.0 for item in ids]
    details = {"unsupported": unsupported, "outputs_with_citations": cited}
    return mean_result(name, ids, scores, higher_is_better=False, details=details, n_resamples=n_resamples, seed=seed)


def relative_change(tuned: MetricResult | float, base: MetricResult | float, *, label: str = "base") -> str:
    """The tuned value's change relative to the base, as a phrase: "-75% vs base"."""
    new = tuned.value if isinstance(tuned, MetricResult) else float(tuned)
    old = base.value if isinstance(base, MetricResult) else float(base)
    if old == 0:
        return f"no change vs {label}" if new == 0 else f"{new:+.3g} vs {label} ({label} was 0)"
    return f"{(new - old) / abs(old):+.0%} vs {label}"
