"""Training records: read JSONL line by line, check each against the spec's format, and extract its texts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.dataquality.findings import Finding
from harness.dataquality.spec import DataSpec
from harness.jsonlines import JSON_ERRORS, json_problem, parse_json, stream_lines

CHAT_ROLES = ("system", "user", "assistant")
# C0 and C1 controls (but tab, LF, CR and NEL), DEL, and U+FFFD, the mark of a failed decoding.
_CONTROL = frozenset(chr(c) for c in [*range(32), *range(0x7F, 0xA0), 0xFFFD] if chr(c) not in "\t\n\r\x85")


@dataclass(frozen=True)
class TrainingRecord:
    """One training example: where it came from, its id, its fields, and its texts by role."""

    file: str
    line: int
    id: str
    fields: Mapping[str, Any]
    prompt: str  # instruction (+ input) / user turns / text
    output: str  # response / assistant turns / text
    label: str | None

    @property
    def text(self) -> str:
        """All of the record's text, as compared for duplicates, domain and contamination."""
        return self.prompt if self.prompt == self.output else f"{self.prompt}\n{self.output}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line} (id {self.id})"

    def role_text(self, role: str | None, spec: DataSpec) -> str:
        """The text of one field (a record key, or a role such as `response`); None means the whole record."""
        if role is None:
            return self.text
        value = self.fields.get(spec.field_name(role), self.fields.get(role))
        if isinstance(value, list):
            return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
        return "" if value is None else str(value)


def _schema(spec: DataSpec, file: str, line: int, record_id: str | None, message: str, fix: str) -> Finding:
    return Finding("schema", spec.severity["schema"], message, fix, file, line, record_id)


def _texts(spec: DataSpec, row: Mapping[str, Any]) -> tuple[str, str, str | None] | str:
    """(prompt, output, label) for a row, or a description of what is wrong with it."""
    name = spec.field_name
    if spec.format == "instruction_response":
        for role in ("instruction", "response"):
            value = row.get(name(role))
            if not isinstance(value, str) or not value.strip():
                return f"field {name(role)!r} must be a non-empty string (got {value!r:.40})"
        extra = row.get(name("input"))
        if extra is not None and not isinstance(extra, str):
            return f"field {name('input')!r} must be a string (got {type(extra).__name__})"
        prompt = row[name("instruction")] + (f"\n{extra}" if extra else "")
        label = row.get(spec.labels.field) if spec.labels and spec.labels.field else None
        return prompt, row[name("response")], None if label is None else str(label)
    if spec.format == "chat":
        messages = row.get(name("messages"))
        if not isinstance(messages, list) or not messages:
            return f"field {name('messages')!r} must be a non-empty list of {{role, content}} messages"
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                return f"message {index} must be an object with a string 'content'"
            if message.get("role") not in CHAT_ROLES:
                return f"message {index} has role {message.get('role')!r}; roles are {', '.join(CHAT_ROLES)}"
        roles = [m["role"] for m in messages]
        if "user" not in roles or roles[-1] != "assistant":
            return "a conversation needs a user turn and must end with an assistant turn"
        prompt = "\n".join(m["content"] for m in messages if m["role"] != "assistant")
        output = "\n".join(m["content"] for m in messages if m["role"] == "assistant")
        label = row.get(spec.labels.field) if spec.labels and spec.labels.field else None
        return prompt, output, None if label is None else str(label)
    text = row.get(name("text"))
    if not isinstance(text, str) or not text.strip():
        return f"field {name('text')!r} must be a non-empty string (got {text!r:.40})"
    label_field = spec.labels.field if spec.labels and spec.labels.field else name("label")
    label = row.get(label_field)
    if not isinstance(label, str | int | bool) or isinstance(label, bool) or str(label).strip() == "":
        return f"field {label_field!r} must be a non-empty label (got {label!r:.40})"
    return text, text, str(label)


def _describe(bad: Iterable[str]) -> str:
    return ", ".join("U+FFFD (replacement character)" if c == "\ufffd" else f"U+{ord(c):04X}" for c in sorted(bad))


def _decode(raw: bytes, spec: DataSpec, file: str, line: int) -> str | Finding:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Finding(
            "encoding",
            spec.severity["encoding"],
            f"not valid UTF-8 (byte {raw[exc.start]:#04x} at column {exc.start + 1})",
            "re-encode the file as UTF-8",
            file,
            line,
        )
    bad = {c for c in text if c in _CONTROL}
    if bad:
        return Finding(
            "encoding",
            spec.severity["encoding"],
            f"contains {_describe(bad)}: text was damaged by a wrong decoding or a binary copy",
            "recover the original text, or drop the record",
            file,
            line,
        )
    return text


def _decoded_controls(value: Any) -> set[str]:
    """Control characters in the strings (keys too) of decoded JSON, e.g. from escapes such as \\u001b."""
    bad: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            bad.update(c for c in item if c in _CONTROL)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return bad


def read_records(
    paths: Iterable[str | Path], spec: DataSpec, progress: bool = False
) -> tuple[list[TrainingRecord], list[Finding]]:
    """All well-formed records of the JSONL files, and a finding for every line that is not."""
    records: list[TrainingRecord] = []
    findings: list[Finding] = []
    seen_ids: dict[str, str] = {}
    for path in map(Path, paths):
        file = str(path)
        for line, raw in stream_lines(path, what="training data", progress=progress):
            decoded = _decode(raw, spec, file, line)
            if isinstance(decoded, Finding):
                findings.append(decoded)
                continue
            try:
                row = parse_json(decoded)
            except JSON_ERRORS as exc:
                findings.append(
                    _schema(
                        spec,
                        file,
                        line,
                        None,
                        f"not valid JSON ({json_problem(exc)})",
                        "make the line one JSON object (NaN and Infinity are not JSON numbers)",
                    )
                )
                continue
            if bad := _decoded_controls(row):
                findings.append(
                    Finding(
                        "encoding",
                        spec.severity["encoding"],
                        f"a JSON string holds the control character(s) {_describe(bad)} (written as \\u escapes)",
                        "remove them (terminal escape codes, NUL bytes) or drop the record",
                        file,
                        line,
                    )
                )
                continue
            if not isinstance(row, dict):
                findings.append(
                    _schema(
                        spec,
                        file,
                        line,
                        None,
                        f"a line must be a JSON object, got {type(row).__name__}",
                        "wrap the record in {...}",
                    )
                )
                continue
            raw_id = row.get(spec.id_field) if spec.id_field else None
            record_id = str(raw_id) if raw_id is not None else f"line-{line}"
            missing = [f for f in spec.required_fields if row.get(f) in (None, "")]
            if missing:
                findings.append(
                    _schema(
                        spec,
                        file,
                        line,
                        record_id,
                        f"missing required field(s) {', '.join(missing)}",
                        f"add {', '.join(repr(m) for m in missing)} to the record",
                    )
                )
                continue
            texts = _texts(spec, row)
            if isinstance(texts, str):
                findings.append(
                    _schema(
                        spec,
                        file,
                        line,
                        record_id,
                        texts,
                        f"fix the record to match the spec's format ({spec.format})",
                    )
                )
                continue
            if raw_id is not None and record_id in seen_ids:
                findings.append(
                    _schema(
                        spec,
                        file,
                        line,
                        record_id,
                        f"id {record_id!r} is already used at {seen_ids[record_id]}",
                        "give every record a unique id",
                    )
                )
            seen_ids.setdefault(record_id, f"{file}:{line}")
            records.append(TrainingRecord(file, line, record_id, row, *texts))
    return records, findings
