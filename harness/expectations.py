"""What a case expects of a model's answer: small pure checks, and the registry case files name them by.

Each check takes what the model did (an `Observation`) and a prepared argument, and returns None
when the expectation holds or a one-line reason when it does not. `prepare` turns the argument as
written in a case file into that form once, at collection, raising ValueError for a bad argument.

Nothing a case file says is run as code: patterns are compiled with RE2 (linear time, no backtracking),
and `custom:` names only a function registered with `@custom_check` in Python the user wrote.
"""

from __future__ import annotations

import difflib
import json
import re
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar, overload

import re2

from harness.errors import HarnessError
from harness.text.citations import unsupported_citations
from harness.text.regex import re2_options, valid_unicode
from harness.textfiles import read_text

MAX_SCHEMA_BYTES = 1024 * 1024  # a JSON schema file named by a case

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
    raw: Mapping[str, Any] = field(default_factory=dict)


# -- patterns from case files: RE2 only --------------------------------------------------------------


class SearchPattern(Protocol):
    """A compiled pattern: RE2's, or (in Python code) the standard library's."""

    @property
    def pattern(self) -> str: ...

    def search(self, text: str) -> Any: ...


_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80
_SHOWN.maxlevel, _SHOWN.maxlist, _SHOWN.maxdict = 3, 6, 4


def shown(value: Any) -> str:
    """A short repr of a value from a case file, for messages: long texts and deep or big structures cut."""
    return _SHOWN.repr(value)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> SearchPattern:
    """A pattern from a case file, compiled with RE2: matching takes linear time, whatever the pattern.

    ValueError names what RE2 refused (RE2 has no lookarounds and no backreferences).
    """
    try:
        return re2.compile(valid_unicode(pattern), re2_options())
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        reason = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        raise ValueError(
            f"pattern {shown(pattern)} does not compile: {reason} "
            "(patterns use RE2 syntax: no lookarounds or backreferences)"
        ) from None


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


def matches(text: str, pattern: SearchPattern) -> str | None:
    """The pattern is found somewhere in the output (a search, not a full match)."""
    return None if pattern.search(valid_unicode(text)) else f"output does not match /{pattern.pattern}/"


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
    if len(body) >= 6 and body.startswith("```") and body.endswith("```"):
        inner = body[3:-3]
        body = (inner[4:] if inner.startswith("json") else inner).strip()
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def json_schema_problem(text: str, validator: Any) -> str | None:
    """The output is JSON that the (jsonschema) validator accepts."""
    try:
        value = parse_json_output(text)
    except ValueError as exc:
        return f"output is not valid JSON ({exc})"
    try:
        error = next(iter(validator.iter_errors(value)), None)
    except RecursionError:
        return "output is nested too deeply to check against the schema"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the top level"
    return f"JSON does not match the schema at {where}: {error.message}"


# -- custom checks ----------------------------------------------------------------------------------


CustomCheck = Callable[[str, Mapping[str, Any]], Any]
F = TypeVar("F", bound=CustomCheck)

CUSTOM_CHECKS: dict[str, CustomCheck] = {}  # name -> function, filled by @custom_check
CUSTOM_CHECK_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


@overload
def custom_check(target: F, /) -> F: ...


@overload
def custom_check(target: str | None = None, /) -> Callable[[F], F]: ...


def custom_check(target: Any = None, /) -> Any:
    """Register `fn(output, case) -> True | False | "reason"` for case files to name as `custom: <name>`.

    `@custom_check` registers the function under its own name, `@custom_check("name")` under another.
    Put it in a conftest.py at or above the case file (or in a module that conftest.py imports), so
    that it is registered before the case file is collected. The function is returned unchanged.
    """
    if callable(target):
        return _register(getattr(target, "__name__", ""), target)
    return lambda function: _register(function.__name__ if target is None else target, function)


def _origin(function: CustomCheck) -> str:
    return f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', repr(function))}"


