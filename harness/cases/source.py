"""Read a case file (YAML or JSONL) into plain case mappings, remembering the line of every field.

YAML is read with the safe loader only: nothing in a case file is ever evaluated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case file, at a line."""

    line: int
    message: str


class CaseFileError(HarnessError):
    """A case file that cannot be turned into tests; the message names the file, line and field."""

    def __init__(self, where: str, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.line, p.message))  # defaults' problems once
        lines = [f"{where}:{p.line}: {p.message}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class RawCase:
    """One case as written, with the line it starts on and the line of each (dotted) field."""

    data: dict[str, Any]
    line: int
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """The line of field `name` (e.g. "expect.regex"), or of its nearest parent, or of the case."""
        while name:
            if name in self.lines:
                return self.lines[name]
            name = name.rpartition(".")[0]
        return self.line


@dataclass(frozen=True)
class RawFile:
    """A case file's defaults (a RawCase without an id) and its cases, in file order."""

    defaults: RawCase
    cases: list[RawCase]


def read_case_file(path: Path, where: str) -> RawFile:
    """Parse a .yaml/.yml or .jsonl case file; any syntax problem raises CaseFileError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFileError(where, [Problem(1, f"cannot be read ({exc})")]) from None
    if path.suffix == ".jsonl":
        return _read_jsonl(text, where)
    return _read_yaml(text, where)


# -- YAML -------------------------------------------------------------------------------------------


def _read_yaml(text: str, where: str) -> RawFile:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise CaseFileError(where, [Problem(1, "the file is empty; it needs a `cases:` list")])
        lines: dict[str, int] = {}
        data = _construct(root, loader, "", lines)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise CaseFileError(where, [Problem(line, f"not valid YAML: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise CaseFileError(where, [Problem(1, f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if isinstance(data, list):
        data, lines = {"cases": data}, {f"cases.{k}": v for k, v in lines.items()} | {"cases": 1}
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        line = lines.get("cases", 1)
        raise CaseFileError(where, [Problem(line, "the file needs a top-level `cases:` list of cases")])
    cases = []
    for index, case in enumerate(data.pop("cases")):
        prefix = f"cases.{index}"
        case_lines = {k[len(prefix) + 1 :]: v for k, v in lines.items() if k.startswith(prefix + ".")}
        cases.append(RawCase(case, lines.get(prefix, 1), case_lines))
    defaults = RawCase(data, 1, {k: v for k, v in lines.items() if not k.startswith("cases")})
    return RawFile(defaults, cases)


def _construct(node: yaml.Node, loader: yaml.SafeLoader, path: str, lines: dict[str, int]) -> Any:
    """Build Python data from a YAML node, recording the line of each mapping key and list item."""
    if path:
        lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.MarkedYAMLError(
                    problem=f"field {key!r} appears twice (first on line {seen[key]})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            child = f"{path}.{key}" if path else str(key)
            result[key] = _construct(value_node, loader, child, lines)
            lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loader, f"{path}.{i}" if path else str(i), lines) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# -- JSONL ------------------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"field {key!r} appears twice")
        result[key] = value
    return result


def _read_jsonl(text: str, where: str) -> RawFile:
    """One case object per line; a line {"defaults": {...}} sets defaults for the lines after it."""
    defaults = RawCase({}, 1)
    cases: list[RawCase] = []
    problems: list[Problem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("//"):
            continue
        try:
            row = json.loads(raw, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            problems.append(Problem(number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except ValueError as exc:
            problems.append(Problem(number, str(exc)))
            continue
        if not isinstance(row, dict):
            problems.append(Problem(number, f"each line must be one JSON object (a case), got {type(row).__name__}"))
        elif set(row) == {"defaults"}:
            if not isinstance(row["defaults"], dict):
                problems.append(Problem(number, "`defaults` must be an object of case fields"))
            else:
                defaults = RawCase(row["defaults"], number, _all_keys(row["defaults"], number))
        else:
            cases.append(RawCase(row, number, _all_keys(row, number)))
    if problems:
        raise CaseFileError(where, problems)
    if not cases:
        raise CaseFileError(where, [Problem(1, "the file has no cases; write one JSON object per line")])
    return RawFile(defaults, cases)


def _all_keys(data: Any, line: int, prefix: str = "") -> dict[str, int]:
    """Every dotted field path in a JSON value, all on the same line."""
    lines: dict[str, int] = {}
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        lines[path] = line
        lines.update(_all_keys(value, line, path))
    return lines
