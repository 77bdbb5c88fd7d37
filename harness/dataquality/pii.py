"""Personal data in training text: emails, phone numbers, card numbers (Luhn) and IBANs (mod 97) by regex."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.dataquality.findings import NOTE, Finding
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec, compile_regex

# RE2 (linear time): with Python's engine a long run of "a.a.a..." before an "@" took quadratic time.
EMAIL = compile_regex(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?!\w)")
_QUICK = re.compile(r"@|\d{2}")


@dataclass(frozen=True)
class PiiHit:
    """One piece of personal data found in a text, masked for the report."""

    kind: str
    masked: str
    start: int


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    if not digits.isdigit():
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, and the result mod 97 is 1."""
    compact = candidate.replace(" ", "").upper()
    if not (15 <= len(compact) <= 34 and compact[:2].isalpha() and compact[2:4].isdigit() and compact.isalnum()):
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _mask(text: str) -> str:
    keep = 2 if len(text) > 6 else 1
    return text[:keep] + "*" * max(len(text) - 2 * keep, 1) + text[-keep:]


def find_pii(text: str, checks: Sequence[str] = ("email", "phone", "card", "iban")) -> list[PiiHit]:
    """Emails, valid card numbers, valid IBANs and phone numbers (10-15 digits) in a text; spans never overlap."""
    if not _QUICK.search(text):
        return []
    hits: list[PiiHit] = []
    taken = bytearray(len(text))  # 1 where an earlier hit lies: checking a span costs its length, not the hits

    def free(start: int, end: int) -> bool:
        return not any(taken[start:end])

    def take(kind: str, match: Any) -> None:  # a match of re or re2
        hits.append(PiiHit(kind, _mask(match.group(0)), match.start()))
        taken[match.start() : match.end()] = b"\x01" * (match.end() - match.start())

    if "email" in checks:
        for m in EMAIL.finditer(text):
            take("email", m)
    if "iban" in checks:
        for m in IBAN.finditer(text):
            if free(*m.span()) and iban_valid(m.group(0)):
                take("iban", m)
    if "card" in checks:
        for m in CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if free(*m.span()) and 13 <= len(digits) <= 19 and luhn_valid(digits):
                take("card number", m)
    if "phone" in checks:
        for m in PHONE.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if free(*m.span()) and 10 <= len(digits) <= 15:
                take("phone number", m)
    return sorted(hits, key=lambda h: h.start)


def _presidio_hits(texts: Sequence[str]) -> list[list[PiiHit]] | None:
    """Presidio's analyser, when it is installed with a language model; None when it is not."""
    try:
        from presidio_analyzer import AnalyzerEngine
    except ImportError:
        return None
    engine = AnalyzerEngine()
    return [
        [PiiHit(r.entity_type.lower(), _mask(text[r.start : r.end]), r.start) for r in engine.analyze(text, "en")]
        for text in texts
    ]


def check_pii(records: Sequence[TrainingRecord], spec: DataSpec, progress: bool = False) -> list[Finding]:
    """One finding per record that holds personal data, naming the kinds and masked values."""
    from tqdm import tqdm

    findings: list[Finding] = []
    per_record = [
        find_pii(r.text, spec.pii.checks) for r in tqdm(records, desc="pii", disable=not progress, leave=False)
    ]
    if spec.pii.presidio:
        extra = _presidio_hits([r.text for r in records])
        if extra is None:
            findings.append(
                Finding(
                    "pii",
                    NOTE,
                    "pii.presidio is on, but presidio_analyzer is not installed; only the regex checks ran",
                    "pip install presidio-analyzer (and a spaCy model)",
                )
            )
        else:
            per_record = [
                a + [h for h in b if all(h.start != x.start for x in a)] for a, b in zip(per_record, extra, strict=True)
            ]
    for record, hits in zip(records, per_record, strict=True):
        if hits:
            listed = ", ".join(f"{h.kind} {h.masked}" for h in hits)
            findings.append(
                Finding(
                    "pii",
                    spec.severity["pii"],
                    f"contains personal data: {listed}",
                    "replace it with a placeholder ("
                    + ", ".join(f"[{k.split()[0].upper()}]" for k in sorted({h.kind for h in hits}))
                    + ") or drop the record before training",
                    record.file,
                    record.line,
                    record.id,
                    details={"kinds": sorted({h.kind for h in hits})},
                )
            )
    return findings
