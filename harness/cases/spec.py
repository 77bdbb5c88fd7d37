"""Turn case mappings into checked `Case` records: kinds, fields, expectations, perturbations, directions.

Every problem is reported with the line and field it is on, all of a file's problems at once. Every
count and size a case file sets is bounded (the MAX_* limits below), so no case file can make collection hang.
"""

from __future__ import annotations

import datetime
import difflib
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import perturb
from harness.cases.source import KeyPath, Problem, RawCase, RawFile
from harness.expectations import DEFAULT_REFUSAL_PHRASES, EXPECTATIONS, CaseContext, Observation, shown

KINDS = ("MFT", "INV", "DIR")
GATES = ("must_pass", "no_regression", "report")
COMPARES = ("first_line", "text")
DIRECTIONS = ("label_becomes", "label_leaves", "label_changes", "logprob_up", "logprob_down", "length")
CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

MAX_TEXT = 100_000  # characters of an input, a template, a perturbed input, a phrase
MAX_NAME = 200  # characters of an id or a category
MAX_NEW_TOKENS = 4096
MAX_VARIANTS = 100  # copies of each perturbation (`variants:`)
MAX_CASE_VARIANTS = 200  # perturbed inputs of one case, all perturbations and `perturbed:` together
MAX_FILE_VARIANT_CHARS = 2_000_000  # characters of generated variants in one file
MAX_CHOICES = 100
MAX_PHRASES = 1000  # items of stop, grounding, refusal_phrases
MAX_MARGIN = 1000.0
MAX_SEED = 2**63 - 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(limit: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and len(v) <= limit


def _texts(low: int, high: int, *, allow_empty_list: bool = False) -> Callable[[Any], bool]:
    """A list of `low`..`high` non-empty texts (or [] when allowed)."""

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return False
        if not value:
            return allow_empty_list or low == 0
        return low <= len(value) <= high and all(isinstance(x, str) and 0 < len(x) <= MAX_TEXT for x in value)

    return check


def _whole(low: int, high: int) -> Callable[[Any], bool]:
    return lambda v: _is_int(v) and low <= v <= high


def _text_or_texts(text: Callable[[Any], bool], texts: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: text(v) or texts(v)


# field -> (what it must be, check)
FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "id": (f"text of at most {MAX_NAME} characters", _text(MAX_NAME)),
    "kind": ("MFT, INV or DIR", lambda v: isinstance(v, str)),
    "input": (f"text of at most {MAX_TEXT:,} characters", _text(MAX_TEXT)),
    "template": ("text containing {input}", _text(MAX_TEXT)),
    "category": (f"text of at most {MAX_NAME} characters", _text(MAX_NAME)),
    "description": ("text", lambda v: isinstance(v, str)),
    "choices": (
        f"a list of 2 to {MAX_CHOICES} non-empty texts (or [] for none)",
        _texts(2, MAX_CHOICES, allow_empty_list=True),
    ),
    "expect": ("a mapping of expectation: argument", lambda v: isinstance(v, dict)),
    "perturbations": ("a list of perturbation names", lambda v: isinstance(v, list)),
    "variants": (f"a whole number from 1 to {MAX_VARIANTS}", _whole(1, MAX_VARIANTS)),
    "seed": ("a whole number (at most 19 digits)", _whole(-MAX_SEED, MAX_SEED)),
    "perturbed": (
        f"a text, or a list of 1 to {MAX_CASE_VARIANTS} non-empty texts",
        _text_or_texts(_text(MAX_TEXT), _texts(1, MAX_CASE_VARIANTS)),
    ),
    "direction": ("a mapping such as {label_becomes: payment}", lambda v: isinstance(v, dict)),
    "compare": ("first_line or text", lambda v: isinstance(v, str) and v in COMPARES),
    "max_new_tokens": (f"a whole number from 1 to {MAX_NEW_TOKENS}", _whole(1, MAX_NEW_TOKENS)),
    "stop": (
        f"a non-empty text, or a list of up to {MAX_PHRASES} non-empty texts",
        _text_or_texts(lambda v: isinstance(v, str) and 0 < len(v) <= MAX_TEXT, _texts(0, MAX_PHRASES)),
    ),
    "grounding": (f"a list of up to {MAX_PHRASES} non-empty texts", _texts(0, MAX_PHRASES)),
    "refusal_phrases": (f"a list of 1 to {MAX_PHRASES} non-empty texts", _texts(1, MAX_PHRASES)),
    "gate": ("must_pass, no_regression or report", lambda v: isinstance(v, str) and v in GATES),
}
FILE_FIELDS = set(FIELDS) - {"id"} | {"cases", "pass_rate"}

# The file's pass rate is gated like any metric, as a non-inferiority test: by default it may not fall
# more than 10 points below the last promoted model's. `pass_rate: report` shows it without a gate (for a
# file too small to tell a drop of that size, or whose cases are each gated); a mapping sets the rule.
PASS_RATE_RULE = {"max_drop_vs_promoted": 0.10, "alpha": 0.05}
PASS_RATE_KEYS = ("max_drop_vs_base", "max_drop_vs_promoted", "alpha")


def pass_rate_problem(value: Any) -> str | None:
    """Why a `pass_rate:` value is not `report` or a mapping of drop limits (None when it is fine)."""
    if value == "report":
        return None
    if not isinstance(value, dict) or not value:
        return f"should be `report` or a mapping of {', '.join(PASS_RATE_KEYS)}, got {shown(value)}"
    for key, number in value.items():
        if key not in PASS_RATE_KEYS:
            return unknown("pass_rate rule", key, PASS_RATE_KEYS)
        top = 1.0 if key == "alpha" else 1.0 + 1e-9
        if not isinstance(number, int | float) or isinstance(number, bool) or not 0 <= number < top:
            return f"{key} should be a number from 0 to 1, got {shown(number)}"
        if key == "alpha" and number == 0:
            return "alpha should be above 0"
    return None


def pass_rate_rules(defaults: dict[Any, Any]) -> dict[str, float]:
    """The gate rules of a case file's pass rate, from its top-level `pass_rate` ({} for `report`)."""
    value = defaults.get("pass_rate", PASS_RATE_RULE)
    return {} if value == "report" else {"alpha": PASS_RATE_RULE["alpha"], **value}


def unknown(what: str, name: Any, known: Any) -> str:
    """ "unknown <what> 'x' (did you mean 'y'?); known: ..." for a misspelt name."""
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=1) if isinstance(name, str) else []
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {shown(name)}{guess}; known: {', '.join(known)}"


