"""Read a case file (YAML or JSONL) into plain case mappings, remembering the line of every field.

YAML is read by harness.yamlfile: safe (no tags that build objects), bounded (size, aliases, expanded
values) and strict (a key given twice is an error). Nothing in a case file is ever evaluated. Files
must be regular UTF-8 files of at most MAX_CASE_FILE_BYTES.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.expectations import shown
from harness.jsonlines import JSON_ERRORS, json_problem, numbered_lines, parse_json
from harness.textfiles import read_text
from harness.yamlfile import MAX_YAML_BYTES, KeyPath, YamlError, parse_yaml

MAX_CASE_FILE_BYTES = MAX_YAML_BYTES
MAX_SHOWN_PROBLEMS = 100  # a file with more lists these and counts the rest


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case file, at a line."""

    line: int
    message: str


class CaseFileError(HarnessError):
    """A case file that cannot be turned into tests; the message names the file, line and field."""

    def __init__(self, where: str, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems), key=lambda p: (p.line, p.message))  # defaults' problems once
        lines = [f"{where}:{p.line}: {p.message}" for p in self.problems[:MAX_SHOWN_PROBLEMS]]
        if len(self.problems) > MAX_SHOWN_PROBLEMS:
            lines.append(f"{where}: ... and {len(self.problems) - MAX_SHOWN_PROBLEMS:,} more problems")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class RawCase:
    """One case (or a block of defaults) as written, with its first line and the line of each field path.

    `defaults` is the block of defaults in force for this case (None for a block of defaults itself).
    """

    data: Any  # a mapping when the file is right; anything else is reported by the checks
    line: int
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    defaults: RawCase | None = None

    def line_of(self, path: KeyPath) -> int:
        """The line of a field path such as ("expect", "regex"), or of its nearest parent, or of the case."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.line


@dataclass(frozen=True)
class RawFile:
    """A case file's blocks of defaults (YAML: its top-level fields) and its cases, in file order."""

    defaults: list[RawCase]
    cases: list[RawCase]


def read_case_file(path: Path, where: str) -> RawFile:
    """Parse a .yaml/.yml or .jsonl case file; any problem raises CaseFileError (or HarnessError) naming the line."""
    if not path.is_file():
        raise CaseFileError(where, [Problem(1, "is not a regular file; a case file is a .yaml or .jsonl text file")])
    text = read_text(path, max_bytes=MAX_CASE_FILE_BYTES, source=where)  # not UTF-8: file:line and byte offset
    if path.suffix == ".jsonl":
        return _read_jsonl(text, where)
    return _read_yaml(text, where)


# -- YAML -------------------------------------------------------------------------------------------


def _read_yaml(text: str, where: str) -> RawFile:
    try:
        document = parse_yaml(text, where)
    except YamlError as exc:
        raise CaseFileError(where, [Problem(exc.line, exc.problem)]) from None
    data = document.data
    if data is None:
        raise CaseFileError(where, [Problem(1, "the file is empty; it needs a `cases:` list")])
    if isinstance(data, list):
        cases, prefix, top = data, (), {}
    elif isinstance(data, dict) and isinstance(data.get("cases"), list):
        cases, prefix, top = data["cases"], ("cases",), {k: v for k, v in data.items() if k != "cases"}
    else:
        line = document.line_of(("cases",))
        raise CaseFileError(where, [Problem(line, "the file needs a top-level `cases:` list of cases")])
    top_lines = {p: n for p, n in document.lines.items() if p and p[0] != "cases"} if prefix else {}
    defaults = RawCase(top, 1, top_lines)
    case_lines = _lines_by_case(document.lines, prefix)
    raw_cases = [
        RawCase(case, document.line_of((*prefix, index)), case_lines.get(index, {}), defaults)
        for index, case in enumerate(cases)
    ]
    return RawFile([defaults], raw_cases)


def _lines_by_case(lines: Mapping[KeyPath, int], prefix: KeyPath) -> dict[int, dict[KeyPath, int]]:
    """The line of each field path of each case, relative to the case (one pass over the document's lines)."""
    by_case: dict[int, dict[KeyPath, int]] = {}
    depth = len(prefix)
    for path, line in lines.items():
        if len(path) > depth + 1 and path[:depth] == prefix and isinstance(path[depth], int):
            by_case.setdefault(path[depth], {})[path[depth + 1 :]] = line
    return by_case


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"field {shown(key)} appears twice")
        result[key] = value
    return result


def _blank_or_comment(line: str) -> bool:
    return not line.strip() or line.lstrip().startswith("//")


def _read_jsonl(text: str, where: str) -> RawFile:
    """One case object per line; a line {"defaults": {...}} sets defaults for the lines after it."""
    defaults = RawCase({}, 1)
    blocks = [defaults]
    cases: list[RawCase] = []
    problems: list[Problem] = []
    for number, raw in numbered_lines(text, blank=_blank_or_comment):
        try:
            row = parse_json(raw, object_pairs_hook=_no_duplicates)
        except JSON_ERRORS as exc:
            problems.append(Problem(number, f"not valid JSON ({json_problem(exc)})"))
            continue
        if not isinstance(row, dict):
            problems.append(Problem(number, f"each line must be one JSON object (a case), got {type(row).__name__}"))
        elif set(row) == {"defaults"}:
            if not isinstance(row["defaults"], dict):
                problems.append(Problem(number, "`defaults` must be an object of case fields"))
            else:
                defaults = RawCase(row["defaults"], number)
                blocks.append(defaults)
        else:
            cases.append(RawCase(row, number, {}, defaults))
    if problems:
        raise CaseFileError(where, problems)
    if not cases:
        raise CaseFileError(where, [Problem(1, "the file has no cases; write one JSON object per line")])
    return RawFile(blocks, cases)
