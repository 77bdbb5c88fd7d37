"""Personal data in training text: emails, phone numbers, card numbers and IBANs, each validated.

Phone numbers are found and validated by `phonenumbers` (Google's libphonenumber): numbers in international
form (+33 1 42 68 53 00) always; numbers in a national form of one of the spec's regions when they are written
with separators or follow a word such as "call" or "phone". Floats, timestamps, ISBNs, dates and digit runs fail
its validation or these conditions. Emails at the reserved example domains of RFC 2606 are not personal data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.dataquality.findings import NOTE, Finding
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DEFAULT_PHONE_REGIONS, DataSpec, compile_regex

# RE2 (linear time): with Python's engine a long run of "a.a.a..." before an "@" took quadratic time.
EMAIL = compile_regex(r"\b[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# A run of digits with separators between them; runs of 7 to 24 digits are handed to phonenumbers, longer runs
# (tables of numbers) are not phone numbers, and skipping them keeps hostile text linear.
_DIGIT_RUN = compile_regex(r"\+?\(?\d(?:[\s().\-/]{0,3}\d)*")
_RUN_DIGITS = (7, 24)
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|tél|téléphone|telefon|teléfono|telefono|call|calls|ring|mobile|cell|fax|"
    r"dial|contact|reach|text|sms|whatsapp|hotline|helpline|number|handy|portable|numéro)\b\W{0,3}$"
)
_DECIMAL = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")  # 0.9821: a number with one decimal point, not a phone
_ISBN_BEFORE = re.compile(r"(?i)isbn(?:-1[03])?\W{0,3}$")
# Reserved for documentation and tests (RFC 2606, RFC 6761): never a person's address.
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")
RESERVED_TLDS = ("test", "invalid", "example", "localhost")
# Issuer prefixes of payment cards (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro).
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6011|64[4-9]|65|35|30[0-5]|36|38|62|5018|5020|5038|6304)")
_QUICK = re.compile(r"@|\d{2}")
_CONTEXT_CHARS = 24  # how far before a national-format number a context word may stand


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


def reserved_domain(domain: str) -> bool:
    """True for the example domains of RFC 2606 (and their subdomains) and the .test/.invalid/.example TLDs."""
    domain = domain.lower().rstrip(".")
    return domain.rsplit(".", 1)[-1] in RESERVED_TLDS or any(
        domain == d or domain.endswith("." + d) for d in RESERVED_DOMAINS
    )


def _mask(text: str) -> str:
    keep = 2 if len(text) > 6 else 1
    return text[:keep] + "*" * max(len(text) - 2 * keep, 1) + text[-keep:]


def phone_spans(text: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> list[tuple[int, int]]:
    """(start, end) of each valid phone number: international anywhere, national forms of `regions` in context."""
    from phonenumbers import Leniency, PhoneNumberMatcher

    spans: dict[int, int] = {}
    for run in _DIGIT_RUN.finditer(text):
        if not _RUN_DIGITS[0] <= sum(c.isdigit() for c in run.group(0)) <= _RUN_DIGITS[1]:
            continue
        offset = max(0, run.start() - _CONTEXT_CHARS)  # phonenumbers looks around a number for dates and times
        window = text[offset : run.end() + _CONTEXT_CHARS]
        for region in (None, *regions):
            for match in PhoneNumberMatcher(window, region, leniency=Leniency.VALID):
                raw, start = match.raw_string, offset + match.start
                before = text[max(0, start - _CONTEXT_CHARS) : start]
                if _ISBN_BEFORE.search(before) or _DECIMAL.search(raw) or start in spans:
                    continue
                international = raw.startswith(("+", "00")) or region is None
                grouped = any(not c.isdigit() for c in raw)
                if international or grouped or _PHONE_CONTEXT.search(before):
                    spans[start] = offset + match.end
    return sorted(spans.items())


def find_pii(
    text: str,
    checks: Sequence[str] = ("email", "phone", "card", "iban"),
    regions: Sequence[str] = DEFAULT_PHONE_REGIONS,
) -> list[PiiHit]:
    """Emails, valid card numbers, valid IBANs and valid phone numbers in a text; spans never overlap."""
    if not _QUICK.search(text):
        return []
    hits: list[PiiHit] = []
    taken = bytearray(len(text))  # 1 where an earlier hit lies: checking a span costs its length, not the hits

    def free(start: int, end: int) -> bool:
        return not any(taken[start:end])

    def take(kind: str, start: int, end: int) -> None:
        hits.append(PiiHit(kind, _mask(text[start:end]), start))
        taken[start:end] = b"\x01" * (end - start)

    if "email" in checks:
        for m in EMAIL.finditer(text):
            if not reserved_domain(m.group(1)):
                take("email", m.start(), m.end())
    if "iban" in checks:
        for m in IBAN.finditer(text):
            if free(*m.span()) and iban_valid(m.group(0)):
                take("iban", *m.span())
    if "card" in checks:
        for m in CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            before = text[max(0, m.start() - _CONTEXT_CHARS) : m.start()]
            if (
                free(*m.span())
                and 13 <= len(digits) <= 19
                and _CARD_PREFIX.match(digits)
                and luhn_valid(digits)
                and not _ISBN_BEFORE.search(before)
            ):
                take("card number", *m.span())
    if "phone" in checks:
        for start, end in phone_spans(text, regions):
            if free(start, end):
                take("phone number", start, end)
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
    rule = spec.pii
    per_record = [
        find_pii(r.text, rule.checks, rule.phone_regions)
        for r in tqdm(records, desc="pii", unit="rec", disable=not progress, leave=False)
    ]
    if rule.presidio:
        extra = _presidio_hits([r.text for r in records])
        if extra is None:
            findings.append(
                Finding(
                    "pii",
                    NOTE,
                    "pii.presidio is on, but presidio_analyzer is not installed; only the built-in checks ran",
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