@dataclass(frozen=True)
class Check:
    """An expectation of a case, prepared: its name, prepared argument and check function."""

    name: str
    argument: Any
    run: Callable[[Observation, Any], str | None]
    reads_text: bool

    def __call__(self, observation: Observation) -> str | None:
        return self.run(observation, self.argument)


@dataclass(frozen=True)
class Direction:
    """How a DIR case's perturbation must move the output."""

    rule: str  # one of DIRECTIONS
    target: str = ""  # the label or choice it is about ("up"/"down" for length)
    margin: float = 0.0


@dataclass(frozen=True)
class Variant:
    """A perturbed input of a case, named for the report ("typos", "typos #2", "perturbed")."""

    name: str
    input: str


@dataclass(frozen=True)
class Case:
    """One checked case, ready to run on a model."""

    id: str
    kind: str
    input: str
    category: str
    line: int
    template: str = "{input}"
    choices: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    variants: tuple[Variant, ...] = ()
    direction: Direction | None = None
    compare: str = "first_line"
    max_new_tokens: int = 32
    stop: tuple[str, ...] = ()
    gate: str = "must_pass"
    raw: dict[str, Any] = field(default_factory=dict)

    def prompt(self, text: str) -> str:
        """The prompt the model sees for an input (the template with {input} filled in, nothing evaluated)."""
        return self.template.replace("{input}", text)

    @property
    def needs_text(self) -> bool:
        """Whether the case reads generated text (False: multiple-choice picks and scores are enough)."""
        if not self.choices:
            return True
        reads = any(c.reads_text for c in self.checks)
        return reads or (self.direction is not None and self.direction.rule == "length")

    @property
    def scored(self) -> tuple[str, ...]:
        """Continuations whose log-likelihood the case needs: its choices and any DIR logprob target."""
        extra = self.direction.target if self.direction and self.direction.rule.startswith("logprob") else None
        return self.choices + ((extra,) if extra and extra not in self.choices else ())


def _dotted(path: KeyPath) -> str:
    return ".".join(str(part) for part in path)


