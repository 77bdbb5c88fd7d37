"""Strict JSON for the JSONL files users hand in (training data, reviews, imports, logs).

Python's json accepts NaN and Infinity, reads 1e999 as infinity, and raises RecursionError or a plain ValueError
(not JSONDecodeError) for deep nesting and 5,000-digit numbers; `parse_json` refuses all of these as ValueError
or RecursionError, and `json_problem` says what was wrong, for a message that names the file and line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

JSON_ERRORS = (ValueError, RecursionError)  # what parse_json raises for a bad line


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def parse_json(text: str) -> Any:
    """Strict JSON: NaN, Infinity and numbers that overflow to infinity raise ValueError."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)


def json_object(text: str, where: str, hint: str) -> dict[str, Any]:
    """One line that must be a JSON object; anything else is a HarnessError naming `where` and the fix."""
    from harness.errors import HarnessError

    try:
        value = parse_json(text)
    except JSON_ERRORS as exc:
        raise HarnessError(f"{where}: not valid JSON ({json_problem(exc)})", hint=hint) from None
    if not isinstance(value, dict):
        raise HarnessError(f"{where}: each line must be a JSON object, got {type(value).__name__}", hint=hint)
    return value


def json_lines(text: str, where: str, hint: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, object) of each non-blank line, split on "\\n" only (JSON strings may hold U+2028 and such)."""
    return [
        (number, json_object(line, f"{where}:{number}", hint))
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]


def read_json_lines(path: Path, hint: str) -> list[tuple[int, dict[str, Any]]]:
    """(line, object) of each non-blank line of a UTF-8 JSONL file, split on "\\n" only; errors name the line."""
    from harness.textfiles import read_text

    return json_lines(read_text(path), str(path), hint)


def json_problem(exc: BaseException) -> str:
    """What is wrong with text that `parse_json` refused, for a message."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)
