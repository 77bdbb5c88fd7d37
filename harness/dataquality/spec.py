"""The data specification (data_spec.yaml): what a fine-tuning set must look like, loaded with line-numbered errors."""

from __future__ import annotations

import dataclasses
import difflib
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import re2

from harness.errors import HarnessError
from harness.yamlfile import YamlDocument, read_yaml

FORMATS = ("instruction_response", "chat", "text_label")
DEFAULT_FIELDS = {
    "instruction_response": {"instruction": "instruction", "input": "input", "response": "response"},
    "chat": {"messages": "messages"},
    "text_label": {"text": "text", "label": "label"},
}
RULES = (
    "schema",
    "encoding",
    "length",
    "required_pattern",
    "forbidden_pattern",
    "style",
    "size",
    "exact_duplicate",
    "near_duplicate",
    "label_not_allowed",
    "label_imbalance",
    "label_proportion",
    "off_domain",
    "contamination",
    "pii",
    "unapproved_synthetic",
    "placeholder_output",
    "unseen_reference",
)
DEFAULT_SEVERITY = {rule: "error" for rule in RULES} | {
    "label_proportion": "warning",
    "size": "warning",
    "unseen_reference": "warning",
}
# The text fields of eval rows, as the suites name them (lists such as choices count item by item).
DEFAULT_EVAL_FIELDS = (
    "prompt",
    "question",
    "input",
    "instruction",
    "text",
    "context",
    "choices",
    "reference",
    "answer",
)
DEFAULT_PHONE_REGIONS = ("US", "GB", "FR", "DE", "AU", "IN")
DEFAULT_AUGMENT_TEMPLATE = "Rewrite the following text in different words, keeping its meaning.\nText: {text}\nRewrite:"


class Regex(Protocol):
    """A compiled linear-time (RE2) regular expression: searched like Python's, never backtracks."""

    pattern: str

    def search(self, text: str) -> Any: ...


@dataclass(frozen=True)
class Pattern:
    """A named regular expression checked on one field (or on all text of a record)."""

    name: str
    regex: Regex
    field: str | None


@dataclass(frozen=True)
class LengthRule:
    unit: str = "words"  # words | tokens
    min: int | None = None
    max: int | None = None
    field: str | None = None  # None: the whole record's text
    tokenizer: str | None = None  # local tokenizer directory for exact token counts


@dataclass(frozen=True)
class LabelRule:
    field: str | None = None
    allowed: tuple[str, ...] = ()
    proportions: dict[str, float] = dataclasses.field(default_factory=dict)
    tolerance: float = 0.05
    rare_factor: float = 0.1  # a class under rare_factor x 1/K of the data is too rare


@dataclass(frozen=True)
class StyleRule:
    field: str | None = None  # None: the record's output text (response / assistant turns / text)
    no_first_person: bool = False
    max_sentences: int | None = None


@dataclass(frozen=True)
class SizeRule:
    minimum: int = 0  # under this: an error
    recommended: int = 1000  # under this: a warning
    usual_range: tuple[int, int] = (1000, 5000)


@dataclass(frozen=True)
class DomainRule:
    examples: tuple[str, ...] = ()
    method: str = "tfidf"  # tfidf | embeddings
    min_similarity: float | None = None  # None: calibrated on the examples (see percentile)
    percentile: float = 1.0  # cutoff: this percentile of the examples' leave-one-out similarity
    field: str = "prompt"  # prompt | output | text: what is compared with the examples


@dataclass(frozen=True)
class DuplicateRule:
    near_threshold: float = 0.8  # exact Jaccard a verified pair must reach
    candidate_threshold: float = 0.6  # LSH proposes pairs from here (lower: more recall, more time)
    shingle_words: int = 5
    num_perm: int = 128
    short_text_words: int = 12  # shorter texts are shingled by characters
    char_ngram: int = 5