class _Problems:
    """Collects the problems of one case (or, with `label` None, of a block of defaults), each at its line."""

    def __init__(self, raw: RawCase, label: str | None) -> None:
        self.raw, self.label, self.found = raw, label, []
        self.defaults = raw.defaults if raw.defaults is not None else RawCase({}, raw.line)

    def add(self, path: KeyPath, message: str) -> None:
        """A problem with the field at `path` (() for the case as a whole)."""
        where = f"field {shown(_dotted(path))}: " if path else ""
        if self.label is None:
            self.found.append(Problem(self.raw.line_of(path), f"top-level {where}{message}"))
        elif path and path[0] not in self.raw.data:  # it comes from the file's defaults
            self.found.append(Problem(self.defaults.line_of(path), f"top-level {where}{message}"))
        else:
            self.found.append(Problem(self.raw.line_of(path), f"{self.label}, {where}{message}"))


@dataclass
class _Budget:
    """Characters of generated variants the rest of the file may still make."""

    left: int = MAX_FILE_VARIANT_CHARS


def build_cases(raw_file: RawFile, path: Path) -> tuple[list[Case], list[Problem]]:
    """Check every case of a file; return the cases and all problems found (a file with problems runs nothing)."""
    problems: list[Problem] = []
    bad_defaults: set[int] = set()
    for block in raw_file.defaults:
        found = _defaults_problems(block)
        problems.extend(found)
        if found:
            bad_defaults.add(id(block))
    cases: list[Case] = []
    first_line: dict[str, int] = {}
    budget = _Budget()
    for raw in raw_file.cases:
        if not isinstance(raw.data, dict):
            problems.append(Problem(raw.line, f"a case must be a mapping of fields, got {shown(raw.data)}"))
            continue
        case_id = raw.data.get("id")
        found = _Problems(raw, f"case {shown(case_id)}" if isinstance(case_id, str) else "case")
        _check_fields(raw.data, found)
        case = None if id(raw.defaults) in bad_defaults else _build_case(raw, path, found, budget)
        if isinstance(case_id, str) and case_id in first_line:
            found.add(("id",), f"duplicate id; first used on line {first_line[case_id]}")
        elif isinstance(case_id, str):
            first_line[case_id] = raw.line
        problems.extend(found.found)
        if case is not None and not found.found:
            cases.append(case)
    return cases, problems


def _defaults_problems(block: RawCase) -> list[Problem]:
    """Unknown or wrongly typed top-level fields (checked once, not once per case that uses them)."""
    found = _Problems(block, None)
    for name in block.data:
        if name not in FILE_FIELDS:
            message = unknown("top-level field", name, FILE_FIELDS)
            if name == "id":
                message = "`id` belongs on each case, not at the top level"
            found.found.append(Problem(block.line_of((name,)), message))
    _check_fields({k: v for k, v in block.data.items() if k in FIELDS}, found)
    if "pass_rate" in block.data and (problem := pass_rate_problem(block.data["pass_rate"])):
        found.found.append(Problem(block.line_of(("pass_rate",)), f"top-level field 'pass_rate' {problem}"))
    return found.found


def _check_fields(data: dict[Any, Any], p: _Problems) -> None:
    """Each field is known and of its type and size; all text is valid Unicode."""
    for name, value in data.items():
        if name not in FIELDS:
            if p.label is not None:
                p.add((name,), unknown("field", name, FIELDS))
        elif not FIELDS[name][1](value):
            hint = _quote_hint(value) if "text" in FIELDS[name][0] else ""
            p.add((name,), f"should be {FIELDS[name][0]}, got {shown(value)}{hint}")
    for where in _lone_surrogates(data):
        p.add(where, "has a lone surrogate (\\ud800-\\udfff), which is not Unicode text; remove it")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogates(data: Any) -> Iterator[KeyPath]:
    """The paths of texts (values or keys) with a lone surrogate, which no model or report can encode."""
    stack: list[tuple[KeyPath, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and _SURROGATE.search(value):
            yield path
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and _SURROGATE.search(key):
                    yield (*path, key)
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))