def _register(name: Any, function: F) -> F:
    """Add `function` to CUSTOM_CHECKS; registering the same function again (a re-import) replaces it."""
    if not isinstance(name, str) or not CUSTOM_CHECK_NAME.fullmatch(name):
        raise HarnessError(
            f"@custom_check: {name!r} is not a name a case file can use",
            hint='use letters, digits and _ . -, starting with a letter or _: @custom_check("short_answer")',
        )
    if not callable(function):
        raise HarnessError(f"@custom_check({name!r}) needs a function fn(output, case), got {function!r:.60}")
    known = CUSTOM_CHECKS.get(name)
    if known is not None and _origin(known) != _origin(function):
        raise HarnessError(
            f"custom check {name!r} is registered twice: {_origin(known)} and {_origin(function)}",
            hint='give one of them another name: @custom_check("other_name")',
        )
    CUSTOM_CHECKS[name] = function
    return function


def registered_check(name: Any) -> CustomCheck:
    """The function registered as `name`; ValueError naming the registered ones when there is none."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"needs the name of a check registered with @custom_check, got {shown(name)}")
    function = CUSTOM_CHECKS.get(name)
    if function is not None:
        return function
    close = difflib.get_close_matches(name, list(CUSTOM_CHECKS), n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    registered = ", ".join(sorted(CUSTOM_CHECKS)) or "none"
    raise ValueError(
        f"unknown custom check {shown(name)}{guess}; registered: {registered}. A case names a function that "
        "Python code registered with @custom_check (from harness import custom_check) in a conftest.py; "
        "nothing is imported or run from a case file"
    )


def run_custom(function: CustomCheck, text: str, case: Mapping[str, Any], name: str | None = None) -> str | None:
    """Call a custom check: True passes, False fails, a string is the reason it failed."""
    name = name or getattr(function, "__name__", "custom check")
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
        raise ValueError(f"{what} needs a non-empty text or a list of non-empty texts, got {shown(value)}")
    return items


def _prepare_text(value: Any, ctx: CaseContext) -> str:
    if not isinstance(value, str):
        raise ValueError(f"needs a text, got {shown(value)}")
    return value


def _prepare_regex(value: Any, ctx: CaseContext) -> SearchPattern:
    if not isinstance(value, str):
        raise ValueError(f"needs a pattern as text, got {shown(value)}")
    return compile_pattern(value)


def _prepare_label(value: Any, ctx: CaseContext) -> list[str]:
    labels = _strings(value, "label")
    strays = [label for label in labels if ctx.choices and label not in ctx.choices]
    if strays:
        raise ValueError(f"label {shown(strays[0])} is not one of the case's choices {list(ctx.choices)}")
    return labels


def _prepare_refuses(value: Any, ctx: CaseContext) -> tuple[bool, tuple[str, ...]]:
    if not isinstance(value, bool):
        raise ValueError(f"needs true (must decline) or false (must not decline), got {shown(value)}")
    return value, ctx.refusal_phrases


def _check_refuses(obs: Observation, arg: tuple[bool, tuple[str, ...]]) -> str | None:
    wanted, phrases = arg
    if refuses(obs.text, phrases) == wanted:
        return None
    return "output does not decline to answer" if wanted else "output declines to answer"


def _prepare_max_tokens(value: Any, ctx: CaseContext) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"needs a whole number of tokens (0 or more), got {shown(value)}")
    if value >= ctx.max_new_tokens:
        raise ValueError(
            f"{value} cannot fail with max_new_tokens {ctx.max_new_tokens}; set max_new_tokens above {value}"
        )
    return value


_SCHEMA_DATA = ("const", "enum", "default", "examples")  # values, not subschemas


def _schema_keywords(schema: Any, where: str = "") -> Iterator[tuple[str, str, Any]]:
    """(location, keyword, value) of every keyword in a schema and its subschemas (not in example values)."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _schema_keywords(item, f"{where}/{index}")
    elif isinstance(schema, dict):
        for key, value in schema.items():
            yield where or "/", str(key), value
            if key not in _SCHEMA_DATA:
                yield from _schema_keywords(value, f"{where}/{key}")


