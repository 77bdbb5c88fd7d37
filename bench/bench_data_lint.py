"""Benchmark: lint 50,000 instruction records built from the repository's own data, with seeded edits.

    python bench/bench_data_lint.py [--records 50000] [--keep DIR] [--thresholds 5000]

The sources are the demo training set and the README's paragraphs (not the eval set fixtures/data, nor the
suites and monitoring logs, which quote it). Each record is an instruction and a response made of source texts
with a quarter of their words replaced (seeded), so records differ as real ones do. Planted at seeded places:
exact copies, near copies (two words changed), eval leaks (a prompt of fixtures/data/clauses.jsonl), personal
data (from the labelled PII set), placeholder outputs. Printed: wall and CPU seconds per stage, findings per rule,
the planted defects found. With --thresholds N: the recall and time of near-duplicate search at each LSH
candidate threshold, on the first N records, against every pair with exact Jaccard >= 0.8 (from a sparse matrix
product). Progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.dataquality.lint import lint_dataset  # noqa: E402

SOURCES = ["fixtures/data_quality/train_clean.jsonl", "README.md", "fixtures/demo/README.md"]
TEXT_FIELDS = ("prompt", "text", "reference", "input", "instruction", "output")
SPEC = """\
version: 1
name: bench-instructions
format: instruction_response
size: {{minimum: 1, recommended: 1000}}
domain:
  field: prompt
  examples: {examples}
contamination:
  boilerplate_share: 0.01