def _build_case(raw: RawCase, path: Path, p: _Problems, budget: _Budget) -> Case | None:
    data = {k: v for k, v in p.defaults.data.items() if k in FIELDS and k != "id"} | raw.data
    if "id" not in raw.data:
        p.add((), "missing field 'id' (a short unique name such as cap-france-1)")
    elif isinstance(raw.data["id"], str) and not CASE_ID.fullmatch(raw.data["id"]):
        p.add(("id",), "use letters, digits and . _ - only, starting with a letter or digit")
    if "input" not in data:
        p.add((), "missing field 'input' (the text the model is asked about; \"\" for an empty input)")
    kind = data.get("kind", "MFT")
    kind = kind.upper() if isinstance(kind, str) else kind
    if isinstance(kind, str) and kind not in KINDS:
        p.add(("kind",), unknown("kind", data.get("kind"), KINDS))
    template = data.get("template", "{input}")
    if isinstance(template, str) and "{input}" not in template:
        p.add(("template",), "must contain {input}, where the case's input goes")
    choices = tuple(data.get("choices", ())) if FIELDS["choices"][1](data.get("choices", [])) else ()
    if len(set(choices)) != len(choices):
        p.add(("choices",), "has a choice twice")
    if p.found:
        return None
    max_new_tokens = data.get("max_new_tokens", 32)
    context = CaseContext(
        input=data["input"],
        choices=choices,
        grounding=tuple(data.get("grounding", ())),
        refusal_phrases=tuple(data.get("refusal_phrases", DEFAULT_REFUSAL_PHRASES)),
        max_new_tokens=max_new_tokens,
        base_dir=path.parent,
        raw=dict(data),
    )
    checks = _checks(data.get("expect", {}), context, p)
    direction = _direction(data["direction"], choices, p) if "direction" in data else None
    _check_kind_fields(kind, data, checks, p)
    if p.found:
        return None
    variants = _variants(data, path, p, budget)
    if p.found:
        return None
    stop = data.get("stop", ())
    return Case(
        id=data["id"],
        kind=kind,
        input=data["input"],
        category=data.get("category", path.stem),
        line=raw.line,
        template=template,
        choices=choices,
        checks=tuple(checks),
        variants=tuple(variants),
        direction=direction,
        compare=data.get("compare", "first_line"),
        max_new_tokens=max_new_tokens,
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
        gate=data.get("gate", "must_pass"),
        raw=dict(data),
    )


def _quote_hint(value: Any) -> str:
    if isinstance(value, bool | int | float | datetime.date) or value is None:
        return " (put text in quotes: YAML reads yes/no/on/off/numbers/dates/empty as other types)"
    return ""


def _checks(expect: dict[Any, Any], context: CaseContext, p: _Problems) -> list[Check]:
    checks = []
    for name, argument in expect.items():
        kind = EXPECTATIONS.get(name)
        if kind is None:
            p.add(("expect", name), unknown("expectation", name, EXPECTATIONS))
            continue
        try:
            prepared = kind.prepare(argument, context)
        except ValueError as exc:
            p.add(("expect", name), str(exc))
            continue
        except RecursionError:
            p.add(("expect", name), "is nested too deeply")
            continue
        checks.append(Check(name, prepared, kind.check, kind.reads_text or not context.choices))
    return checks


