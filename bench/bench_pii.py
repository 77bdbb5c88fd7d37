"""Benchmark: precision and recall of the personal-data check on a labelled set of strings.

    python bench/bench_pii.py [--set fixtures/data_quality/pii_labelled.jsonl]

Each line of the set is {"id", "text", "pii": [kinds]}: phone numbers, emails, card numbers and IBANs in several
national formats, and hard negatives (floats, Unix timestamps, ISBNs, dates, digit runs, example.com addresses).
Printed: precision and recall per kind and over all (string, kind) decisions, the misses, and CPU time.
Target: both >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from sklearn.metrics import precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from harness.dataquality.pii import find_pii

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["phone number", "email", "card number", "iban"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=ROOT / "fixtures" / "data_quality" / "pii_labelled.jsonl")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    started = time.process_time()
    predicted = [sorted({hit.kind for hit in find_pii(row["text"])}) for row in rows]
    cpu = time.process_time() - started
    binarizer = MultiLabelBinarizer(classes=KINDS)
    truth = binarizer.fit_transform([row["pii"] for row in rows])
    guess = binarizer.transform(predicted)
    positives = sum(1 for row in rows if row["pii"])
    print(f"{len(rows)} labelled strings ({positives} with personal data, {len(rows) - positives} without)")
    precision, recall, _, support = precision_recall_fscore_support(truth, guess, zero_division=0)
    for kind, p, r, n in zip(KINDS, precision, recall, support, strict=True):
        print(f"  {kind:<13} precision {p:.3f}  recall {r:.3f}  ({n} labelled)")
    p, r, _, _ = precision_recall_fscore_support(truth, guess, average="micro", zero_division=0)
    print(f"  {'all':<13} precision {p:.3f}  recall {r:.3f}")
    for row, found in zip(rows, predicted, strict=True):
        if sorted(row["pii"]) != found:
            print(f"  wrong: {row['id']} labelled {row['pii']}, found {found}: {row['text']!r}")
    print(f"CPU time: {cpu:.2f}s for {len(rows)} strings; target precision and recall >= 0.9")


if __name__ == "__main__":
    main()
