"""The review rubric from YAML: criteria (rating scale, label set or pass/fail) with the anchors reviewers see."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.textfiles import read_text
from harness.yamlfile import MAX_YAML_BYTES, parse_yaml

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
            raise HarnessError(
                f"criterion {self.name!r}: {value!r} is not one of {', '.join(self.options)}",
                hint="answer with one of the values the rubric lists",
            )
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


Fail = Callable[[tuple[Any, ...], str, str], HarnessError]


def load_rubric(path: str | Path) -> Rubric:
    """Read a rubric YAML file; a mistake raises a HarnessError naming the file, line, key and fix."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: no such rubric file", hint="pass --rubric PATH")
    return parse_rubric(read_text(path, max_bytes=MAX_YAML_BYTES), str(path))


def parse_rubric(text: str, source: str = "rubric.yaml") -> Rubric:
    """A Rubric from YAML text (see fixtures/review/rubric.yaml); errors name `source`, line and key."""
    doc = parse_yaml(text, source)
    data = doc.data

    def fail(key: tuple[Any, ...], problem: str, hint: str) -> HarnessError:
        dotted = ".".join(str(k) for k in key) or "(top level)"
        return HarnessError(f"{source}:{doc.line_of(key)}: {dotted}: {problem}", hint=hint)

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
        name=_text(data, "name", (), fail) or Path(source).stem,
        instructions=_text(data, "instructions", (), fail),
        criteria=tuple(criteria),
        version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:12],
        text=text,
    )


def _text(entry: dict[str, Any], field: str, key: tuple[Any, ...], fail: Fail) -> str:
    """An optional text field, stripped ("" when absent); anything but text is an error naming the key."""
    value = entry.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise fail((*key, field), f"must be text, got {value!r:.60}", "write it as text (quote it if in doubt)")
    return value.strip()


def _whole(entry: dict[str, Any], field: str, default: int, key: tuple[Any, ...], fail: Fail) -> int:
    """A whole number (true/false and 4.5 are refused)."""
    value = entry.get(field, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail((*key, field), f"must be a whole number, got {value!r:.60}", f"e.g. {field}: {default}")
    return value


def _labels(entry: dict[str, Any], field: str, key: tuple[Any, ...], fail: Fail) -> list[str]:
    """A list of text labels (YAML's yes/no/on/off are booleans and are refused: quote them)."""
    value = entry.get(field, [])
    if not isinstance(value, list):
        raise fail((*key, field), f"must be a list, got {value!r:.60}", f"write {field}: [label, ...]")
    for index, label in enumerate(value):
        if not isinstance(label, str) or not label.strip():
            raise fail(
                (*key, field, index),
                f"label {label!r:.60} is not text",
                "quote it (YAML reads yes, no, on, off as true/false, 1 as a number)",
            )
    return value


def _criterion(entry: Any, key: tuple[Any, ...], fail: Fail) -> Criterion:
    if not isinstance(entry, dict):
        raise fail(key, "a criterion is a mapping", "write `- name: accuracy` and its fields")
    for field in entry:
        if field not in CRITERION_KEYS:
            raise fail((*key, field), "unknown key", f"use one of: {', '.join(sorted(CRITERION_KEYS))}")
    name = entry.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise fail((*key, "name"), f"{name!r} is not a usable name", "use letters, digits and _ (e.g. accuracy)")
    kind = entry.get("kind", "scale")
    if not isinstance(kind, str) or kind not in KINDS:
        raise fail((*key, "kind"), f"{kind!r} is not a criterion kind", f"use one of: {', '.join(KINDS)}")
    for field, kinds in (("min", "scale"), ("max", "scale"), ("pass_at", "scale"), ("labels", "labels"),
                         ("pass_labels", "labels")):  # fmt: skip
        if field in entry and kind != kinds:
            raise fail((*key, field), f"applies to kind {kinds}, not {kind}", f"remove it, or set kind: {kinds}")
    if kind == "scale":
        low, high = _whole(entry, "min", 1, key, fail), _whole(entry, "max", 5, key, fail)
        if not low < high <= low + 10:
            raise fail((*key, "max"), f"scale {low!r}..{high!r} is not a range of whole numbers", "e.g. min: 1, max: 5")
        options = tuple(str(v) for v in range(low, high + 1))
        pass_at = _whole(entry, "pass_at", high - 1, key, fail) if entry.get("pass_at") is not None else None
        if pass_at is not None and not low <= pass_at <= high:
            raise fail((*key, "pass_at"), f"{pass_at!r} is not on the scale {low}..{high}", f"e.g. pass_at: {high - 1}")
        passing = tuple(str(v) for v in range(pass_at, high + 1)) if pass_at is not None else ()
    elif kind == "labels":
        labels = _labels(entry, "labels", key, fail)
        if len(labels) < 2:
            raise fail((*key, "labels"), "needs a list of at least two labels", "e.g. labels: [formal, casual]")
        if len(set(labels)) != len(labels):
            raise fail((*key, "labels"), "a label appears twice", "list each label once")
        options = tuple(labels)
        passing_raw = _labels(entry, "pass_labels", key, fail)
        if any(p not in options for p in passing_raw):
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
    return Criterion(name, _text(entry, "question", key, fail), kind, options, passing, anchors)