def _check_schema_patterns(schema: dict[str, Any]) -> None:
    """Patterns compile with RE2, references stay inside the schema; ValueError naming the place otherwise."""
    for where, keyword, value in _schema_keywords(schema):
        if keyword == "pattern" and isinstance(value, str):
            try:
                compile_pattern(value)
            except ValueError as exc:
                raise ValueError(f"at {where}: {exc}") from None
        elif keyword == "patternProperties" and isinstance(value, dict):
            raise ValueError(f"at {where}: patternProperties is not supported in a case file; list the properties")
        elif keyword in ("$ref", "$dynamicRef", "$recursiveRef") and isinstance(value, str) and value[:1] != "#":
            raise ValueError(f"at {where}: {keyword} {shown(value)} points outside the schema; use #/... references")


def _re2_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    """JSON Schema's `pattern` keyword, matched with RE2 instead of Python's backtracking re."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not compile_pattern(pattern).search(valid_unicode(instance)):
        yield ValidationError(f"{shown(instance)} does not match {pattern!r}")


def _read_schema_file(name: str, base_dir: Path) -> Any:
    """A JSON schema file next to the case file (a regular file of at most MAX_SCHEMA_BYTES)."""
    path = base_dir / name
    try:
        if not path.is_file():
            raise ValueError("not a file")
        return json.loads(read_text(path, max_bytes=MAX_SCHEMA_BYTES, source=str(path)))
    except (HarnessError, OSError, ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"cannot read a JSON schema from {path} ({reason})") from None


def _prepare_schema(value: Any, ctx: CaseContext) -> Any:
    import jsonschema

    if isinstance(value, str):
        value = _read_schema_file(value, ctx.base_dir)
    if not isinstance(value, dict):
        raise ValueError(f"needs a JSON schema (a mapping) or the path of a .json file, got {shown(value)}")
    _check_schema_patterns(value)
    cls = jsonschema.validators.extend(jsonschema.validators.validator_for(value), {"pattern": _re2_pattern})
    try:
        cls.check_schema(value)
        validator = cls(value)
        for sample in (None, True, 0, "", [], {}):  # a schema that loops on itself fails here, not mid-run
            next(iter(validator.iter_errors(sample)), None)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a valid JSON schema: {exc.message}") from None
    except RecursionError:
        raise ValueError("the schema refers to itself without end (or is nested too deeply)") from None
    except Exception as exc:  # an unresolvable reference and the like, from jsonschema / referencing
        raise ValueError(f"the schema cannot be applied: {type(exc).__name__}: {exc}") from None
    return validator


def _prepare_citations(value: Any, ctx: CaseContext) -> tuple[str, ...]:
    if isinstance(value, dict) and set(value) <= {"allow_input"} and isinstance(value.get("allow_input"), bool):
        return ctx.grounding + ((ctx.input,) if value.get("allow_input") else ())
    if value is not True:
        raise ValueError(
            f"needs true, or {{allow_input: true}} to accept citations the input makes; got {shown(value)}"
        )
    return ctx.grounding


def _check_citations(obs: Observation, grounding: tuple[str, ...]) -> str | None:
    invented = unsupported_citations(obs.text, grounding)
    if not invented:
        return None
    return f"cites {', '.join(repr(c.text) for c in invented)}, not in the case's grounding"


def _prepare_custom(value: Any, ctx: CaseContext) -> tuple[str, CustomCheck, Mapping[str, Any]]:
    return value, registered_check(value), dict(ctx.raw)


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
        Expectation(
            "regex",
            _prepare_regex,
            lambda o, a: matches(o.text, a),
            summary="the pattern (RE2 syntax) is found in the output",
        ),
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
            lambda o, a: run_custom(a[1], o.text, dict(a[2]), a[0]),  # a copy: a check cannot change the case
            summary="the @custom_check function of that name returns True or a failure reason",
        ),
    )
}
