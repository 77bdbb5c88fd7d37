"""Citations in legal text: case names, statutes, sections and URLs, and which of them a grounding does not hold.

The one definition of "a citation" and "an unsupported citation", shared by case files
(`no_unsupported_citations`) and the `hallucination_rate` metric, so both judge an answer the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

import re2

from harness.errors import HarnessError
from harness.text.regex import re2_options, valid_unicode

CitationKind = Literal["case", "statute", "section", "url", "pattern"]


class Extractor(Protocol):
    """A compiled regular expression (Python's re or RE2) whose matches are citations."""

    def finditer(self, text: str) -> Any: ...


# CASE_NAME and NAMED_CODE are RE2 patterns (linear time: with Python's re, a long run of capitalised
# words takes quadratic time). Their classes spell out what Python's Unicode \s, \w and \d match.
_S = r"[\t-\r\x1c-\x20\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_W = r"\p{L}\p{N}_"
_NAME = rf"[A-Z][{_W}&'.-]*"
_JOIN = r"(?:of|the|for|de|&)"
_PARTY = rf"{_NAME}(?:{_S}+(?:{_NAME}|{_JOIN}))*"
CASE_NAME = re2.compile(rf"({_PARTY}){_S}+(?:v|vs)\.?{_S}+({_PARTY})", re2_options())
STATUTE = re.compile(r"\b(\d+)\s+((?:[A-Z][A-Za-z]*\.?\s?){1,5}?)\s*§§?\s*(\d+[\w.-]*(?:\([\w]+\))*)")
NAMED_CODE = re2.compile(
    rf"((?:[A-Z][A-Za-z.]*{_S}+){{0,4}}(?:Code|Act|Stat\.|Regs?\.)){_S}*(?:§§?|[Ss]ection|[Ss]ec\.){_S}*"
    rf"(\p{{Nd}}+[{_W}.-]*(?:\([{_W}]+\))*)",
    re2_options(),
)
SECTION = re.compile(r"(?:\b[Ss]ections?|\b[Ss]ec\.|§§?)\s*(\d+[A-Za-z]?(?:\.\d+)*(?:\(\w+\))*)")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)

CITATION_PATTERNS: tuple[Extractor, ...] = (URL, STATUTE, NAMED_CODE, SECTION, CASE_NAME)
"""The patterns the built-in extractor runs, in order; it also trims and keys what they match."""

_LEADING = {"in", "see", "under", "as", "per", "cf", "following", "like", "and", "but", "also", "citing", "unlike"}
_LEADING |= {"the", "held", "by", "from", "to", "with", "since", "because", "after", "before", "while", "when"}
_TRAILING = ".,;:!?"


@dataclass(frozen=True)
class Citation:
    """A case name, statute, section, URL (or match of a user's pattern) found in a text."""

    kind: CitationKind
    text: str
    """The citation as written, without sentence words before it or punctuation after it."""
    key: str
    """What citations are compared by: "smith v jones", "17 usc § 107", "§ 12.3", "example.com/x"."""


def normalize_citation(citation: str) -> str:
    """Casefold, collapse whitespace and drop trailing sentence punctuation, so equal citations compare equal."""
    return " ".join(citation.casefold().split()).rstrip(_TRAILING).strip()


def compile_extractors(extractors: Iterable[str | Extractor] | str | Extractor) -> tuple[Extractor, ...]:
    """Compile citation regexes (Python syntax), naming the one that is not a valid regular expression."""
    if isinstance(extractors, str) or hasattr(extractors, "finditer"):
        extractors = [extractors]  # type: ignore[list-item]
    compiled: list[Extractor] = []
    for pattern in extractors:  # type: ignore[union-attr]
        if hasattr(pattern, "finditer"):
            compiled.append(pattern)  # type: ignore[arg-type]
            continue
        try:
            compiled.append(re.compile(pattern))  # type: ignore[arg-type]
        except (re.error, TypeError) as exc:
            raise HarnessError(
                f"invalid citation extractor {pattern!r}: {exc}", hint="fix the regular expression"
            ) from None
    if not compiled:
        raise HarnessError("hallucination_rate needs at least one citation extractor (regex)")
    return tuple(compiled)


