"""Turn case mappings into checked `Case` records: kinds, fields, expectations, perturbations, directions.

Every problem is reported with the line and field it is on, all of a file's problems at once.
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import perturb
from harness.cases.source import Problem, RawCase, RawFile
from harness.expectations import DEFAULT_REFUSAL_PHRASES, EXPECTATIONS, CaseContext, Observation

KINDS = ("MFT", "INV", "DIR")
GATES = ("must_pass", "no_regression", "report")
COMPARES = ("first_line", "text")
DIRECTIONS = ("label_becomes", "label_leaves", "label_changes", "logprob_up", "logprob_down", "length")
CASE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

# field -> (what it must be, check)
_TEXT_LIST = ("a list of texts", lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))
FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "id": ("text", lambda v: isinstance(v, str)),
    "kind": ("MFT, INV or DIR", lambda v: isinstance(v, str)),
    "input": ("text", lambda v: isinstance(v, str)),
    "template": ("text containing {input}", lambda v: isinstance(v, str)),
    "category": ("text", lambda v: isinstance(v, str)),
    "description": ("text", lambda v: isinstance(v, str)),
    "choices": _TEXT_LIST,
    "expect": ("a mapping of expectation: argument", lambda v: isinstance(v, dict)),
    "perturbations": ("a list of perturbation names", lambda v: isinstance(v, list)),
    "variants": ("a whole number of 1 or more", lambda v: _is_int(v) and v >= 1),
    "seed": ("a whole number", lambda v: _is_int(v)),
    "perturbed": ("a text or a list of texts", lambda v: isinstance(v, str) or _TEXT_LIST[1](v)),
    "direction": ("a mapping such as {label_becomes: payment}", lambda v: isinstance(v, dict)),
    "compare": ("first_line or text", lambda v: v in COMPARES),
    "max_new_tokens": ("a whole number of 1 or more", lambda v: _is_int(v) and v >= 1),
    "stop": ("a text or a list of texts", lambda v: isinstance(v, str) or _TEXT_LIST[1](v)),
    "grounding": _TEXT_LIST,
    "refusal_phrases": _TEXT_LIST,
    "gate": ("must_pass, no_regression or report", lambda v: v in GATES),
}
FILE_FIELDS = set(FIELDS) - {"id"} | {"cases"}


def unknown(what: str, name: Any, known: Any) -> str:
    """ "unknown <what> 'x' (did you mean 'y'?); known: ..." for a misspelt name."""
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {name!r}{guess}; known: {', '.join(known)}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


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


class _Problems:
    """Collects the problems of one case, each at the line of the field it is about."""

    def __init__(self, raw: RawCase, defaults: RawCase, label: str) -> None:
        self.raw, self.defaults, self.label, self.found = raw, defaults, label, []

    def add(self, name: str, message: str) -> None:
        where = f"field {name!r}: " if name else ""
        if name and name.split(".")[0] not in self.raw.data:  # it comes from the file's defaults
            self.found.append(Problem(self.defaults.line_of(name), f"top-level {where}{message}"))
        else:
            self.found.append(Problem(self.raw.line_of(name), f"{self.label}, {where}{message}"))


def build_cases(raw_file: RawFile, path: Path, import_root: Path | None) -> tuple[list[Case], list[Problem]]:
    """Check every case of a file; return the cases and all problems found (a file with problems runs nothing)."""
    problems: list[Problem] = []
    defaults = raw_file.defaults
    for name in defaults.data:
        if name not in FILE_FIELDS:
            message = unknown("top-level field", name, FILE_FIELDS)
            if name == "id":
                message = "`id` belongs on each case, not at the top level"
            problems.append(Problem(defaults.line_of(str(name)), message))
    cases: list[Case] = []
    first_line: dict[str, int] = {}
    for raw in raw_file.cases:
        if not isinstance(raw.data, dict):
            problems.append(Problem(raw.line, f"a case must be a mapping of fields, got {raw.data!r:.60}"))
            continue
        case_id = raw.data.get("id")
        label = f"case {case_id!r}" if isinstance(case_id, str) else "case"
        found = _Problems(raw, defaults, label)
        case = _build_case(raw, defaults, path, import_root, found)
        if isinstance(case_id, str) and case_id in first_line:
            found.add("id", f"duplicate id; first used on line {first_line[case_id]}")
        elif isinstance(case_id, str):
            first_line[case_id] = raw.line
        problems.extend(found.found)
        if case is not None and not found.found:
            cases.append(case)
    return cases, problems


def _build_case(raw: RawCase, defaults: RawCase, path: Path, import_root: Path | None, p: _Problems) -> Case | None:
    data = {k: v for k, v in defaults.data.items() if k in FIELDS and k != "id"} | raw.data
    for name, value in data.items():
        if name not in FIELDS:
            p.add(str(name), unknown("field", name, FIELDS))
        elif not FIELDS[name][1](value):
            hint = _quote_hint(value) if "text" in FIELDS[name][0] else ""
            p.add(name, f"should be {FIELDS[name][0]}, got {value!r:.80}{hint}")
    if "id" not in raw.data:
        p.add("", "missing field 'id' (a short unique name such as cap-france-1)")
    elif isinstance(raw.data["id"], str) and not CASE_ID.fullmatch(raw.data["id"]):
        p.add("id", "use letters, digits and . _ - only, starting with a letter or digit")
    if "input" not in data:
        p.add("", "missing field 'input' (the text the model is asked about; \"\" for an empty input)")
    kind = str(data.get("kind", "MFT")).upper()
    if kind not in KINDS:
        p.add("kind", unknown("kind", data.get("kind"), KINDS))
    template = data.get("template", "{input}")
    if isinstance(template, str) and "{input}" not in template:
        p.add("template", "must contain {input}, where the case's input goes")
    choices = tuple(data.get("choices") or ()) if FIELDS["choices"][1](data.get("choices", [])) else ()
    if len(set(choices)) != len(choices):
        p.add("choices", "has a choice twice")
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
        import_root=import_root,
        raw=dict(data),
    )
    checks = _checks(data.get("expect", {}), context, p)
    direction = _direction(data.get("direction"), choices, p) if "direction" in data else None
    variants = _variants(data, path, p)
    _check_kind_fields(kind, data, checks, p)
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
    if isinstance(value, bool | int | float) or value is None:
        return " (put text in quotes: YAML reads yes/no/on/off/numbers/empty as other types)"
    return ""


def _checks(expect: dict[str, Any], context: CaseContext, p: _Problems) -> list[Check]:
    checks = []
    for name, argument in expect.items():
        kind = EXPECTATIONS.get(name)
        if kind is None:
            p.add(f"expect.{name}", unknown("expectation", name, EXPECTATIONS))
            continue
        try:
            prepared = kind.prepare(argument, context)
        except ValueError as exc:
            p.add(f"expect.{name}", str(exc))
            continue
        checks.append(Check(name, prepared, kind.check, kind.reads_text or not context.choices))
    return checks


def _direction(spec: dict[str, Any], choices: tuple[str, ...], p: _Problems) -> Direction | None:
    rules = [k for k in spec if k in DIRECTIONS]
    unknown = [k for k in spec if k not in DIRECTIONS and k != "margin"]
    if unknown or len(rules) != 1:
        p.add("direction", f"needs exactly one of {', '.join(DIRECTIONS)} (and optionally margin), got {spec!r:.80}")
        return None
    rule, target, margin = rules[0], spec[rules[0]], spec.get("margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, int | float) or margin < 0:
        p.add("direction.margin", f"should be a number of 0 or more, got {margin!r}")
        return None
    if rule == "label_changes":
        if target is not True:
            p.add(f"direction.{rule}", "write label_changes: true")
        return Direction(rule)
    if rule == "length":
        if target not in ("up", "down"):
            p.add("direction.length", f"should be up or down, got {target!r}")
        return Direction(rule, str(target), float(margin))
    if not isinstance(target, str) or not target:
        p.add(f"direction.{rule}", f"should be a label or choice (text), got {target!r}")
    elif rule.startswith("label") and choices and target not in choices:
        p.add(f"direction.{rule}", f"{target!r} is not one of the case's choices {list(choices)}")
    return Direction(rule, str(target), float(margin))


def _variants(data: dict[str, Any], path: Path, p: _Problems) -> list[Variant]:
    """The perturbed inputs: `perturbed` as written, or each perturbation applied `variants` times, seeded."""
    written = data.get("perturbed", [])
    written = [written] if isinstance(written, str) else written
    variants = [Variant("perturbed" if len(written) == 1 else f"perturbed #{k + 1}", t) for k, t in enumerate(written)]
    count, seed = data.get("variants", 1), data.get("seed", 0)
    for index, entry in enumerate(data.get("perturbations", [])):
        where = f"perturbations.{index}"
        name, params = _perturbation_entry(entry, where, p)
        if name is None:
            continue
        if isinstance(params.get("file"), str):
            params["file"] = str((path.parent / params["file"]).resolve())
        try:
            perturb.check_params(name, params)
            if "file" in params:
                perturb.load_synonym_file(params["file"])
            for k in range(count):
                rng = random.Random(f"{seed}|{data['id']}|{index}|{name}|{k}")
                text = perturb.PERTURBATIONS[name](data["input"], rng, **params)
                variants.append(Variant(name if count == 1 else f"{name} #{k + 1}", text))
        except (ValueError, OSError) as exc:
            p.add(where, str(exc))
    return variants


def _perturbation_entry(entry: Any, where: str, p: _Problems) -> tuple[str | None, dict[str, Any]]:
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        name, params = next(iter(entry.items()))
        params = {} if params is None else params
        if not isinstance(params, dict):
            p.add(where, f"write parameters as a mapping, e.g. {{{name}: {{rate: 0.1}}}}")
            return None, {}
    else:
        p.add(where, f"should be a perturbation name or {{name: {{parameter: value}}}}, got {entry!r:.60}")
        return None, {}
    if name not in perturb.PERTURBATIONS:
        p.add(where, unknown("perturbation", name, perturb.PERTURBATIONS))
        return None, {}
    return name, dict(params)


def _check_kind_fields(kind: str, data: dict[str, Any], checks: list[Check], p: _Problems) -> None:
    """Each kind needs its own fields; fields of another kind would be silently ignored, so they are errors."""
    if kind == "MFT" and not checks and "expect" not in data:
        p.add("", "an MFT case needs `expect:` (what the answer must satisfy)")
    if kind == "INV" and not data.get("perturbations") and "perturbed" not in data:
        p.add("", "an INV case needs `perturbations:` or `perturbed:` (changes that must not change the answer)")
    if kind == "DIR":
        if "direction" not in data:
            p.add("", "a DIR case needs `direction:` (e.g. {label_becomes: payment})")
        if ("perturbed" in data) == bool(data.get("perturbations")):
            p.add("", "a DIR case needs either `perturbed:` (the changed input) or `perturbations:`, not both")
    for name, allowed in (("direction", ("DIR",)), ("perturbed", ("INV", "DIR")), ("compare", ("INV",))):
        if name in p.raw.data and kind not in allowed:
            p.add(name, f"only means something in a {' or '.join(allowed)} case (this one is {kind})")
    if kind == "MFT" and "expect" in data and not data["expect"]:
        p.add("expect", "is empty; name at least one expectation")
