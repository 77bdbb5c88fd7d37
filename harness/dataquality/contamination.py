"""Train/eval contamination: an n-gram (13 words after lm-eval's normalisation) shared with an eval item.

Eval files are read with the field names the suites use (prompt, question, input, text, choices, reference...),
or the fields the spec names for a file; a file that yields no text is an error, so the check never passes
by reading nothing. N-grams found in more than `boilerplate_share` of the training records (shared solution
phrasing, templates) are not evidence of a leak.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from harness.dataquality.findings import NOTE, Finding
from harness.dataquality.ngrams import Vocabulary, hashed_ngrams, lm_eval_words
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import ContaminationRule, DataSpec
from harness.errors import HarnessError
from harness.jsonlines import JSON_ERRORS, parse_json, stream_lines

DEFAULT_EVAL_DIRS = ("fixtures/data", "suites")
BOILERPLATE_MIN_RECORDS = 5  # an n-gram in this few training records is never boilerplate, however small the set


@dataclass(frozen=True)
class EvalItem:
    """The text of one eval item's field, with where it lives."""

    file: str
    line: int
    id: str
    field: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line} (id {self.id})"


@dataclass(frozen=True)
class ContaminationSummary:
    """What the check looked at: the n-gram size, the eval files and items, and the n-grams set aside."""

    ngram: int
    eval_files: tuple[str, ...]
    eval_items: int
    boilerplate_ngrams: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "ngram": self.ngram,
            "eval_files": list(self.eval_files),
            "eval_items": self.eval_items,
            "boilerplate_ngrams": self.boilerplate_ngrams,
        }


def find_eval_files(locations: Iterable[str | Path]) -> list[Path]:
    """Every .jsonl file under the given directories (files are taken as they are), sorted."""
    files: list[Path] = []
    for location in map(Path, locations):
        if location.is_file():
            files.append(location)
        elif location.is_dir():
            files.extend(p for p in location.rglob("*.jsonl") if not any(part.startswith(".") for part in p.parts))
        else:
            raise HarnessError(f"eval set location {location} does not exist", hint="check --eval-sets")
    return sorted(set(files))


def fields_for(path: Path, rule: ContaminationRule) -> tuple[str, ...]:
    """The spec's fields for this file (first `files` pattern that matches its path's end), else the defaults."""
    for pattern, fields in rule.files.items():
        if PurePath(path).match(pattern):
            return fields
    return rule.fields


