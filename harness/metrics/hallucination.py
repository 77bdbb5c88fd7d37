"""Hallucinated citations: outputs that cite a case, section, statute or URL their grounding does not hold."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from harness.errors import HarnessError
from harness.metrics.items import check_items, check_texts, mean_result
from harness.metrics.result import MetricResult

_WORD = r"[A-Z][\w'&.-]*"
_LEAD = r"(?!(?:In|See|The|But|Under|As|Per|Cf|Compare|And|Also)\b)"  # sentence words before a case name
CITATION_PATTERNS: tuple[str, ...] = (
    rf"\b(?:{_LEAD}{_WORD}\s+)*{_LEAD}{_WORD}\s+vs?\.?\s+{_WORD}(?:\s+{_WORD})*",  # Smith v. Jones
    r"\b\d+\s+U\.\s?S\.\s?C\.\s*§+\s*\d+[a-z]?(?:\(\w+\))*",  # federal statutes: 17 U.S.C. § 107(a)
    r"(?:\bSection|\bSec\.|§)\s*\d+(?:\.\d+)*(?:\(\w+\))*",  # section numbers: Section 12.3, § 4(b)
    r"\bhttps?://[^\s<>\"')\]]+",  # URLs
)
"""Default citation extractors; pass your own regexes to `hallucination_rate` for other citation styles."""

_TRAILING = ".,;:!?"


def normalize_citation(citation: str) -> str:
    """Casefold, collapse whitespace and drop trailing sentence punctuation, so equal citations compare equal."""
    return " ".join(citation.casefold().split()).rstrip(_TRAILING).strip()


def compile_extractors(extractors: Iterable[str | re.Pattern[str]]) -> list[re.Pattern[str]]:
    """Compile citation regexes, naming the one that is not a valid regular expression."""
    if isinstance(extractors, str | re.Pattern):
        extractors = [extractors]
    compiled = []
    for pattern in extractors:
        if isinstance(pattern, re.Pattern):
            compiled.append(pattern)
            continue
        try:
            compiled.append(re.compile(pattern))
        except (re.error, TypeError) as exc:
            raise HarnessError(
                f"invalid citation extractor {pattern!r}: {exc}", hint="fix the regular expression"
            ) from None
    if not compiled:
        raise HarnessError("hallucination_rate needs at least one citation extractor (regex)")
    return compiled


def find_citations(text: str, extractors: Sequence[re.Pattern[str]]) -> list[str]:
    """Every citation the extractors find in `text`, normalised, de-duplicated, in order of appearance."""
    spans: list[tuple[int, int, str]] = []
    for pattern in extractors:  # earlier extractors win: "§ 107" inside "17 U.S.C. § 107" is not a second citation
        for match in pattern.finditer(text):
            start, end = match.span()
            if end > start and not any(start < e and s < end for s, e, _ in spans):
                spans.append((start, end, normalize_citation(match.group(0))))
    found = dict.fromkeys(c for _, _, c in sorted(spans) if c)
    return list(found)


def _supported(citation: str, grounding: str | Iterable[str]) -> bool:
    if isinstance(grounding, str):  # a source text: the citation must appear in it
        return citation in " ".join(grounding.casefold().split())
    return citation in {normalize_citation(g) for g in grounding}


def hallucination_rate(
    outputs: Sequence[str],
    groundings: Sequence[str | Iterable[str]],
    ids: Sequence[Any],
    extractors: Iterable[str | re.Pattern[str]] = CITATION_PATTERNS,
    *,
    name: str = "hallucination_rate",
    n_resamples: int = 10_000,
    seed: int = 0,
) -> MetricResult:
    """Share of outputs citing something outside their grounding (per item 1.0 = hallucinated); lower is better.

    Each item's grounding is either the set of citations it may use or its source text (a string), in which
    every cited string must appear. Citations compare after `normalize_citation`. Details list the
    unsupported citations of each hallucinating item.
    """
    patterns = compile_extractors(extractors)
    ids = check_items(name, ids, outputs=outputs, groundings=groundings)
    check_texts(name, "outputs", outputs)
    unsupported: dict[str, list[str]] = {}
    cited = 0
    for item, output, grounding in zip(ids, outputs, groundings, strict=True):
        citations = find_citations(output, patterns)
        cited += bool(citations)
        missing = [c for c in citations if not _supported(c, grounding)]
        if missing:
            unsupported[item] = missing
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
