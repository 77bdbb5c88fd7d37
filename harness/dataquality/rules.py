"""The spec's per-record rules (length, required and forbidden patterns, style) and the size of the set."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from harness.dataquality.findings import NOTE, Finding
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec, compile_regex
from harness.pretrained import load_local

_APPROX_TOKEN = re.compile(r"\w+|[^\w\s]")
_FIRST_PERSON = re.compile(
    r"\b(?:I|I'm|I've|I'd|I'll|me|my|mine|myself|we|we're|we've|our|ours|us|ourselves)\b", re.IGNORECASE
)
# RE2 (linear time): a record of many thousand "." must not backtrack. A sentence end is terminal punctuation
# followed by space and a capital, digit, quote or bracket (consumed, never itself punctuation), or by the end.
_SENTENCE_END = compile_regex(r"[.!?]+(?:[\s\p{Z}]+[A-Z0-9\"'(]|[\s\p{Z}]*$)")
_ENDS_WITH_TERMINAL = compile_regex(r"[.!?][\"')\]]*[\s\p{Z}]*$")


@lru_cache(maxsize=4)
def _tokenizer_counter(directory: str, spec_path: str) -> Callable[[str], int]:
    """Token counts from a local tokenizer directory (no downloads, no custom code)."""
    from transformers import AutoTokenizer

    tokenizer = load_local(
        AutoTokenizer,
        directory,
        what=f"{spec_path}: length.tokenizer",
        hint="point length.tokenizer at a local directory holding tokenizer.json or tokenizer_config.json",
    )
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def length_counter(spec: DataSpec) -> Callable[[str], int]:
    """How the spec counts length: words, a named tokenizer's tokens, or approximate tokens (words + punctuation)."""
    rule = spec.length
    if rule is None or rule.unit == "words":
        return lambda text: len(text.split())
    if rule.tokenizer:
        return _tokenizer_counter(rule.tokenizer, str(spec.path))
    return lambda text: len(_APPROX_TOKEN.findall(text))


def count_sentences(text: str) -> int:
    """Sentences, counted by terminal punctuation followed by a capital, a digit or the end."""
    stripped = text.strip()
    if not stripped:
        return 0
    ends = len(_SENTENCE_END.findall(stripped))
    return ends + (0 if _ENDS_WITH_TERMINAL.search(stripped) else 1)


def check_record(record: TrainingRecord, spec: DataSpec, count: Callable[[str], int]) -> list[Finding]:
    """Length bounds, patterns and style rules of one record."""
    out: list[Finding] = []

    def add(rule: str, message: str, fix: str) -> None:
        out.append(Finding(rule, spec.severity[rule], message, fix, record.file, record.line, record.id))

    if (rule := spec.length) is not None:
        n = count(record.role_text(rule.field, spec))
        unit = rule.unit if rule.unit == "words" or rule.tokenizer else "tokens (approximate)"
        where = f"field {rule.field!r}" if rule.field else "text"
        if rule.min is not None and n < rule.min:
            add("length", f"{where} has {n} {unit}, under the minimum {rule.min}", "lengthen or drop the example")
        if rule.max is not None and n > rule.max:
            add("length", f"{where} has {n} {unit}, over the maximum {rule.max}", "shorten or split the example")
    for pattern in spec.required_patterns:
        if not pattern.regex.search(record.role_text(pattern.field, spec)):
            add(
                "required_pattern",
                f"does not match required pattern {pattern.name!r}",
                f"rewrite it to match /{pattern.regex.pattern}/, or drop it",
            )
    for pattern in spec.forbidden_patterns:
        if match := pattern.regex.search(record.role_text(pattern.field, spec)):
            add(
                "forbidden_pattern",
                f"matches forbidden pattern {pattern.name!r}: {match.group(0)!r:.60}",
                "remove that text from the example",
            )
    if (style := spec.style) is not None:
        text = record.role_text(style.field, spec) if style.field else record.output
        if style.no_first_person and (match := _FIRST_PERSON.search(text)):
            add(
                "style",
                f"uses the first person ({match.group(0)!r}); the spec forbids it",
                "rewrite it in the third person",
            )
        if style.max_sentences is not None and (n := count_sentences(text)) > style.max_sentences:
            add("style", f"has {n} sentences, over the maximum {style.max_sentences}", "shorten the example")
    return out


