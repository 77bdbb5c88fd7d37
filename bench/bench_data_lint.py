"""Benchmark: lint 100,000 synthetic clause records and print the seconds per stage and in total.

    python bench/bench_data_lint.py [--records 100000] [--keep DIR]

The records are seeded and clause-like, with some exact and near duplicates, a few off-domain and PII records,
so every stage does real work. Target: under 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from harness.dataquality.lint import lint_dataset
from harness.dataquality.report import terminal_lines

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "fixtures" / "data_quality" / "data_spec.yaml"
SUBJECTS = ["the Supplier", "the Customer", "the Licensee", "the Licensor", "the Tenant", "the Landlord", "the Agency"]
VERBS = [
    "must deliver",
    "shall pay",
    "may terminate",
    "will indemnify",
    "must keep secret",
    "shall notify",
    "may audit",
]
OBJECTS = [
    "each invoice",
    "the confidential records",
    "the delivered goods",
    "all claims",
    "the premises",
    "the services",
    "the software",
    "every order",
    "the licensed marks",
    "the monthly fee",
]
QUALIFIERS = [
    "within {n} days",
    "by written notice",
    "at its own cost",
    "without undue delay",
    "in {state}",
    "under the laws of {state}",
    "up to {amt}",
    "after a material breach",
    "for {n} years",
    "in good faith",
]
STATES = ["New York", "Delaware", "Ontario", "Texas", "Singapore", "Bavaria", "Illinois", "Victoria"]
LABELS = [
    "termination",
    "confidentiality",
    "indemnification",
    "governing_law",
    "payment",
    "limitation_of_liability",
    "force_majeure",
]


def sentence(rng: random.Random) -> str:
    quals = " ".join(
        q.format(n=rng.randint(2, 120), state=rng.choice(STATES), amt=f"${rng.randint(1, 900)},000")
        for q in rng.sample(QUALIFIERS, 3)
    )
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {quals}."


def synthetic_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.01 and rows:
            text = rng.choice(rows)["text"].upper()  # exact duplicate
        elif roll < 0.02 and rows:
            text = rng.choice(rows)["text"].rstrip(".") + " in full."  # near duplicate
        elif roll < 0.021:
            text = "Preheat the oven, whisk the eggs and bake the cake for twenty minutes until golden."
        elif roll < 0.022:
            text = f"Send invoices to billing{i}@example.com. " + sentence(rng)
        else:
            text = " ".join(sentence(rng) for _ in range(rng.randint(1, 3)))
        rows.append({"id": f"bench-{i:06d}", "text": text.capitalize(), "label": rng.choice(LABELS)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the synthetic data here instead of a temporary directory")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = synthetic_records(args.records)
    with tempfile.TemporaryDirectory() as tmp:
        data = (args.keep or Path(tmp)) / "bench_train.jsonl"
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"generated {len(rows):,} records in {time.perf_counter() - started:.1f}s")
        report = lint_dataset(SPEC, data, [ROOT / "fixtures" / "data"], progress=True)
    summary = terminal_lines(report, shown_per_rule=0)
    print(f"\n{report.n_records:,} records linted; findings per rule:")
    for rule, counts in report.rule_counts().items():
        print(f"  {rule}: {counts}")
    print("\nseconds per stage:")
    for stage, seconds in report.timings.items():
        print(f"  {stage:<18}{seconds:8.2f}")
    print(summary[-1])


if __name__ == "__main__":
    main()
