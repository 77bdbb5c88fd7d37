"""What a case expects of a model's answer: small pure checks, and the registry case files name them by.

Each check takes what the model did (an `Observation`) and a prepared argument, and returns None
when the expectation holds or a one-line reason when it does not. `prepare` turns the argument as
written in a case file into that form once, at collection, raising ValueError for a bad argument.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_REFUSAL_PHRASES: tuple[str, ...] = (
    "i cannot",
    "i can't",
    "i can not",
    "i am unable",
    "i'm unable",
    "i am not able",
    "i'm not able",
    "i do not know",
    "i don't know",
    "i'm not sure",
    "i am not sure",
    "i won't",
    "cannot provide",
    "cannot answer",
    "cannot find",
    "could not find",
    "couldn't find",
    "no such case",
    "no such section",
    "does not exist",
    "doesn't exist",
    "not aware of",
    "no record of",
    "unable to verify",
    "cannot verify",
    "not enough information",
    "insufficient information",
)


@dataclass(frozen=True)
class Observation:
    """What a model did with one prompt: its greedy text, that text's length, and its multiple-choice pick."""

    text: str = ""
    n_tokens: int = 0
    pick: str | None = None
    logprobs: Mapping[str, float] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The pick when the case has choices, else the stripped text."""
        return self.pick if self.pick is not None else self.text.strip()


@dataclass(frozen=True)
class CaseContext:
    """What `prepare` may need from the case: its choices, grounding, input, and where it lives."""

    input: str = ""
    choices: tuple[str, ...] = ()
    grounding: tuple[str, ...] = ()
    refusal_phrases: tuple[str, ...] = DEFAULT_REFUSAL_PHRASES
    max_new_tokens: int = 32
    base_dir: Path = Path(".")
    import_root: Path | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


# -- pure checks on text ----------------------------------------------------------------------------


def _fold(text: str) -> str:
    return text.replace("\u2019", "'").casefold()


def normalise(text: str) -> str:
    """Case, spacing and surrounding punctuation removed, so "Paris." and " paris" compare equal."""
    return " ".join(_fold(text).split()).strip(" .,;:!?\"'")


def _as_list(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def equals(text: str, expected: str) -> str | None:
    """The output, stripped of surrounding whitespace, is exactly `expected`."""
    return None if text.strip() == expected.strip() else f"output is not exactly {expected.strip()!r}"


def contains(text: str, needles: str | Sequence[str]) -> str | None:
    """Every needle occurs in the output (ignoring case)."""
    missing = [n for n in _as_list(needles) if _fold(n) not in _fold(text)]
    return f"output does not contain {', '.join(map(repr, missing))}" if missing else None


def not_contains(text: str, needles: str | Sequence[str]) -> str | None:
    """No needle occurs in the output (ignoring case)."""
    found = [n for n in _as_list(needles) if _fold(n) in _fold(text)]
    return f"output contains {', '.join(map(repr, found))}" if found else None


def matches(text: str, pattern: re.Pattern[str]) -> str | None:
    """The pattern is found somewhere in the output (re.search)."""
    return None if pattern.search(text) else f"output does not match /{pattern.pattern}/"


def label_is(answer: str, allowed: Sequence[str]) -> str | None:
    """The answer (a pick, or the output) is one of the allowed labels, ignoring case and end punctuation."""
    if normalise(answer) in {normalise(a) for a in allowed}:
        return None
    wanted = " or ".join(repr(a) for a in allowed)
    return f"answer is {answer.strip()!r}, expected {wanted}"


def refuses(text: str, phrases: Iterable[str] = DEFAULT_REFUSAL_PHRASES) -> bool:
    """Whether the output declines to answer: it contains one of the refusal phrases (ignoring case)."""
    folded = _fold(text)
    return any(_fold(p) in folded for p in phrases)


def within_tokens(n_tokens: int, limit: int) -> str | None:
    """The output is at most `limit` tokens long."""
    return None if n_tokens <= limit else f"output is {n_tokens} tokens, more than {limit}"


def parse_json_output(text: str) -> Any:
    """The output as JSON, allowing a surrounding ``` / ```json fence; ValueError when it is not JSON."""
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, flags=re.DOTALL)
    return json.loads(fenced.group(1) if fenced else body)


def json_schema_problem(text: str, validator: Any) -> str | None:
    """The output is JSON that the (jsonschema) validator accepts."""
    try:
        value = parse_json_output(text)
    except ValueError as exc:
        return f"output is not valid JSON ({exc})"
    error = next(iter(validator.iter_errors(value)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return f"JSON does not match the schema at {where}: {error.message}"


# -- citations --------------------------------------------------------------------------------------

_NAME = r"[A-Z][\w&'.-]*"
_JOIN = r"(?:of|the|for|de|&)"
_PARTY = rf"{_NAME}(?:\s+(?:{_NAME}|{_JOIN}))*"
CASE_NAME = re.compile(rf"({_PARTY})\s+(?:v|vs)\.?\s+({_PARTY})")
STATUTE = re.compile(r"\b(\d+)\s+((?:[A-Z][A-Za-z]*\.?\s?){1,5}?)\s*§§?\s*(\d+[\w.-]*(?:\([\w]+\))*)")
NAMED_CODE = re.compile(
    r"((?:[A-Z][A-Za-z.]*\s+){0,4}(?:Code|Act|Stat\.|Regs?\.))\s*(?:§§?|[Ss]ection|[Ss]ec\.)\s*(\d+[\w.-]*(?:\(\w+\))*)"
)
SECTION = re.compile(r"(?:\b[Ss]ections?|\b[Ss]ec\.|§§?)\s*(\d+[A-Za-z]?(?:\.\d+)*(?:\(\w+\))*)")
URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)

_LEADING = {"in", "see", "under", "as", "per", "cf", "following", "like", "and", "but", "also", "citing", "unlike"}
_LEADING |= {"the", "held", "by", "from", "to", "with", "since", "because", "after", "before", "while", "when"}


@dataclass(frozen=True)
class Citation:
    """A case name, statute, section or URL found in a text, with the key it is compared by."""

    kind: str  # "case", "statute", "section", "url"
    text: str
    key: str


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


def _case_citation(match: re.Match[str]) -> Citation:
    left = _party_words(match.group(1), left=True)
    right = _party_words(match.group(2), left=False)
    right[-1] = right[-1].rstrip(".") if not _ABBREVIATION.fullmatch(right[-1]) else right[-1]
    text = f"{' '.join(left)} v. {' '.join(right)}"
    key = re.sub(r"[.,;:']", " ", f"{' '.join(left)} v {' '.join(right)}".casefold())
    return Citation("case", text, " ".join(key.split()))


def _url_key(url: str) -> str:
    url = url.rstrip(".,;:!?").casefold()
    url = re.sub(r"^https?://", "", url)
    return url.removeprefix("www.").rstrip("/")


def find_citations(text: str) -> list[Citation]:
    """Every case name ("X v. Y"), statute ("17 U.S.C. § 107"), section ("Section 12.3", "§ 12") and URL."""
    found: list[Citation] = []
    spans: list[tuple[int, int]] = []
    for match in URL.finditer(text):
        found.append(Citation("url", match.group(0).rstrip(".,;:!?"), _url_key(match.group(0))))
        spans.append(match.span())
    for match in STATUTE.finditer(text):
        code = re.sub(r"[^a-z]", "", match.group(2).casefold())
        found.append(Citation("statute", match.group(0).strip(), f"{match.group(1)} {code} § {match.group(3)}"))
        spans.append(match.span())
    for match in NAMED_CODE.finditer(text):
        if any(s <= match.start() < e for s, e in spans):
            continue
        code = re.sub(r"[^a-z ]", "", match.group(1).casefold()).split()
        found.append(Citation("statute", match.group(0).strip(), f"{' '.join(code)} § {match.group(2)}"))
        spans.append(match.span())
    for match in SECTION.finditer(text):
        if not any(s <= match.start() < e for s, e in spans):
            found.append(Citation("section", match.group(0).strip(), f"§ {match.group(1).rstrip('.')}"))
    for match in CASE_NAME.finditer(text):
        if not any(s <= match.start() < e for s, e in spans):
            found.append(_case_citation(match))
    return found


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


def unsupported_citations(text: str, grounding: Iterable[str]) -> list[Citation]:
    """The citations in `text` that none of the grounding texts contains (the invented-precedent failure)."""
    known = [c for source in grounding for c in find_citations(source)]
    known += [Citation("url", s, _url_key(s)) for s in grounding if URL.fullmatch(s.strip())]
    keys = {c.key for c in known}
    sections = _section_numbers(known)
    unsupported = []
    for citation in find_citations(text):
        if citation.key in keys:
            continue
        if citation.kind == "section" and any(_same_section(citation.key[2:], s) for s in sections):
            continue
        if citation.kind == "case" and any(_same_case(citation.key, c.key) for c in known if c.kind == "case"):
            continue
        unsupported.append(citation)
    return unsupported


# -- custom checks ----------------------------------------------------------------------------------


def import_check(dotted: str, import_root: Path | None = None) -> Callable[[str, Mapping[str, Any]], Any]:
    """The function named "package.module:function", imported with importlib (ValueError when it cannot be)."""
    module_name, _, attribute = dotted.partition(":")
    if not module_name or not attribute or not re.fullmatch(r"[\w.]+", module_name + "." + attribute):
        raise ValueError(f"{dotted!r} is not of the form 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        root = str(import_root) if import_root is not None else None
        if root is None or root in sys.path or not (exc.name and module_name.startswith(exc.name)):
            raise ValueError(f"cannot import module {module_name!r} ({exc})") from None
        sys.path.insert(0, root)  # a module in the project, next to its pyproject.toml / pytest.ini
        try:
            module = importlib.import_module(module_name)
        except ImportError as retry:
            raise ValueError(f"cannot import module {module_name!r} ({retry})") from None
    except Exception as exc:  # the user's module failed while importing
        raise ValueError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    function = getattr(module, attribute, None)
    if not callable(function):
        raise ValueError(f"module {module_name!r} has no function {attribute!r}")
    return function


def run_custom(function: Callable[[str, Mapping[str, Any]], Any], text: str, case: Mapping[str, Any]) -> str | None:
    """Call a custom check: True passes, False fails, a string is the reason it failed."""
    name = getattr(function, "__name__", "custom check")
    try:
        verdict = function(text, case)
    except Exception as exc:  # a bug in the user's check is that case's failure, reported in one line
        return f"{name} raised {type(exc).__name__}: {exc}"
    if verdict is True:
        return None
    if verdict is False:
        return f"{name} returned False"
    if isinstance(verdict, str) and verdict:
        return f"{name}: {verdict}"
    return f"{name} returned {verdict!r}; a check returns True, False or a reason string"


# -- the registry ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """One kind of expectation: how to prepare its case-file argument and how to check an observation."""

    name: str
    prepare: Callable[[Any, CaseContext], Any]
    check: Callable[[Observation, Any], str | None]
    reads_text: bool = True  # False: reads only the multiple-choice pick (no generation needed)
    summary: str = ""


def _strings(value: Any, what: str) -> list[str]:
    items = _as_list(value) if isinstance(value, str | list) else None
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ValueError(f"{what} needs a non-empty text or a list of non-empty texts, got {value!r}")
    return items


def _prepare_text(value: Any, ctx: CaseContext) -> str:
    if not isinstance(value, str):
        raise ValueError(f"needs a text, got {value!r}")
    return value


def _prepare_regex(value: Any, ctx: CaseContext) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError(f"needs a pattern as text, got {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"pattern {value!r} does not compile: {exc}") from None


def _prepare_label(value: Any, ctx: CaseContext) -> list[str]:
    labels = _strings(value, "label")
    strays = [label for label in labels if ctx.choices and label not in ctx.choices]
    if strays:
        raise ValueError(f"label {strays[0]!r} is not one of the case's choices {list(ctx.choices)}")
    return labels


def _prepare_refuses(value: Any, ctx: CaseContext) -> tuple[bool, tuple[str, ...]]:
    if not isinstance(value, bool):
        raise ValueError(f"needs true (must decline) or false (must not decline), got {value!r}")
    return value, ctx.refusal_phrases


def _check_refuses(obs: Observation, arg: tuple[bool, tuple[str, ...]]) -> str | None:
    wanted, phrases = arg
    if refuses(obs.text, phrases) == wanted:
        return None
    return "output does not decline to answer" if wanted else "output declines to answer"


def _prepare_max_tokens(value: Any, ctx: CaseContext) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"needs a whole number of tokens, got {value!r}")
    if value >= ctx.max_new_tokens:
        raise ValueError(
            f"{value} cannot fail with max_new_tokens {ctx.max_new_tokens}; set max_new_tokens above {value}"
        )
    return value


def _prepare_schema(value: Any, ctx: CaseContext) -> Any:
    import jsonschema

    if isinstance(value, str):
        path = ctx.base_dir / value
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read a JSON schema from {path} ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"needs a JSON schema (a mapping) or the path of a .json file, got {value!r}")
    cls = jsonschema.validators.validator_for(value)
    try:
        cls.check_schema(value)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a valid JSON schema: {exc.message}") from None
    return cls(value)


def _prepare_citations(value: Any, ctx: CaseContext) -> tuple[str, ...]:
    if isinstance(value, dict) and set(value) <= {"allow_input"} and isinstance(value.get("allow_input"), bool):
        return ctx.grounding + ((ctx.input,) if value.get("allow_input") else ())
    if value is not True:
        raise ValueError(f"needs true, or {{allow_input: true}} to accept citations the input makes; got {value!r}")
    return ctx.grounding


def _check_citations(obs: Observation, grounding: tuple[str, ...]) -> str | None:
    invented = unsupported_citations(obs.text, grounding)
    if not invented:
        return None
    return f"cites {', '.join(repr(c.text) for c in invented)}, not in the case's grounding"


def _prepare_custom(value: Any, ctx: CaseContext) -> tuple[Callable[..., Any], Mapping[str, Any]]:
    if not isinstance(value, str):
        raise ValueError(f"needs 'package.module:function', got {value!r}")
    return import_check(value, ctx.import_root), ctx.raw


EXPECTATIONS: dict[str, Expectation] = {
    e.name: e
    for e in (
        Expectation("equals", _prepare_text, lambda o, a: equals(o.text, a), summary="output equals the text"),
        Expectation(
            "contains",
            lambda v, c: _strings(v, "contains"),
            lambda o, a: contains(o.text, a),
            summary="output contains each text (ignoring case)",
        ),
        Expectation(
            "not_contains",
            lambda v, c: _strings(v, "not_contains"),
            lambda o, a: not_contains(o.text, a),
            summary="output contains none of the texts (ignoring case)",
        ),
        Expectation("regex", _prepare_regex, lambda o, a: matches(o.text, a), summary="re.search finds the pattern"),
        Expectation(
            "label",
            _prepare_label,
            lambda o, a: label_is(o.answer, a),
            reads_text=False,
            summary="the pick (with choices) or the stripped output is one of the labels",
        ),
        Expectation("refuses", _prepare_refuses, _check_refuses, summary="output declines (true) or answers (false)"),
        Expectation(
            "max_tokens",
            _prepare_max_tokens,
            lambda o, a: within_tokens(o.n_tokens, a),
            summary="output is at most N tokens",
        ),
        Expectation(
            "json_schema",
            _prepare_schema,
            lambda o, a: json_schema_problem(o.text, a),
            summary="output is JSON valid against the schema",
        ),
        Expectation(
            "no_unsupported_citations",
            _prepare_citations,
            _check_citations,
            summary="every case name, statute, section and URL cited is in the grounding",
        ),
        Expectation(
            "custom",
            _prepare_custom,
            lambda o, a: run_custom(a[0], o.text, a[1]),
            summary="your function fn(output, case) returns True or a failure reason",
        ),
    )
}
