"""Strict JSON for the JSONL files users hand in (training data, reviews, imports, logs).

Python's json accepts NaN and Infinity, reads 1e999 as infinity, and raises RecursionError or a plain ValueError
(not JSONDecodeError) for deep nesting and 5,000-digit numbers; `parse_json` refuses all of these as ValueError
or RecursionError, and `json_problem` says what was wrong, for a message that names the file and line.
"""

from __future__ import annotations

import json
import math
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


def json_problem(exc: BaseException) -> str:
    """What is wrong with text that `parse_json` refused, for a message."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)