def _texts(value: Any) -> list[str]:
    """A field's text: a string, or the strings of a list (such as choices)."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def read_eval_file(path: Path, fields: Sequence[str]) -> list[EvalItem]:
    """The named text fields of every JSON object line; a file that yields no text at all is an error."""
    items: list[EvalItem] = []
    keys_seen: dict[str, None] = {}
    lines = 0
    for line, raw in stream_lines(path, what="eval set"):
        lines += 1
        try:
            row = parse_json(raw.decode("utf-8", errors="replace"))
        except JSON_ERRORS:
            continue
        if not isinstance(row, dict):
            continue
        keys_seen.update(dict.fromkeys(map(str, row)))
        item_id = str(row.get("id", f"line-{line}"))
        for name in fields:
            for index, text in enumerate(texts := _texts(row.get(name))):
                label = f"{name}[{index}]" if len(texts) > 1 or isinstance(row.get(name), list) else name
                items.append(EvalItem(str(path), line, item_id, label, text))
    if not items:
        seen = ", ".join(list(keys_seen)[:12]) or "none (no JSON object lines)"
        raise HarnessError(
            f"eval set {path}: no text could be read for the contamination check from its {lines} line(s); "
            f"fields tried: {', '.join(fields)}; fields found: {seen}",
            hint=f"name its text fields in the data spec, e.g. contamination: {{files: {{'{path.name}': [FIELD]}}}}, "
            "or add them to contamination.fields, or leave the file out of --eval-sets",
        )
    return items


def read_eval_items(files: Iterable[Path], rule: ContaminationRule) -> list[EvalItem]:
    """The items of every eval file, each read with its own fields."""
    return [item for path in files for item in read_eval_file(path, fields_for(path, rule))]


def boilerplate_threshold(n_records: int, share: float) -> float:
    """N-grams in more training records than this are boilerplate."""
    return max(share * n_records, BOILERPLATE_MIN_RECORDS)


def shared_ngrams(
    train_texts: Sequence[str],
    eval_texts: Sequence[str],
    n: int = 13,
    boilerplate_share: float = 1.0,
    progress: bool = False,
) -> tuple[dict[int, dict[int, tuple[str, ...]]], int]:
    """For each training text that shares a non-boilerplate n-gram with an eval text: {eval index: one n-gram};
    and how many shared n-grams were set aside as boilerplate."""
    from tqdm import tqdm

    vocab = Vocabulary()
    train_tokens = [
        lm_eval_words(t)
        for t in tqdm(train_texts, desc="contamination: n-grams", unit="rec", disable=not progress, leave=False)
    ]
    eval_tokens = [lm_eval_words(t) for t in eval_texts]
    train = hashed_ngrams([vocab.encode(t) for t in train_tokens], n)
    evals = hashed_ngrams([vocab.encode(t) for t in eval_tokens], n)
    hit = np.isin(train.hashes, np.unique(evals.hashes))
    if not hit.any():
        return {}, 0
    pairs = np.unique(np.stack([train.hashes[hit], train.doc[hit].astype(np.uint64)], axis=1), axis=0)
    hashes, records_per_hash = np.unique(pairs[:, 0], return_counts=True)
    common = hashes[records_per_hash > boilerplate_threshold(len(train_texts), boilerplate_share)]
    hit &= ~np.isin(train.hashes, common)
    hit_hashes = np.unique(train.hashes[hit])
    eval_hit = np.isin(evals.hashes, hit_hashes)
    by_hash: dict[int, list[tuple[int, int]]] = {}
    for h, doc, start in zip(evals.hashes[eval_hit], evals.doc[eval_hit], evals.start[eval_hit], strict=True):
        by_hash.setdefault(int(h), []).append((int(doc), int(start)))
    out: dict[int, dict[int, tuple[str, ...]]] = {}
    for h, doc, start in zip(train.hashes[hit], train.doc[hit], train.start[hit], strict=True):
        gram = tuple(train_tokens[doc][start : start + n])
        for eval_doc, eval_start in by_hash[int(h)]:
            if tuple(eval_tokens[eval_doc][eval_start : eval_start + n]) == gram:  # rule out hash collisions
                out.setdefault(int(doc), {}).setdefault(eval_doc, gram)
    return out, len(common)


def check_contamination(
    records: Sequence[TrainingRecord],
    spec: DataSpec,
    eval_locations: Iterable[str | Path],
    progress: bool = False,
) -> tuple[list[Finding], ContaminationSummary]:
    """An error per training record that shares an n-gram with any eval item, listing the leaked items."""
    rule = spec.contamination
    files = find_eval_files(eval_locations)
    items = read_eval_items(files, rule)
    n = rule.ngram
    if not files:
        note = Finding(
            "contamination",
            NOTE,
            "no eval sets were given, so contamination was not checked",
            "pass --eval-sets DIR_OR_FILE (the eval sets the model will be judged on)",
        )
        return [note], ContaminationSummary(n, (), 0, 0)
    shared, boilerplate = shared_ngrams(
        [r.text for r in records], [i.text for i in items], n, rule.boilerplate_share, progress
    )
    findings = []
    for doc, leaks in sorted(shared.items()):
        r = records[doc]
        leaked = sorted({items[e].where for e in leaks})
        gram = " ".join(next(iter(leaks.values())))
        findings.append(
            Finding(
                "contamination",
                spec.severity["contamination"],
                f"shares a {n}-gram with {len(leaked)} eval item(s), first {leaked[0]}: {gram!r}",
                "remove this record from the training set (or the eval item from the eval set)",
                r.file,
                r.line,
                r.id,
                related=tuple(leaked),
                details={"ngram": gram, "eval_items": leaked},
            )
        )
    summary = ContaminationSummary(n, tuple(str(f) for f in files), len({(i.file, i.line) for i in items}), boilerplate)
    return findings, summary
