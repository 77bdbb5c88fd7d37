"""Near duplicates: stable shingle hashes, pairs that depend on the two records only, and groups per record."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.dataquality.duplicates import jaccard, near_duplicate_pairs, shingle, shingle_strings, signatures
from harness.dataquality.lint import lint_dataset
from harness.dataquality.spec import DuplicateRule

WORDS = (
    "tenant landlord rent lease notice premises repair deposit month year party agreement term payment bank "
    "transfer written days court law claim damage insurance keys utilities water heating garden parking"
).split()


def clause(seed: int, length: int = 24) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(length))


def edited(text: str, seed: int, edits: int) -> str:
    """The text with `edits` words replaced by a marker word (at seeded positions)."""
    rng = random.Random(seed)
    tokens = text.split()
    for position in rng.sample(range(len(tokens)), edits):
        tokens[position] = f"changed{position}"
    return " ".join(tokens)


BASES = [clause(seed, 60) for seed in range(6)]  # one edit: Jaccard 0.84, two: about 0.7
POOL = [*BASES, *(edited(b, s, 1) for s, b in enumerate(BASES)), *(edited(b, 7 + s, 2) for s, b in enumerate(BASES))]


def keyed(texts: list[str]) -> set[tuple[str, str]]:
    """Pairs named by their texts (each text is unique in the lists used below)."""
    return {tuple(sorted((texts[i], texts[j]))) for i, j, _ in near_duplicate_pairs(texts, DuplicateRule())}


def test_the_pool_holds_near_copies_and_near_misses():
    scores = [s for _, _, s in near_duplicate_pairs(POOL, DuplicateRule(near_threshold=0.5))]
    assert len(keyed(POOL)) == 6 and any(0.6 < s < 0.8 for s in scores)


def test_signatures_equal_datasketch_updated_with_shingle_strings():
    from datasketch import MinHash

    texts = [BASES[0], "Short text, compared by characters."]
    shingles = shingle(texts, DuplicateRule())
    ours = signatures(shingles, 128)
    for doc, text in enumerate(texts):
        reference = MinHash(num_perm=128, seed=1)
        for s in shingle_strings(text, DuplicateRule()):
            reference.update(s.encode("utf-8"))
        assert np.array_equal(reference.hashvalues, ours[doc])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(POOL), min_size=2, max_size=14, unique=True), st.randoms(use_true_random=False))
def test_shuffling_the_file_never_changes_the_pairs(texts, rng):
    shuffled = list(texts)
    rng.shuffle(shuffled)
    assert keyed(shuffled) == keyed(texts)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(POOL), min_size=3, max_size=14, unique=True), st.data())
def test_removing_a_record_outside_every_pair_keeps_the_other_pairs(texts, data):
    pairs = keyed(texts)
    paired = {t for pair in pairs for t in pair}
    loners = [t for t in texts if t not in paired]
    if not loners:
        return
    gone = data.draw(st.sampled_from(loners))
    assert keyed([t for t in texts if t != gone]) == pairs


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(POOL), min_size=2, max_size=12, unique=True),
    st.integers(0, 10_000),
    st.integers(0, 14),
)
def test_adding_a_record_never_changes_the_pairs_among_the_others(texts, seed, where):
    extra = clause(1000 + seed) if seed % 3 else edited(POOL[seed % len(POOL)], seed, 3)
    if extra in texts:
        return
    grown = [*texts[:where], extra, *texts[where:]]
    among_old = {p for p in keyed(grown) if extra not in p}
    assert among_old == keyed(texts)


def test_pairs_between_candidate_and_verification_threshold_are_found():
    """A 0.6 candidate threshold finds copies that LSH tuned to 0.8 misses, and every pair is verified >= 0.8."""
    rng = random.Random(3)
    texts, planted = [], set()
    for k in range(60):
        base = clause(500 + k, 100)
        copy = edited(base, k, rng.choice([1, 2, 2]))  # Jaccard about 0.9 or 0.81
        texts += [base, copy]
        planted.add((2 * k, 2 * k + 1))
    shingled = shingle(texts, DuplicateRule())
    truth = {(i, j) for i, j in planted if jaccard(shingled.of(i), shingled.of(j)) >= 0.8}
    low = {(i, j) for i, j, _ in near_duplicate_pairs(texts, DuplicateRule(candidate_threshold=0.6))}
    high = {(i, j) for i, j, _ in near_duplicate_pairs(texts, DuplicateRule(candidate_threshold=0.8))}
    assert len(truth) > 40
    assert len(truth & low) >= 0.97 * len(truth)
    assert len(truth & high) < len(truth & low)
    for i, j, score in near_duplicate_pairs(texts, DuplicateRule()):
        assert score >= 0.8 and jaccard(shingled.of(i), shingled.of(j)) == score


def test_a_group_of_near_copies_is_one_finding_on_its_first_record(tmp_path: Path):
    spec = tmp_path / "data_spec.yaml"
    spec.write_text("format: text_label\nsize: {minimum: 1, recommended: 1}\n")
    long = clause(99, 100)
    texts = [long, edited(long, 1, 1), BASES[1], edited(long, 2, 1), edited(long, 3, 1)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{i}", "text": t, "label": "a"}) + "\n" for i, t in enumerate(texts)))
    (finding,) = lint_dataset(spec, data, []).by_rule("near_duplicate")
    assert finding.record_id == "r0"
    assert finding.message.startswith("has 3 near copies (Jaccard ")
    assert [r.split("(id ")[1] for r in finding.related] == ["r1)", "r3)", "r4)"]
    assert finding.details["copies"] == 3


def test_candidate_threshold_above_the_verification_threshold_is_refused(tmp_path: Path):
    from harness.dataquality.spec import load_spec
    from harness.errors import HarnessError

    spec = tmp_path / "data_spec.yaml"
    spec.write_text("format: text_label\nduplicates:\n  near_threshold: 0.7\n  candidate_threshold: 0.9\n")
    try:
        load_spec(spec)
    except HarnessError as exc:
        assert "data_spec.yaml:4" in str(exc) and "candidate_threshold" in str(exc)
    else:
        raise AssertionError("the spec was accepted")