# Outputs that say there is no output: the mechanical defects AlpacaDataCleaned removed from Alpaca.
PLACEHOLDERS = frozenset(
    {
        "",
        "<noinput>",
        "<no input>",
        "no input",
        "<nooutput>",
        "<no output>",
        "no output",
        "n/a",
        "-",
        "--",
        "...",
        "tbd",
        "todo",
        "<blank>",
        "[blank]",
        "<empty>",
    }
)
_PLACEHOLDER_TRIM = " \t\n\r.\"'`"
# An instruction that points at something the model cannot see: a link, an attachment, an image or recording.
_UNSEEN = compile_regex(
    r"(?i)(https?://\S+|www\.[a-z0-9-]+\.[a-z]{2,}\S*|\battach(?:ed|ment)\b|"
    r"\b(?:this|the|following|given|above|below|provided|linked|uploaded)\s+"
    r"(?:image|photo|photograph|picture|video|audio|recording|screenshot|diagram|link|url|website|web page|"
    r"webpage|pdf)s?\b)"
)


def is_placeholder(text: str) -> bool:
    """True for empty text and the stand-ins of Alpaca-style data ("<noinput>", "N/A", "<No Output>", ...)."""
    return text.strip(_PLACEHOLDER_TRIM).casefold() in PLACEHOLDERS or text.strip().casefold() in PLACEHOLDERS


def check_content(records: Sequence[TrainingRecord], spec: DataSpec) -> list[Finding]:
    """Placeholder outputs and inputs, and instructions about a link or attachment the model never sees."""
    out: list[Finding] = []
    prompts = spec.format in ("instruction_response", "chat")
    for r in records:

        def add(rule: str, message: str, fix: str, record: TrainingRecord = r) -> None:
            out.append(Finding(rule, spec.severity[rule], message, fix, record.file, record.line, record.id))

        if spec.format != "text_label" and is_placeholder(r.output):
            add(
                "placeholder_output",
                f"the output is a placeholder ({r.output.strip()!r:.40})",
                "write the answer, or drop the record",
            )
        extra = r.fields.get(spec.field_name("input")) if spec.format == "instruction_response" else None
        if isinstance(extra, str) and extra.strip() and is_placeholder(extra):
            add(
                "placeholder_output",
                f"the input is a placeholder ({extra.strip()!r:.40}); the model is trained to read it as content",
                "leave the input empty when there is none",
            )
        if prompts and (match := _UNSEEN.search(r.prompt)):
            add(
                "unseen_reference",
                f"the instruction refers to something the model cannot see: {match.group(0)!r:.60}",
                "put the content itself into the input, or drop the record",
            )
    return out


def check_size(n_records: int, spec: DataSpec) -> list[Finding]:
    """Too few examples fail or warn; the usual range of a curated fine-tuning set is given as a note."""
    rule = spec.size
    low, high = rule.usual_range
    if n_records < rule.minimum:
        return [
            Finding(
                "size",
                "error",
                f"{n_records} usable examples, under the minimum {rule.minimum}",
                "add curated examples before training",
            )
        ]
    if n_records < rule.recommended:
        return [
            Finding(
                "size",
                spec.severity["size"],
                f"{n_records} usable examples, under the recommended {rule.recommended} "
                f"(curated fine-tuning sets usually hold {low:,}-{high:,})",
                "add curated, reviewed examples; a few hundred rarely move a model reliably",
            )
        ]
    return [
        Finding(
            "size",
            NOTE,
            f"{n_records} usable examples (curated fine-tuning sets usually hold {low:,}-{high:,})",
            "none needed",
        )
    ]


def check_records(records: Sequence[TrainingRecord], spec: DataSpec) -> list[Finding]:
    """Per-record rules over the whole set."""
    count = length_counter(spec)
    return [finding for record in records for finding in check_record(record, spec, count)]
