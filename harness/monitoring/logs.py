"""Production logs and reference sets: JSONL lines read into typed records, bad lines named by file and line.

A log line is one request the deployed model answered:

    {"id": "req-17", "timestamp": "2024-03-11T09:30:00Z", "input": "...", "output": "...",
     "label": "payment", "feedback": {"thumbs": "down", "correction": "data_protection", "flag": "wrong type"}}

`id`, `label` and `feedback` (and each of its keys) are optional. A timestamp without a zone is taken as UTC; one
before 2000-01-01 or more than a day ahead of this machine's clock is refused as a broken clock or a typo.
A reference row is an eval-set row or a log line: its text is `input`, `prompt` or `text`; its output `output`,
`reference` or `answer`; its label `label` or `answer`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.jsonlines import json_object, stream_lines

FEEDBACK_KEYS = ("thumbs", "correction", "flag", "note")
EARLIEST_LOG_TIME = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=1)  # clock skew between the serving machines and this one
_WORD = re.compile(r"\w\w")  # what the text vectorisers count as a word: two or more word characters
_LABEL_LIKE = re.compile(r"[A-Za-z][\w-]*(?: [\w-]+){0,2}")
THUMBS = ("up", "down")


@dataclass(frozen=True)
class Feedback:
    """What a user said about one answer: thumbs up/down, a corrected answer, a flag (with its reason)."""

    thumbs: str | None = None
    correction: str | None = None
    flag: str | None = None  # the reason; "flagged" when the log says only `true`
    note: str | None = None

    @property
    def negative(self) -> bool:
        """Whether the user objected to the answer (thumbs down, a correction or a flag)."""
        return self.thumbs == "down" or self.correction is not None or self.flag is not None


@dataclass(frozen=True)
class LogRecord:
    """One logged request: input, output, time, optional label and feedback, and where it was read."""

    id: str
    timestamp: datetime
    input: str
    output: str
    file: str
    line: int
    label: str | None = None
    feedback: Feedback | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Reference:
    """The texts the model was tuned and evaluated on, with their outputs and labels where known."""

    texts: tuple[str, ...]
    outputs: tuple[str, ...]
    labels: tuple[str, ...]
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)


def is_label_like(text: str) -> bool:
    """Whether an answer reads as a class label: one to three words, no sentence punctuation, at most 40 characters."""
    text = text.strip()
    return len(text) <= 40 and bool(_LABEL_LIKE.fullmatch(text))


def _parse_line(raw: bytes, where: str, hint: str) -> dict[str, Any]:
    """One line as a JSON object: strict UTF-8, no NaN/Infinity, bounded nesting."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HarnessError(
            f"{where}: not UTF-8 text (byte {raw[exc.start]:#04x} at column {exc.start + 1})",
            hint="write the log as UTF-8",
        ) from None
    return json_object(text, where, hint)