@dataclass(frozen=True)
class ContaminationRule:
    ngram: int = 13
    fields: tuple[str, ...] = DEFAULT_EVAL_FIELDS  # text fields of eval rows (lists such as choices: each item)
    files: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # path pattern -> its fields
    boilerplate_share: float = 0.01  # n-grams in more of the training records than this are not evidence


@dataclass(frozen=True)
class PiiRule:
    checks: tuple[str, ...] = ("email", "phone", "card", "iban")
    presidio: bool = False
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS  # national number formats recognised


@dataclass(frozen=True)
class AugmentRule:
    templates: tuple[str, ...] = (DEFAULT_AUGMENT_TEMPLATE,)
    field: str | None = None  # None: text / instruction / last user turn
    min_source_similarity: float = 0.7
    max_novelty_rouge: float = 0.7
    max_new_tokens: int = 96


@dataclass(frozen=True)
class DataSpec:
    """A parsed data_spec.yaml."""

    path: Path
    name: str
    format: str
    fields: dict[str, str]
    id_field: str | None
    required_fields: tuple[str, ...]
    length: LengthRule | None
    labels: LabelRule | None
    required_patterns: tuple[Pattern, ...]
    forbidden_patterns: tuple[Pattern, ...]
    style: StyleRule | None
    size: SizeRule
    domain: DomainRule
    duplicates: DuplicateRule
    contamination: ContaminationRule
    pii: PiiRule
    augmentation: AugmentRule
    severity: dict[str, str]

    def field_name(self, role: str) -> str:
        """The record key that holds a role (e.g. `text`, `label`, `response`) in this spec's format."""
        return self.fields.get(role, role)


_TOP_KEYS = {
    "version": "1",
    "name": "a short name for the data set",
    "format": "one of " + ", ".join(FORMATS),
    "fields": "a mapping from role to record key",
    "id_field": "the record key holding a unique id",
    "required_fields": "a list of record keys",
    "length": "a mapping with unit, min, max",
    "labels": "a mapping with allowed, proportions",
    "patterns": "a mapping with required and forbidden lists",
    "style": "a mapping with no_first_person, max_sentences",
    "size": "a mapping with minimum, recommended",
    "domain": "a mapping with examples, method, min_similarity, percentile, field",
    "duplicates": "a mapping with near_threshold, candidate_threshold, shingle_words, num_perm",
    "contamination": "a mapping with ngram, fields, files, boilerplate_share",
    "pii": "a mapping with checks, presidio, phone_regions",
    "augmentation": "a mapping with templates, min_source_similarity, max_novelty_rouge",
    "severity": "a mapping from rule name to error, warning, note or off",
}


class _Reader:
    """Typed access to the parsed YAML that raises a HarnessError naming the file, line and key."""

    def __init__(self, path: Path, doc: YamlDocument) -> None:
        self.path = path
        self.doc = doc

    def fail(self, key: tuple[Any, ...], problem: str, hint: str) -> HarnessError:
        name = ".".join(str(k) if not isinstance(k, int) else f"[{k}]" for k in key).replace(".[", "[")
        what = f"key {name!r}" if key else "the document"
        return HarnessError(f"{self.path}:{self.doc.line_of(key)}: {what}: {problem}", hint=hint)

    def mapping(self, data: Any, key: tuple[Any, ...], known: dict[str, str]) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            example = f"{key[-1]}: {{...}}" if key and isinstance(key[-1], str) else "a mapping {...}"
            raise self.fail(key, f"must be a mapping, got {type(data).__name__}", f"write it as {example}")
        for name in data:
            if name not in known:
                close = difflib.get_close_matches(str(name), known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
                raise self.fail((*key, name), "unknown key", hint)
        return data

    def number(
        self,
        data: dict[str, Any],
        key: tuple[Any, ...],
        default: Any,
        *,
        lo: float,
        hi: float | None,
        whole: bool = False,
    ) -> Any:
        value = data.get(key[-1], default)
        if value is None:
            return None
        kind = int if whole or (isinstance(default, int) and not isinstance(default, bool)) else float
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and not isinstance(value, int))
        ):
            wanted = "a whole number" if kind is int else "a number"
            raise self.fail(key, f"must be {wanted}, got {value!r}", f"write {wanted}")
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise self.fail(key, f"must be {bound}, got {value}", f"use a value {bound}")
        return kind(value)

    def text(self, data: dict[str, Any], key: tuple[Any, ...], default: str | None) -> str | None:
        value = data.get(key[-1], default)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {value!r}", "quote it")
        return value

    def strings(self, data: dict[str, Any], key: tuple[Any, ...], default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = data.get(key[-1], default)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of strings, got {value!r}", "write a YAML list of quoted strings")
        return tuple(value)

    def flag(self, data: dict[str, Any], key: tuple[Any, ...], default: bool) -> bool:
        value = data.get(key[-1], default)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}", "write true or false")
        return value

    def choice(self, data: dict[str, Any], key: tuple[Any, ...], default: str, options: tuple[str, ...]) -> str:
        value = data.get(key[-1], default)
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, got {value!r}", f"use one of {options}")
        return value


