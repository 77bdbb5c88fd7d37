"""Strict JSON for the JSONL files users hand in (training data, reviews, imports, logs), and their lines.

Every JSONL file is split here, on "\n" only (JSON strings may hold U+2028 and such, which str.splitlines
would split on): `numbered_lines` for text already read, `stream_lines` for files streamed line by line.

Python's json accepts NaN and Infinity, reads 1e999 as infinity, and raises RecursionError or a plain ValueError
(not JSONDecodeError) for deep nesting and 5,000-digit numbers; `parse_json` refuses all of these as ValueError
or RecursionError, and `json_problem` says what was wrong, for a message that names the file and line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
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


def parse_json(text: str, *, object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """Strict JSON: NaN, Infinity and numbers that overflow to infinity raise ValueError.

    `object_pairs_hook` builds each object (e.g. to refuse a repeated key by raising ValueError).
    """
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite, object_pairs_hook=object_pairs_hook)


def numbered_lines(
    text: str, *, blank: Callable[[str], bool] = lambda line: not line.strip()
) -> Iterator[tuple[int, str]]:
    """(line number, line) of each line of `text` that is not `blank`, split on "\n" only."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not blank(line):
            yield number, line


def stream_lines(path: Path, *, what: str, progress: bool = False) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each non-blank line of a file, read as a stream and split at b"\n" only.

    A leading UTF-8 byte-order mark is dropped. A missing file, or one larger than the text-file limit, is a
    HarnessError naming `what` ("training data") and the path. With `progress`, a tqdm bar on stderr counts bytes.
    """
    from tqdm import tqdm

    from harness.errors import HarnessError
    from harness.textfiles import MAX_TEXT_BYTES

    if not path.is_file():
        raise HarnessError(f"{what} {path} does not exist", hint="check the path")
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise HarnessError(f"{what} {path} is larger than {MAX_TEXT_BYTES:,} bytes", hint="split it into several files")
    bar = tqdm(total=size, desc=f"read {path.name}", unit="B", unit_scale=True, disable=not progress, leave=False)
    with path.open("rb") as handle, bar:
        for number, raw in enumerate(handle, start=1):
            bar.update(len(raw))
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if raw.strip():
                yield number, raw


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
    return [(number, json_object(line, f"{where}:{number}", hint)) for number, line in numbered_lines(text)]


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