_ABBREVIATION = re.compile(r"(?:[A-Z]\.)+|[A-Z][a-z]{0,3}\.|(?:Corp|Bros|Assn|Dept|Univ|Mfg|Nat'l|Int'l)\.")


def _party_words(text: str, *, left: bool) -> list[str]:
    """The words of one party, cut at a sentence end (a word ending in "." that is no abbreviation)."""
    words = text.split()
    ends = [i for i, w in enumerate(words) if w.endswith(".") and not _ABBREVIATION.fullmatch(w)]
    if left:
        words = words[ends[-1] + 1 :] if ends and ends[-1] + 1 < len(words) else words
        while len(words) > 1 and words[0].casefold().rstrip(".,") in _LEADING:
            words = words[1:]
    else:
        words = words[: ends[0] + 1] if ends else words
        while len(words) > 1 and words[-1].casefold() in {"of", "the", "for", "de", "&"}:
            words = words[:-1]
    return words


def _case_citation(match: Any) -> Citation:
    left = _party_words(match.group(1), left=True)
    right = _party_words(match.group(2), left=False)
    right[-1] = right[-1].rstrip(".") if not _ABBREVIATION.fullmatch(right[-1]) else right[-1]
    text = f"{' '.join(left)} v. {' '.join(right)}"
    key = re.sub(r"[.,;:']", " ", f"{' '.join(left)} v {' '.join(right)}".casefold())
    return Citation("case", text, " ".join(key.split()))


def _named_code_citation(match: Any) -> Citation:
    """ "See Cal. Civ. Code § 1668" cites "Cal. Civ. Code § 1668": sentence words before the code are not part of it."""
    words = match.group(1).split()
    drop = 0
    while drop < len(words) - 1 and words[drop].casefold().rstrip(".,") in _LEADING:
        drop += 1
    skipped = re.match(rf"(?:\S+\s+){{{drop}}}", match.group(1))
    text = match.group(0)[skipped.end() if skipped else 0 :].strip().rstrip(_TRAILING)
    code = re.sub(r"[^a-z ]", "", " ".join(words[drop:]).casefold()).split()
    return Citation("statute", text, f"{' '.join(code)} § {match.group(2).rstrip(_TRAILING)}")


def _url_key(url: str) -> str:
    url = url.rstrip(_TRAILING).casefold()
    url = re.sub(r"^https?://", "", url)
    return url.removeprefix("www.").rstrip("/")


def _built_in(text: str) -> list[Citation]:
    found: list[Citation] = []
    spans: list[tuple[int, int]] = []
    for match in URL.finditer(text):
        found.append(Citation("url", match.group(0).rstrip(_TRAILING), _url_key(match.group(0))))
        spans.append(match.span())
    for match in STATUTE.finditer(text):
        code = re.sub(r"[^a-z]", "", match.group(2).casefold())
        section = match.group(3).rstrip(_TRAILING)
        found.append(
            Citation("statute", match.group(0).strip().rstrip(_TRAILING), f"{match.group(1)} {code} § {section}")
        )
        spans.append(match.span())
    for match in NAMED_CODE.finditer(text):
        if any(s <= match.start() < e for s, e in spans):
            continue
        found.append(_named_code_citation(match))
        spans.append(match.span())
    for match in SECTION.finditer(text):
        if not any(s <= match.start() < e for s, e in spans):
            found.append(Citation("section", match.group(0).strip(), f"§ {match.group(1).rstrip('.')}"))
    for match in CASE_NAME.finditer(text):
        if not any(s <= match.start() < e for s, e in spans):
            found.append(_case_citation(match))
    return found