"""


def source_texts() -> list[str]:
    texts: set[str] = set()
    for location in SOURCES:
        path = ROOT / location
        files = [path] if path.is_file() else sorted(path.rglob("*.jsonl"))
        for file in files:
            if file.suffix == ".md":
                paragraphs = file.read_text(encoding="utf-8").split("\n\n")
                texts.update(" ".join(p.split()) for p in paragraphs if len(p.split()) >= 8)
                continue
            for line in file.read_text(encoding="utf-8").splitlines():
                row = json.loads(line) if line.strip() else {}
                texts.update(row[f] for f in TEXT_FIELDS if isinstance(row.get(f), str) and len(row[f].split()) >= 4)
    return sorted(texts)


def edit(text: str, rng: random.Random, vocabulary: list[str], share: float) -> str:
    words = text.split()
    for i in range(len(words)):
        if rng.random() < share:
            words[i] = rng.choice(vocabulary)
    return " ".join(words)


def change_two_words(text: str, rng: random.Random, vocabulary: list[str]) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), min(2, len(words))):
        words[i] = rng.choice(vocabulary)
    return " ".join(words)


def build(n: int, seed: int = 0) -> tuple[list[dict], dict[str, set[str]]]:
    rng = random.Random(seed)
    texts = source_texts()
    vocabulary = sorted({w for t in texts for w in re.findall(r"[A-Za-z]{3,}", t)})
    leaks = [json.loads(line)["prompt"] for line in (ROOT / "fixtures/data/clauses.jsonl").read_text().splitlines()]
    pii_rows = [
        json.loads(line) for line in (ROOT / "fixtures/data_quality/pii_labelled.jsonl").read_text().splitlines()
    ]
    pii = [r["text"] for r in pii_rows if r["pii"]]
    rows: list[dict] = []
    planted: dict[str, set[str]] = {k: set() for k in ("exact", "near", "leak", "pii", "placeholder")}
    near_sources: dict[str, str] = {}
    for i in range(n):
        rid, roll = f"bench-{i:06d}", rng.random()
        if roll < 0.01 and rows:
            rows.append({**rng.choice(rows), "id": rid})
            planted["exact"].add(rid)
            continue
        if roll < 0.02 and rows:
            source = rng.choice(rows)
            rows.append({**source, "id": rid, "response": change_two_words(source["response"], rng, vocabulary)})
            planted["near"].add(rid)
            near_sources[rid] = source["id"]
            continue
        instruction = edit(rng.choice(texts), rng, vocabulary, 0.25)
        response = " ".join(edit(rng.choice(texts), rng, vocabulary, 0.25) for _ in range(rng.randint(1, 4)))
        if roll < 0.021:
            instruction = rng.choice(leaks)
            planted["leak"].add(rid)
        elif roll < 0.023:
            response = f"{response} {rng.choice(pii)}"
            planted["pii"].add(rid)
        elif roll < 0.024:
            response = rng.choice(["<noinput>", "N/A", "<No Output>"])
            planted["placeholder"].add(rid)
        rows.append({"id": rid, "instruction": instruction, "input": "", "response": response})
    return rows, planted, near_sources


def near_copies_over(rows: list[dict], near_sources: dict[str, str], threshold: float = 0.8) -> set[str]:
    """The planted near copies whose exact Jaccard to their source reaches the threshold."""
    from harness.dataquality.duplicates import jaccard, shingle
    from harness.dataquality.spec import DuplicateRule

    by_id = {r["id"]: r for r in rows}
    ids = sorted(near_sources)
    texts = [f"{by_id[k]['instruction']}\n{by_id[k]['response']}" for k in ids]
    texts += [f"{by_id[near_sources[k]]['instruction']}\n{by_id[near_sources[k]]['response']}" for k in ids]
    shingles = shingle(texts, DuplicateRule())
    return {k for n, k in enumerate(ids) if jaccard(shingles.of(n), shingles.of(n + len(ids))) >= threshold}


def threshold_sweep(rows: list[dict], n: int) -> None:
    """Recall of near-duplicate search against exact Jaccard >= 0.8, and its time, per candidate threshold."""
    import numpy as np
    from scipy.sparse import csr_matrix

    from harness.dataquality.duplicates import exact_key, near_duplicate_pairs, shingle
    from harness.dataquality.spec import DuplicateRule

    unique = {exact_key(f"{r['instruction']}\n{r['response']}"): r for r in rows[:n]}  # exact copies are trivial
    texts = [f"{r['instruction']}\n{r['response']}" for r in unique.values()]
    shingles = shingle(texts, DuplicateRule())
    _, columns = np.unique(shingles.values, return_inverse=True)
    matrix = csr_matrix(
        (np.ones(len(columns), dtype=np.float32), columns, shingles.offsets), shape=(len(texts), columns.max() + 1)
    )
    shared = (matrix @ matrix.T).tocoo()
    sizes = np.diff(shingles.offsets)
    upper = shared.row < shared.col
    i, j, inter = shared.row[upper], shared.col[upper], shared.data[upper]
    score = inter / (sizes[i] + sizes[j] - inter)
    truth = {(int(a), int(b)) for a, b in zip(i[score >= 0.8], j[score >= 0.8], strict=True)}
    print(f"\ncandidate threshold sweep on {len(texts):,} distinct records: {len(truth)} pairs with Jaccard >= 0.8")
    for candidate in (0.5, 0.6, 0.7, 0.8):
        started = time.process_time()
        found = {(a, b) for a, b, _ in near_duplicate_pairs(texts, DuplicateRule(candidate_threshold=candidate))}
        cpu = time.process_time() - started
        recall = len(found & truth) / max(len(truth), 1)
        precision = len(found & truth) / max(len(found), 1)
        print(f"  candidate {candidate:.1f}: recall {recall:.3f}  precision {precision:.3f}  CPU {cpu:.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="write the generated data here instead of a temporary directory")
    parser.add_argument(
        "--thresholds", type=int, metavar="N", help="also sweep the LSH candidate threshold on N records"
    )
    args = parser.parse_args()
    rows, planted, near_sources = build(args.records)
    rng = random.Random(1)
    examples = rng.sample([r["instruction"] for r in rows if r["id"] not in planted["leak"]], 40)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        data, spec = folder / "bench_train.jsonl", folder / "bench_spec.yaml"
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        spec.write_text(SPEC.format(examples=json.dumps(examples)))
        print(f"{len(rows):,} records from {len(source_texts()):,} repository texts, seeded edits")
        wall, cpu = time.perf_counter(), time.process_time()
        report = lint_dataset(spec, data, [ROOT / "fixtures" / "data"], progress=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"\nlinted {report.n_records:,} records in {wall:.1f}s wall, {cpu:.1f}s CPU")
    for stage, seconds in report.timings.items():
        print(f"  {stage:<18}{seconds:8.2f}s")
    print("findings per rule:")
    for rule, counts in report.rule_counts().items():
        print(f"  {rule}: {counts}")
    named = {
        rule: {f.record_id for f in report.by_rule(rule)}
        | {r.split("(id ")[1].rstrip(")") for f in report.by_rule(rule) for r in f.related}
        for rule in ("exact_duplicate", "near_duplicate", "contamination", "pii", "placeholder_output")
    }
    for kind, rule in [
        ("exact", "exact_duplicate"),
        ("near", "near_duplicate"),
        ("leak", "contamination"),
        ("pii", "pii"),
        ("placeholder", "placeholder_output"),
    ]:
        print(f"  planted {kind}: {len(planted[kind] & named[rule])} of {len(planted[kind])} found")
    reachable = near_copies_over(rows, near_sources)
    print(
        f"  planted near copies with exact Jaccard >= 0.8: {len(reachable & named['near_duplicate'])} "
        f"of {len(reachable)} found"
    )
    print(
        f"contamination: {report.contamination['eval_items']} eval items, {report.contamination['ngram']}-grams, "
        f"{report.contamination['boilerplate_ngrams']} boilerplate n-grams set aside"
    )
    if args.thresholds:
        threshold_sweep(rows, args.thresholds)


if __name__ == "__main__":
    main()