def _json_lines(path: Path, what: str, hint: str) -> Iterable[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a line that is not a JSON object raises HarnessError."""
    for number, raw in stream_lines(path, what=what):
        yield number, _parse_line(raw, f"{path}:{number}", hint)


def parse_timestamp(value: Any, where: str) -> datetime:
    """An ISO-8601 timestamp as an aware UTC datetime; anything else raises HarnessError naming `where`."""
    if not isinstance(value, str):
        raise HarnessError(
            f"{where}: field 'timestamp' should be an ISO-8601 text, got {value!r:.60}",
            hint='write it like "2024-03-11T09:30:00Z"',
        )
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise HarnessError(
            f"{where}: field 'timestamp' is not ISO-8601: {value!r:.60}", hint='write it like "2024-03-11T09:30:00Z"'
        ) from None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across a time zone
        raise HarnessError(
            f"{where}: field 'timestamp' {value!r:.60} is out of range in UTC", hint="correct the timestamp"
        ) from None


def _log_time(value: Any, where: str, latest: datetime) -> datetime:
    """A log line's timestamp, within [EARLIEST_LOG_TIME, now + FUTURE_TOLERANCE]."""
    moment = parse_timestamp(value, where)
    if not EARLIEST_LOG_TIME <= moment <= latest:
        raise HarnessError(
            f"{where}: field 'timestamp' {value!r:.40} is outside the accepted range "
            f"{EARLIEST_LOG_TIME:%Y-%m-%d} to {latest:%Y-%m-%d %H:%M} UTC (a broken clock or a typo?)",
            hint="correct the timestamp, or remove the line",
        )
    return moment


def _text_field(row: Mapping[str, Any], name: str, where: str, *, required: bool) -> str | None:
    value = row.get(name)
    if value is None:
        if required:
            raise HarnessError(f"{where}: missing field {name!r}", hint=f"add {name!r} (a text) to that line")
        return None
    if not isinstance(value, str):
        raise HarnessError(
            f"{where}: field {name!r} should be a text, got {type(value).__name__} ({value!r:.60})",
            hint=f"write {name!r} as a JSON string",
        )
    return value


def _feedback(value: Any, where: str) -> Feedback | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HarnessError(
            f"{where}: field 'feedback' should be a mapping, got {value!r:.60}",
            hint='write e.g. "feedback": {"thumbs": "down", "correction": "...", "flag": "reason"}',
        )
    strays = sorted(set(value) - set(FEEDBACK_KEYS))
    if strays:
        raise HarnessError(
            f"{where}: unknown field 'feedback.{strays[0]}'", hint=f"feedback keys are {', '.join(FEEDBACK_KEYS)}"
        )
    thumbs = value.get("thumbs")
    if thumbs is not None and thumbs not in THUMBS:
        raise HarnessError(
            f"{where}: field 'feedback.thumbs' should be up or down, got {thumbs!r:.40}", hint='write "up" or "down"'
        )
    flag = value.get("flag")
    if flag is not None and not isinstance(flag, bool | str):
        raise HarnessError(
            f"{where}: field 'feedback.flag' should be true or a reason (text), got {flag!r:.40}",
            hint='write "flag": true or "flag": "the reason"',
        )
    for name in ("correction", "note"):
        _text_field(value, name, f"{where}, feedback", required=False)
    reason = ("flagged" if flag is True else None) if not isinstance(flag, str) else (flag.strip() or "flagged")
    return Feedback(thumbs, value.get("correction"), reason, value.get("note"))


def read_logs(paths: Sequence[Path]) -> list[LogRecord]:
    """Every record of the log files, sorted by time (stable for equal times)."""
    hint = "fix or remove that line; each line is one JSON object with input, output and timestamp"
    latest = datetime.now(UTC) + FUTURE_TOLERANCE
    records: list[LogRecord] = []
    for path in paths:
        path = Path(path)
        for number, row in _json_lines(path, "log file", hint):
            where = f"{path}:{number}"
            record_id = row.get("id", f"{path.stem}-{number}")
            if not isinstance(record_id, str | int) or isinstance(record_id, bool):
                raise HarnessError(
                    f"{where}: field 'id' should be a text or a number, got {record_id!r:.60}",
                    hint="write the request id as a JSON string",
                )
            if "timestamp" not in row:
                raise HarnessError(
                    f"{where}: missing field 'timestamp'", hint='add "timestamp": "2024-03-11T09:30:00Z"'
                )
            records.append(
                LogRecord(
                    id=str(record_id),
                    timestamp=_log_time(row["timestamp"], where, latest),
                    input=_text_field(row, "input", where, required=True) or "",
                    output=_text_field(row, "output", where, required=True) or "",
                    file=str(path),
                    line=number,
                    label=_text_field(row, "label", where, required=False),
                    feedback=_feedback(row.get("feedback"), where),
                )
            )
    return sorted(records, key=lambda r: r.timestamp)


def _first(row: Mapping[str, Any], names: Sequence[str], where: str) -> str | None:
    for name in names:
        if row.get(name) is not None:
            return _text_field(row, name, where, required=True)
    return None


def read_reference(paths: Sequence[Path]) -> Reference:
    """Reference texts (and outputs, labels) from eval sets or logs of a period the model is known to handle."""
    texts: list[str] = []
    outputs: list[str] = []
    labels: list[str] = []
    sources: list[str] = []
    hint = "fix that line; a reference row needs `input`, `prompt` or `text`"
    for path in paths:
        path = Path(path)
        for number, row in _json_lines(path, "reference file", hint):
            where = f"{path}:{number}"
            text = _first(row, ("input", "prompt", "text"), where)
            if text is None:
                raise HarnessError(f"{where}: no text field (input, prompt or text)", hint=hint)
            texts.append(text)
            sources.append(where)
            output = _first(row, ("output", "reference", "answer"), where)
            if output is not None:
                outputs.append(output)
            label = _first(row, ("label", "answer"), where)
            if label is not None:
                labels.append(label)
    if texts and not any(_WORD.search(text) for text in texts):
        raise HarnessError(
            f"the reference texts in {', '.join(map(str, paths))} hold no words (all blank or punctuation)",
            hint="name the eval sets or logs whose inputs the model was tuned on",
        )
    return Reference(tuple(texts), tuple(outputs), tuple(labels), tuple(sources))