def _direction(spec: dict[Any, Any], choices: tuple[str, ...], p: _Problems) -> Direction | None:
    rules = [k for k in spec if k in DIRECTIONS]
    strays = [k for k in spec if k not in DIRECTIONS and k != "margin"]
    if strays or len(rules) != 1:
        rules_named = ", ".join(DIRECTIONS)
        p.add(("direction",), f"needs exactly one of {rules_named} (and optionally margin), got {shown(spec)}")
        return None
    rule, target, margin = rules[0], spec[rules[0]], spec.get("margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or not 0 <= margin <= MAX_MARGIN:
        p.add(("direction", "margin"), f"should be a number from 0 to {MAX_MARGIN:,g}, got {shown(margin)}")
        return None
    if "margin" in spec and rule not in ("logprob_up", "logprob_down", "length"):
        p.add(("direction", "margin"), f"only means something with logprob_up, logprob_down or length, not {rule}")
    if rule == "label_changes":
        if target is not True:
            p.add(("direction", rule), "write label_changes: true")
        return Direction(rule)
    if rule == "length":
        if target not in ("up", "down"):
            p.add(("direction", "length"), f"should be up or down, got {shown(target)}")
        return Direction(rule, str(target), float(margin))
    if not isinstance(target, str) or not target:
        p.add(("direction", rule), f"should be a label or choice (text), got {shown(target)}")
    elif rule.startswith("label") and choices and target not in choices:
        p.add(("direction", rule), f"{shown(target)} is not one of the case's choices {list(choices)}")
    return Direction(rule, str(target), float(margin))


def _variants(data: dict[str, Any], path: Path, p: _Problems, budget: _Budget) -> list[Variant]:
    """The perturbed inputs: `perturbed` as written, or each perturbation applied `variants` times, seeded."""
    written = data.get("perturbed", [])
    written = [written] if isinstance(written, str) else written
    variants = [Variant("perturbed" if len(written) == 1 else f"perturbed #{k + 1}", t) for k, t in enumerate(written)]
    entries, count, seed = data.get("perturbations", []), data.get("variants", 1), data.get("seed", 0)
    total = len(written) + len(entries) * count
    if total > MAX_CASE_VARIANTS:
        p.add(
            ("perturbations",) if entries else ("perturbed",),
            f"makes {total:,} perturbed inputs ({len(entries):,} perturbations x variants: {count}"
            f" + {len(written)} perturbed); at most {MAX_CASE_VARIANTS} per case",
        )
        return []
    planned = [plan for index, entry in enumerate(entries) if (plan := _planned(entry, index, path, p))]
    size = sum(count * _expected_chars(data["input"], params) for _, _, params in planned)
    if p.found or size > budget.left:
        if not p.found:
            p.add(
                ("perturbations",),
                f"would generate about {size:,} characters of variants; a file may generate at most "
                f"{MAX_FILE_VARIANT_CHARS:,} (split the file, or ask for fewer or shorter variants)",
            )
        return []
    for index, name, params in planned:
        for k in range(count):
            rng = random.Random(f"{seed}|{data['id']}|{index}|{name}|{k}")
            try:
                text = perturb.PERTURBATIONS[name](data["input"], rng, **params)
            except ValueError as exc:
                p.add(("perturbations", index), str(exc))
                break
            budget.left -= len(text)
            variants.append(Variant(name if count == 1 else f"{name} #{k + 1}", text))
    return variants


def _planned(entry: Any, index: int, path: Path, p: _Problems) -> tuple[int, str, dict[str, Any]] | None:
    """A perturbation entry checked (name, parameters, synonym file), or None after reporting its problem."""
    where = ("perturbations", index)
    name, params = _perturbation_entry(entry, where, p)
    if name is None:
        return None
    try:
        if isinstance(params.get("file"), str):
            params["file"] = str((path.parent / params["file"]).resolve())
        perturb.check_params(name, params)
        if "file" in params:
            perturb.load_synonym_file(params["file"])
    except (ValueError, OSError, RuntimeError) as exc:
        p.add(where, str(exc))
        return None
    return index, name, params


def _expected_chars(text: str, params: dict[str, Any]) -> int:
    """About how long one variant of `text` will be (overlong pads to `chars`; others add a sentence at most)."""
    added = sum(len(v) for v in params.values() if isinstance(v, str))
    return max(len(text), params.get("chars", 0)) + added + 200


def _perturbation_entry(entry: Any, where: KeyPath, p: _Problems) -> tuple[str | None, dict[str, Any]]:
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, params = next(iter(entry.items()))
        params = {} if params is None else params
        if not isinstance(params, dict):
            p.add(where, f"write parameters as a mapping, e.g. {{{shown(name)}: {{rate: 0.1}}}}")
            return None, {}
    else:
        p.add(where, f"should be a perturbation name or {{name: {{parameter: value}}}}, got {shown(entry)}")
        return None, {}
    if name not in perturb.PERTURBATIONS:
        p.add(where, unknown("perturbation", name, perturb.PERTURBATIONS))
        return None, {}
    return name, dict(params)


def _check_kind_fields(kind: str, data: dict[str, Any], checks: list[Check], p: _Problems) -> None:
    """Each kind needs its own fields; fields of another kind would be silently ignored, so they are errors."""
    if kind == "MFT" and not checks and "expect" not in data:
        p.add((), "an MFT case needs `expect:` (what the answer must satisfy)")
    if kind == "INV" and not data.get("perturbations") and "perturbed" not in data:
        p.add((), "an INV case needs `perturbations:` or `perturbed:` (changes that must not change the answer)")
    if kind == "DIR":
        if "direction" not in data:
            p.add((), "a DIR case needs `direction:` (e.g. {label_becomes: payment})")
        if ("perturbed" in data) == bool(data.get("perturbations")):
            p.add((), "a DIR case needs either `perturbed:` (the changed input) or `perturbations:`, not both")
    for name, allowed in (("direction", ("DIR",)), ("perturbed", ("INV", "DIR")), ("compare", ("INV",))):
        if name in p.raw.data and kind not in allowed:
            p.add((name,), f"only means something in a {' or '.join(allowed)} case (this one is {kind})")
    if kind == "MFT" and "expect" in data and not data["expect"]:
        p.add(("expect",), "is empty; name at least one expectation")
