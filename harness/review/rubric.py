"""The review rubric from YAML: criteria (rating scale, label set or pass/fail) with the anchors reviewers see."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError

KINDS = ("scale", "labels", "pass_fail")
PASS_FAIL = ("pass", "fail")
TOP_KEYS = {"name", "instructions", "criteria"}
CRITERION_KEYS = {"name", "question", "kind", "min", "max", "pass_at", "labels", "pass_labels", "anchors"}


@dataclass(frozen=True)
class Criterion:
    """One question a reviewer answers about an answer, and which answers count as a pass."""

    name: str
    question: str
    kind: str
    options: tuple[str, ...]  # what a reviewer can pick, in order (scale values as strings)
    passing: tuple[str, ...]  # the options that pass; empty: reported, never gated
    anchors: dict[str, str]

    @property
    def gated(self) -> bool:
        return bool(self.passing)

    @property
    def ordinal(self) -> bool:
        return self.kind == "scale"

    def check(self, value: Any) -> str:
        """The submitted value as one of the options, or a HarnessError naming the allowed ones."""
        text = str(value).strip()
        if text not in self.options:
            raise HarnessError(f"criterion {self.name!r}: {value!r} is not one of {', '.join(self.options)}")
        return text

    def passes(self, value: str) -> bool:
        return value in self.passing

    def numeric(self, value: str) -> float:
        """The value as a number for agreement statistics (scale value, or the option's position)."""
        return float(value) if self.kind == "scale" else float(self.options.index(value))


@dataclass(frozen=True)
class Rubric:
    """The criteria, instructions, and a version that changes whenever the file does."""

    name: str
    instructions: str
    criteria: tuple[Criterion, ...]
    version: str
    text: str

    def criterion(self, name: str) -> Criterion:
        for criterion in self.criteria:
            if criterion.name == name:
                return criterion
        raise HarnessError(f"the rubric has no criterion {name!r}", hint=f"use one of: {', '.join(self.names)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.criteria)

    def check_scores(self, scores: dict[str, Any]) -> dict[str, str]:
        """Every criterion answered with an allowed value, and nothing else."""
        unknown = sorted(set(scores) - set(self.names))
        if unknown:
            raise HarnessError(f"unknown criterion {unknown[0]!r}", hint=f"the rubric has: {', '.join(self.names)}")
        missing = [name for name in self.names if scores.get(name) in (None, "")]
        if missing:
            raise HarnessError(f"criterion {missing[0]!r} was not answered", hint="answer every criterion")
        return {c.name: c.check(scores[c.name]) for c in self.criteria}

    def passes(self, scores: dict[str, str]) -> bool:
        """An answer passes when every gated criterion passes."""
        return all(c.passes(scores[c.name]) for c in self.criteria if c.gated)


class _Lines:
    """Line numbers of key paths in a YAML document, so errors can point at them."""

    def __init__(self, text: str) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[(*path, str(key.value))] = key.start_mark.line + 1
                self._walk(value, (*path, str(key.value)))
        elif isinstance(node, yaml.SequenceNode):
            for index, value in enumerate(node.value):
                self._walk(value, (*path, str(index)))

    def of(self, path: tuple[Any, ...]) -> int:
        path = tuple(str(part) for part in path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


def load_rubric(path: str | Path) -> Rubric:
    """Read a rubric YAML file; a mistake raises a HarnessError naming the file, line, key and fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HarnessError(f"{path}: cannot read the rubric ({exc.strerror})", hint="pass --rubric PATH") from None
    return parse_rubric(text, str(path))


def parse_rubric(text: str, source: str = "rubric.yaml") -> Rubric:
    """A Rubric from YAML text (see fixtures/review/rubric.yaml); errors name `source`, line and key."""
    try:
        data = yaml.safe_load(text)
        lines = _Lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise HarnessError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})", hint="fix the syntax") from None

    def fail(key: tuple[Any, ...], problem: str, hint: str) -> HarnessError:
        dotted = ".".join(str(k) for k in key) or "(top level)"
        return HarnessError(f"{source}:{lines.of(key)}: {dotted}: {problem}", hint=hint)

    if not isinstance(data, dict):
        raise fail((), "a rubric is a mapping with 'criteria'", "start the file with `criteria:`")
    for key in data:
        if key not in TOP_KEYS:
            raise fail((key,), "unknown key", f"use one of: {', '.join(sorted(TOP_KEYS))}")
    raw = data.get("criteria")
    if not isinstance(raw, list) or not raw:
        raise fail(("criteria",), "needs a list of criteria", "add `criteria:` with one `- name: ...` per criterion")
    criteria = [_criterion(entry, ("criteria", i), fail) for i, entry in enumerate(raw)]
    seen: set[str] = set()
    for i, criterion in enumerate(criteria):
        if criterion.name in seen:
            raise fail(("criteria", i, "name"), f"{criterion.name!r} appears twice", "give each criterion its own name")
        seen.add(criterion.name)
    if not any(c.gated for c in criteria):
        raise fail(("criteria",), "no criterion decides pass or fail", "give a scale criterion `pass_at`")
    return Rubric(
        name=str(data.get("name") or Path(source).stem),
        instructions=str(data.get("instructions") or "").strip(),
        criteria=tuple(criteria),
        version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:12],
        text=text,
    )


def _criterion(entry: Any, key: tuple[Any, ...], fail: Any) -> Criterion:
    if not isinstance(entry, dict):
        raise fail(key, "a criterion is a mapping", "write `- name: accuracy` and its fields")
    for field in entry:
        if field not in CRITERION_KEYS:
            raise fail((*key, field), "unknown key", f"use one of: {', '.join(sorted(CRITERION_KEYS))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise fail((*key, "name"), f"{name!r} is not a usable name", "use letters, digits and _ (e.g. accuracy)")
    kind = entry.get("kind", "scale")
    if kind not in KINDS:
        raise fail((*key, "kind"), f"{kind!r} is not a criterion kind", f"use one of: {', '.join(KINDS)}")
    if kind == "scale":
        low, high = entry.get("min", 1), entry.get("max", 5)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or not low < high <= low + 10:
            raise fail((*key, "max"), f"scale {low!r}..{high!r} is not a range of whole numbers", "e.g. min: 1, max: 5")
        options = tuple(str(v) for v in range(low, high + 1))
        pass_at = entry.get("pass_at")
        if pass_at is not None and (not isinstance(pass_at, int) or not low <= pass_at <= high):
            raise fail((*key, "pass_at"), f"{pass_at!r} is not on the scale {low}..{high}", f"e.g. pass_at: {high - 1}")
        passing = tuple(str(v) for v in range(pass_at, high + 1)) if pass_at is not None else ()
    elif kind == "labels":
        labels = entry.get("labels")
        if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(v, str) for v in labels):
            raise fail((*key, "labels"), "needs a list of at least two labels", "e.g. labels: [formal, casual]")
        if len(set(labels)) != len(labels):
            raise fail((*key, "labels"), "a label appears twice", "list each label once")
        options = tuple(labels)
        passing_raw = entry.get("pass_labels", [])
        if not isinstance(passing_raw, list) or any(p not in options for p in passing_raw):
            raise fail((*key, "pass_labels"), "must list labels from `labels`", f"choose from: {', '.join(options)}")
        passing = tuple(p for p in options if p in passing_raw)
    else:
        options, passing = PASS_FAIL, ("pass",)
    anchors_raw = entry.get("anchors", {})
    if not isinstance(anchors_raw, dict):
        raise fail((*key, "anchors"), "anchors map a value to the text reviewers see", "e.g. anchors: {1: Wrong}")
    anchors = {}
    for value, text in anchors_raw.items():
        label = str(value).lower() if isinstance(value, bool) else str(value)
        label = {"true": "pass", "false": "fail"}.get(label, label) if kind == "pass_fail" else label
        if label not in options:
            raise fail((*key, "anchors", value), f"{value!r} is not a value of this criterion", f"use: {options}")
        if not isinstance(text, str) or not text.strip():
            raise fail((*key, "anchors", value), "an anchor needs text", "describe what this value means")
        anchors[label] = text.strip()
    question = entry.get("question", "")
    if not isinstance(question, str):
        raise fail((*key, "question"), "must be text", "write the question reviewers answer")
    return Criterion(name, question.strip(), kind, options, passing, anchors)