def _by_patterns(text: str, extractors: Sequence[Extractor]) -> list[Citation]:
    """Matches of the user's patterns; an earlier pattern wins where two overlap."""
    spans: list[tuple[int, int, Citation]] = []
    for pattern in extractors:
        for match in pattern.finditer(text):
            start, end = match.span()
            written = match.group(0).strip().rstrip(_TRAILING)
            if written and not any(start < e and s < end for s, e, _ in spans):
                spans.append((start, end, Citation("pattern", written, normalize_citation(written))))
    return [citation for _, _, citation in sorted(spans, key=lambda span: span[:2])]


def find_citations(text: str, extractors: Sequence[Extractor] | None = None) -> list[Citation]:
    """Every case name ("X v. Y"), statute ("17 U.S.C. § 107"), section ("Section 12.3", "§ 12") and URL.

    With `extractors` (compiled regexes), every match of those instead, keyed by `normalize_citation`.
    """
    text = valid_unicode(text)
    return _built_in(text) if extractors is None else _by_patterns(text, extractors)


def _section_numbers(citations: Iterable[Citation]) -> set[str]:
    """Section numbers mentioned by sections and statutes (a statute's section may be cited alone)."""
    return {c.key.rsplit("§ ", 1)[1] for c in citations if c.kind in ("section", "statute")}


def _same_case(cited: str, known: str) -> bool:
    """Same second party, and one first party ends with the other ("Does Harlow" / "Harlow" v. "Brandt")."""
    cited_left, _, cited_right = cited.partition(" v ")
    known_left, _, known_right = known.partition(" v ")
    if cited_right != known_right:
        return False
    shorter, longer = sorted((cited_left.split(), known_left.split()), key=len)
    return longer[len(longer) - len(shorter) :] == shorter


def _same_section(cited: str, known: str) -> bool:
    """Equal, or one is a subdivision of the other (12 / 12.3 / 12.3(b))."""
    shorter, longer = sorted((cited, known), key=len)
    return longer == shorter or (longer.startswith(shorter) and longer[len(shorter)] in ".(")


@dataclass(frozen=True)
class _Grounding:
    citations: tuple[Citation, ...]
    keys: frozenset[str]
    sections: frozenset[str]
    texts: tuple[str, ...]  # casefolded, whitespace collapsed


@lru_cache(maxsize=256)
def _grounding(grounding: tuple[str, ...], extractors: tuple[Extractor, ...] | None) -> _Grounding:
    """The citations the grounding texts make, found once per grounding (not once per model answer)."""
    known = [c for source in grounding for c in find_citations(source, extractors)]
    if extractors is None:
        known += [Citation("url", s, _url_key(s)) for s in grounding if URL.fullmatch(s.strip())]
    texts = tuple(" ".join(valid_unicode(s).casefold().split()) for s in grounding)
    return _Grounding(tuple(known), frozenset(c.key for c in known), frozenset(_section_numbers(known)), texts)


def _written_in(citation: Citation, texts: Iterable[str]) -> bool:
    """The citation, as written, appears word for word in one of the grounding texts."""
    written = normalize_citation(citation.text)
    if not written:
        return False
    pattern = re.compile(rf"(?<!\w){re.escape(written)}(?!\w)")
    return any(pattern.search(text) for text in texts)


def unsupported_citations(
    text: str, grounding: Iterable[str], extractors: Sequence[Extractor] | None = None
) -> list[Citation]:
    """The citations in `text` that none of the grounding texts holds (the invented-precedent failure).

    A citation is supported when a grounding text makes the same citation (same key; a section may be a
    subdivision of the grounding's, a case's first party may be shortened) or contains it word for word.
    """
    known = _grounding(tuple(grounding), None if extractors is None else tuple(extractors))
    unsupported = []
    for citation in find_citations(text, extractors):
        if citation.key in known.keys:
            continue
        if citation.kind == "section" and any(_same_section(citation.key[2:], s) for s in known.sections):
            continue
        if citation.kind == "case" and any(
            _same_case(citation.key, c.key) for c in known.citations if c.kind == "case"
        ):
            continue
        if _written_in(citation, known.texts):
            continue
        unsupported.append(citation)
    return unsupported
