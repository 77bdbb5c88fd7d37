"""Train/eval contamination: any 13-gram (after lm-eval's normalisation) shared with an eval item."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.dataquality.findings import Finding
from harness.dataquality.ngrams import Vocabulary, hashed_ngrams, lm_eval_words
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec
from harness.errors import HarnessError

DEFAULT_EVAL_DIRS = ("fixtures/data", "suites")


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


def read_eval_items(files: Iterable[Path], fields: Sequence[str]) -> list[EvalItem]:
    """The named text fields of every JSON object line; lines that are not objects are skipped."""
    items: list[EvalItem] = []
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as handle:
            for line, raw in enumerate(handle, start=1):
                try:
                    row = json.loads(raw) if raw.strip() else None
                except (ValueError, RecursionError):  # not JSON, a 5,000-digit number, nested too deeply
                    continue
                if not isinstance(row, dict):
                    continue
                item_id = str(row.get("id", f"line-{line}"))
                for name in fields:
                    value = row.get(name)
                    if isinstance(value, str) and value.strip():
                        items.append(EvalItem(str(path), line, item_id, name, value))
    return items


def shared_ngrams(
    train_texts: Sequence[str], eval_texts: Sequence[str], n: int = 13
) -> dict[int, dict[int, tuple[str, ...]]]:
    """For each training text that shares an n-gram with an eval text: {eval index: one shared n-gram}."""
    vocab = Vocabulary()
    train_tokens = [lm_eval_words(t) for t in train_texts]
    eval_tokens = [lm_eval_words(t) for t in eval_texts]
    train = hashed_ngrams([vocab.encode(t) for t in train_tokens], n)
    evals = hashed_ngrams([vocab.encode(t) for t in eval_tokens], n)
    hit = np.isin(train.hashes, np.unique(evals.hashes))
    if not hit.any():
        return {}
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
    return out


def check_contamination(
    records: Sequence[TrainingRecord], spec: DataSpec, eval_locations: Iterable[str | Path]
) -> tuple[list[Finding], list[str]]:
    """An error per training record that shares an n-gram with any eval item, listing the leaked items."""
    files = find_eval_files(eval_locations)
    items = read_eval_items(files, spec.contamination.fields)
    n = spec.contamination.ngram
    shared = shared_ngrams([r.text for r in records], [i.text for i in items], n)
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
    return findings, [str(f) for f in files]
