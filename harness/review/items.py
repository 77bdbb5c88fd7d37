"""A run's answers paired per eval item (tuned, and base when present), read from outputs.jsonl."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.jsonlines import read_json_lines
from harness.records import BASE, TUNED, OutputRecord

REQUIRED = ("eval_set", "item_id", "role", "output")


@dataclass(frozen=True)
class ReviewItem:
    """One eval item with the tuned answer to rate and, for A/B, the base answer to compare it with."""

    eval_set: str
    item_id: str
    prompt: str
    tuned_output: str
    base_output: str | None = None
    reference: str = ""
    category: str = ""
    tuned_model: str = ""
    base_model: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.eval_set, self.item_id)

    @property
    def tuned_hash(self) -> str:
        """Identifies the answer a rating is about: a rating is void once the prompt or answer changes."""
        return output_hash(self.prompt, self.tuned_output)

    @property
    def pair_hash(self) -> str | None:
        """Identifies the pair an A/B choice is about (None without a base answer)."""
        if self.base_output is None:
            return None
        return output_hash(self.prompt, self.tuned_output, self.base_output)

    @property
    def disagree(self) -> bool:
        """Base and tuned say different things (SQuAD-normalised texts differ)."""
        from harness.metrics.answers import normalize_answer

        return self.base_output is not None and normalize_answer(self.base_output) != normalize_answer(
            self.tuned_output
        )


def output_hash(*texts: str) -> str:
    """A short SHA-256 of the texts, separated so that ("ab", "c") and ("a", "bc") differ."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:16]


def read_outputs(path: str | Path) -> list[OutputRecord]:
    """Records of an outputs.jsonl; a malformed line raises a HarnessError naming the line and field."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(
            f"{path}: no such outputs file",
            hint="run the suites first (`pytest suites/` keeps the answers in .harness/runs/last/outputs.jsonl), "
            "or pass --outputs PATH",
        )
    records = []
    for number, row in read_json_lines(path, "fix or remove that line"):
        for field in REQUIRED:
            if not isinstance(row.get(field), str):
                raise HarnessError(f"{path}:{number}: field {field!r} is missing or not a string")
        if row["role"] not in (BASE, TUNED):
            raise HarnessError(f"{path}:{number}: field 'role' is {row['role']!r}", hint="use 'base' or 'tuned'")
        known = {k: str(row.get(k) or "") for k in ("prompt", "reference", "category", "suite", "model")}
        records.append(OutputRecord(row["eval_set"], row["item_id"], row["role"], output=row["output"], **known))
    return records


def pair_outputs(records: Iterable[OutputRecord]) -> list[ReviewItem]:
    """One ReviewItem per eval item that has a tuned answer, sorted by (eval_set, item_id)."""
    by_key: dict[tuple[str, str], dict[str, OutputRecord]] = {}
    for record in records:
        by_key.setdefault((record.eval_set, record.item_id), {})[record.role] = record
    items = []
    for key in sorted(by_key):
        roles = by_key[key]
        tuned, base = roles.get(TUNED), roles.get(BASE)
        if tuned is None:
            continue
        items.append(
            ReviewItem(
                eval_set=key[0],
                item_id=key[1],
                prompt=tuned.prompt,
                tuned_output=tuned.output,
                base_output=base.output if base is not None else None,
                reference=tuned.reference,
                category=tuned.category,
                tuned_model=tuned.model,
                base_model=base.model if base is not None else "",
            )
        )
    if not items:
        raise HarnessError("the outputs hold no answers of the tuned model", hint="run the suites on a tuned model")
    return items