def compile_regex(source: str) -> Regex:
    """A linear-time RE2 regex; raises re2.error for invalid syntax or what RE2 cannot do in linear time."""
    options = re2.Options()
    options.log_errors = False  # the error is reported to the user, with the file and line
    return re2.compile(source, options)


def _regex_problem(exc: Exception) -> str:
    """RE2's reason, which it gives as bytes."""
    detail = exc.args[0] if exc.args else exc
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


def _patterns(reader: _Reader, data: Any, key: tuple[str, ...]) -> tuple[Pattern, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise reader.fail(key, "must be a list of patterns", "write items like - {name: ..., regex: '...'}")
    patterns = []
    for index, item in enumerate(data):
        where = (*key, index)
        if isinstance(item, str):
            item = {"regex": item}
        item = reader.mapping(item, where, {"name": "", "regex": "", "field": ""})
        source = reader.text(item, (*where, "regex"), None)
        if not source:
            raise reader.fail(where, "has no regex", "add regex: '...'")
        try:
            compiled = compile_regex(source)
        except re2.error as exc:
            raise reader.fail(
                (*where, "regex"),
                f"invalid regular expression {source!r} (RE2 says: {_regex_problem(exc)})",
                "fix the regex; patterns run on RE2 (linear time), which has no backreferences or lookaround "
                "((?=...), (?<=...)) and matches \\w, \\d, \\b on ASCII only",
            ) from None
        name = reader.text(item, (*where, "name"), None) or source
        patterns.append(Pattern(name, compiled, reader.text(item, (*where, "field"), None)))
    return tuple(patterns)


def _templates(reader: _Reader, data: dict[str, Any], key: tuple[str, ...]) -> tuple[str, ...]:
    """Augmentation prompts: each holds the source as {text} (no attribute, index or format spec)."""
    templates = reader.strings(data, key, (DEFAULT_AUGMENT_TEMPLATE,))
    hint = "write the source text as {text}; double other braces: {{ }}"
    for index, template in enumerate(templates):
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as exc:
            raise reader.fail((*key, index), f"is not a valid template: {exc}", hint) from None
        fields = [(name, spec, conv) for _, name, spec, conv in parsed if name is not None]
        names = {name for name, _, _ in fields}
        if names != {"text"}:
            raise reader.fail(
                (*key, index), f"must use exactly the placeholder {{text}}, found {sorted(names) or 'none'}", hint
            )
        if any(spec for _, spec, _ in fields):  # {text:>999999999} would build a gigabyte of padding
            raise reader.fail((*key, index), "{text} may not carry a format spec ({text:...})", hint)
    return templates


def _parse(reader: _Reader, raw: Any) -> dict[str, Any]:
    top = reader.mapping(raw, (), _TOP_KEYS)
    out: dict[str, Any] = {}
    version = top.get("version", 1)
    if isinstance(version, bool) or version != 1:
        raise reader.fail(("version",), f"unsupported version {version!r}", "use version: 1")
    out["name"] = reader.text(top, ("name",), reader.path.parent.name) or "data"
    if "format" not in top:
        raise reader.fail(("format",), "is required", f"add format: one of {', '.join(FORMATS)}")
    fmt = out["format"] = reader.choice(top, ("format",), "", FORMATS)
    fields = reader.mapping(top.get("fields"), ("fields",), {k: "" for k in DEFAULT_FIELDS[fmt]})
    for role, value in fields.items():
        if not isinstance(value, str):
            raise reader.fail(("fields", role), f"must be a record key, got {value!r}", "write a field name")
    out["fields"] = {**DEFAULT_FIELDS[fmt], **fields}
    out["id_field"] = reader.text(top, ("id_field",), "id")
    out["required_fields"] = reader.strings(top, ("required_fields",), ())

    if "length" in top:
        d = reader.mapping(top["length"], ("length",), {"unit": "", "min": "", "max": "", "field": "", "tokenizer": ""})
        out["length"] = LengthRule(
            unit=reader.choice(d, ("length", "unit"), "words", ("words", "tokens")),
            min=reader.number(d, ("length", "min"), None, lo=0, hi=None, whole=True),
            max=reader.number(d, ("length", "max"), None, lo=1, hi=None, whole=True),
            field=reader.text(d, ("length", "field"), None),
            tokenizer=_tokenizer_dir(reader, d),
        )
        if out["length"].min is not None and out["length"].max is not None and out["length"].min > out["length"].max:
            raise reader.fail(("length", "min"), "is larger than length.max", "swap or correct the bounds")
    else:
        out["length"] = None

    if "labels" in top:
        keys = {"field": "", "allowed": "", "proportions": "", "tolerance": "", "rare_factor": ""}
        d = reader.mapping(top["labels"], ("labels",), keys)
        proportions = d.get("proportions") or {}
        if not isinstance(proportions, dict):
            raise reader.fail(("labels", "proportions"), "must map each label to a share", "write label: 0.25")
        for label in proportions:
            if isinstance(label, bool) or not isinstance(label, str | int):
                raise reader.fail(
                    ("labels", "proportions", label),
                    f"label {label!r} is not text",
                    "quote the label (YAML reads yes, no, on, off as true/false)",
                )
        allowed = reader.strings(d, ("labels", "allowed"), tuple(str(k) for k in proportions))
        for label, share in proportions.items():
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
                raise reader.fail(
                    ("labels", "proportions", label),
                    f"must be a share in [0, 1], got {share!r}",
                    "write a number such as 0.25",
                )
            if allowed and str(label) not in allowed:
                raise reader.fail(("labels", "proportions", label), "is not in labels.allowed", "add it to allowed")
        if proportions and abs(sum(proportions.values()) - 1) > 0.01:
            raise reader.fail(
                ("labels", "proportions"),
                f"shares sum to {sum(proportions.values()):.3f}, not 1",
                "make the target shares add up to 1",
            )
        out["labels"] = LabelRule(
            field=reader.text(d, ("labels", "field"), None),
            allowed=allowed,
            proportions={str(k): float(v) for k, v in proportions.items()},
            tolerance=reader.number(d, ("labels", "tolerance"), 0.05, lo=0, hi=1),
            rare_factor=reader.number(d, ("labels", "rare_factor"), 0.1, lo=0, hi=1),
        )
    elif fmt == "text_label":
        out["labels"] = LabelRule()
    else:
        out["labels"] = None

    patterns = reader.mapping(top.get("patterns"), ("patterns",), {"required": "", "forbidden": ""})
    out["required_patterns"] = _patterns(reader, patterns.get("required"), ("patterns", "required"))
    out["forbidden_patterns"] = _patterns(reader, patterns.get("forbidden"), ("patterns", "forbidden"))

    if "style" in top:
        d = reader.mapping(top["style"], ("style",), {"field": "", "no_first_person": "", "max_sentences": ""})
        out["style"] = StyleRule(
            field=reader.text(d, ("style", "field"), None),
            no_first_person=reader.flag(d, ("style", "no_first_person"), False),
            max_sentences=reader.number(d, ("style", "max_sentences"), None, lo=1, hi=None, whole=True),
        )
    else:
        out["style"] = None

    d = reader.mapping(top.get("size"), ("size",), {"minimum": "", "recommended": "", "usual_range": ""})
    usual = d.get("usual_range", [1000, 5000])
    whole = isinstance(usual, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in usual)
    if not (whole and len(usual) == 2 and 0 <= usual[0] <= usual[1]):
        raise reader.fail(
            ("size", "usual_range"), f"must be [low, high], got {usual!r}", "write two whole numbers, e.g. [1000, 5000]"
        )
    out["size"] = SizeRule(
        minimum=reader.number(d, ("size", "minimum"), 0, lo=0, hi=None),
        recommended=reader.number(d, ("size", "recommended"), 1000, lo=0, hi=None),
        usual_range=(usual[0], usual[1]),
    )

    keys = {"examples": "", "method": "", "min_similarity": "", "percentile": "", "field": ""}
    d = reader.mapping(top.get("domain"), ("domain",), keys)
    examples = reader.strings(d, ("domain", "examples"), ())
    for index, example in enumerate(examples):
        if not example.strip():
            raise reader.fail(("domain", "examples", index), "is blank", "write a typical in-domain text, or remove it")
    out["domain"] = DomainRule(
        examples=examples,
        method=reader.choice(d, ("domain", "method"), "tfidf", ("tfidf", "embeddings")),
        min_similarity=reader.number(d, ("domain", "min_similarity"), None, lo=0, hi=1),
        percentile=reader.number(d, ("domain", "percentile"), 1.0, lo=0, hi=100),
        field=reader.choice(d, ("domain", "field"), "prompt", ("prompt", "output", "text")),
    )

    keys = {
        "near_threshold": "",
        "candidate_threshold": "",
        "shingle_words": "",
        "num_perm": "",
        "short_text_words": "",
        "char_ngram": "",
    }
    d = reader.mapping(top.get("duplicates"), ("duplicates",), keys)
    near = reader.number(d, ("duplicates", "near_threshold"), 0.8, lo=0.05, hi=1)
    candidate = reader.number(d, ("duplicates", "candidate_threshold"), min(0.6, near), lo=0.05, hi=1)
    if candidate > near:
        raise reader.fail(
            ("duplicates", "candidate_threshold"),
            f"is {candidate}, above near_threshold {near}: pairs between them could never be proposed",
            "make candidate_threshold at most near_threshold (0.2 below it is a good start)",
        )
    out["duplicates"] = DuplicateRule(
        near_threshold=near,
        candidate_threshold=candidate,
        shingle_words=reader.number(d, ("duplicates", "shingle_words"), 5, lo=1, hi=32),
        num_perm=reader.number(d, ("duplicates", "num_perm"), 128, lo=16, hi=1024),
        short_text_words=reader.number(d, ("duplicates", "short_text_words"), 12, lo=0, hi=None),
        char_ngram=reader.number(d, ("duplicates", "char_ngram"), 5, lo=1, hi=32),
    )

    keys = {"ngram": "", "fields": "", "files": "", "boilerplate_share": ""}
    d = reader.mapping(top.get("contamination"), ("contamination",), keys)
    files = d.get("files") or {}
    if not isinstance(files, dict):
        raise reader.fail(
            ("contamination", "files"),
            "must map a file name or pattern to its text fields",
            "write e.g. files: {'gsm8k_test.jsonl': [question]}",
        )
    out["contamination"] = ContaminationRule(
        ngram=reader.number(d, ("contamination", "ngram"), 13, lo=3, hi=64),
        fields=reader.strings(d, ("contamination", "fields"), DEFAULT_EVAL_FIELDS),
        files={str(k): reader.strings(files, ("contamination", "files", k)) for k in files},
        boilerplate_share=reader.number(d, ("contamination", "boilerplate_share"), 0.01, lo=0, hi=1),
    )

    d = reader.mapping(top.get("pii"), ("pii",), {"checks": "", "presidio": "", "phone_regions": ""})
    checks = reader.strings(d, ("pii", "checks"), PiiRule.checks)
    for index, check in enumerate(checks):
        if check not in PiiRule.checks:
            raise reader.fail(("pii", "checks", index), f"unknown check {check!r}", f"use {', '.join(PiiRule.checks)}")
    regions = reader.strings(d, ("pii", "phone_regions"), DEFAULT_PHONE_REGIONS)
    known_regions = _phone_regions()
    for index, region in enumerate(regions):
        if region not in known_regions:
            raise reader.fail(
                ("pii", "phone_regions", index),
                f"unknown region {region!r}",
                "use ISO 3166 two-letter codes in capitals, such as US, GB, FR, DE, IN",
            )
    out["pii"] = PiiRule(checks=checks, presidio=reader.flag(d, ("pii", "presidio"), False), phone_regions=regions)

    keys = {"templates": "", "field": "", "min_source_similarity": "", "max_novelty_rouge": "", "max_new_tokens": ""}
    d = reader.mapping(top.get("augmentation"), ("augmentation",), keys)
    out["augmentation"] = AugmentRule(
        templates=_templates(reader, d, ("augmentation", "templates")),
        field=reader.text(d, ("augmentation", "field"), None),
        min_source_similarity=reader.number(d, ("augmentation", "min_source_similarity"), 0.7, lo=0, hi=1),
        max_novelty_rouge=reader.number(d, ("augmentation", "max_novelty_rouge"), 0.7, lo=0, hi=1),
        max_new_tokens=reader.number(d, ("augmentation", "max_new_tokens"), 96, lo=1, hi=4096),
    )

    d = reader.mapping(top.get("severity"), ("severity",), {rule: "" for rule in RULES})
    out["severity"] = dict(DEFAULT_SEVERITY)
    for rule in d:
        if d[rule] is False:  # YAML reads a bare `off` as false
            d[rule] = "off"
        out["severity"][rule] = reader.choice(d, ("severity", rule), "error", ("error", "warning", "note", "off"))
    return out


def _phone_regions() -> frozenset[str]:
    """The regions whose national phone formats phonenumbers knows."""
    import phonenumbers

    return frozenset(phonenumbers.SUPPORTED_REGIONS)


def _tokenizer_dir(reader: _Reader, data: dict[str, Any]) -> str | None:
    """length.tokenizer: an existing local directory (nothing is downloaded)."""
    directory = reader.text(data, ("length", "tokenizer"), None)
    if directory is not None and not Path(directory).is_dir():
        raise reader.fail(
            ("length", "tokenizer"),
            f"{directory!r} is not a directory",
            "name a local tokenizer directory (written by save_pretrained), or use unit: tokens without it",
        )
    return directory


def load_spec(path: str | Path) -> DataSpec:
    """Read and check a data_spec.yaml; any mistake raises a HarnessError naming the line, key and fix."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"data specification {path} does not exist", hint="check the path to data_spec.yaml")
    doc = read_yaml(path)
    if doc.data is None:
        raise HarnessError(f"{path}:1: the data specification is empty", hint="write at least `format: text_label`")
    return DataSpec(path=path, **_parse(_Reader(path, doc), doc.data))
