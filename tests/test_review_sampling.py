"""Sampling for human review: Cochran's size, proportional strata, oversampled disagreements, seeded draws."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures.review.build import synthetic_outputs, write_outputs
from harness.errors import HarnessError
from harness.records import OutputRecord
from harness.review.items import pair_outputs, read_outputs
from harness.review.sampling import DISAGREE, allocate, cochran_size, draw_sample


def test_cochran_size_with_finite_population_correction():
    assert cochran_size(2000) == 323  # the textbook 95% / ±5% example
    assert cochran_size(10**9) == 385  # no correction left: z² p q / e² = 384.1 -> 385
    assert cochran_size(50) == 45
    assert cochran_size(1) == 1
    assert cochran_size(2000, confidence=0.99) > cochran_size(2000)


@given(
    population=st.integers(1, 100_000),
    margins=st.tuples(st.floats(0.005, 0.5), st.floats(0.005, 0.5)),
    confidence=st.floats(0.5, 0.999),
)
def test_cochran_size_shrinks_as_the_margin_widens(population, margins, confidence):
    narrow, wide = sorted(margins)
    small = cochran_size(population, confidence=confidence, margin=wide)
    large = cochran_size(population, confidence=confidence, margin=narrow)
    assert 1 <= small <= large <= population


@pytest.mark.parametrize("bad", [{"margin": 0}, {"margin": 1.5}, {"confidence": 1.0}])
def test_cochran_size_refuses_impossible_settings(bad):
    with pytest.raises(HarnessError):
        cochran_size(100, **bad)


@given(
    sizes=st.dictionaries(st.text("abc", min_size=1, max_size=3), st.integers(0, 500), min_size=1),
    total=st.integers(0, 2000),
)
def test_allocation_is_proportional_capped_and_exact(sizes, total):
    allocation = allocate(sizes, total)
    assert sum(allocation.values()) == min(total, sum(sizes.values()))
    assert all(0 <= allocation[s] <= sizes[s] for s in sizes)
    if total <= sum(sizes.values()) and total >= sum(1 for v in sizes.values() if v):
        assert all(allocation[s] >= 1 for s in sizes if sizes[s])  # no stratum left out of the estimates


def test_sample_is_stratified_and_oversamples_disagreements():
    items = pair_outputs(synthetic_outputs(2000, seed=3))
    sample = draw_sample(items, seed=0)
    assert len(sample.items) == 323 and len({i.key for i in sample.items}) == 323
    disagree = sample.strata[DISAGREE]
    share = disagree.population / 2000
    assert disagree.sampled == round(2 * 323 * share)  # twice its proportional share
    assert sum(s.sampled for s in sample.strata.values()) == 323
    others = [s for name, s in sample.strata.items() if name != DISAGREE]
    for stratum in others:  # the rest in proportion to their sizes (within one item of rounding)
        expected = (323 - disagree.sampled) * stratum.population / sum(o.population for o in others)
        assert abs(stratum.sampled - expected) <= 1.0
    assert disagree.weight < others[0].weight  # oversampled items count for fewer of the population
    assert all(sample.stratum_of[i.key] == DISAGREE for i in sample.items if i.disagree)
    assert "323 of 2,000 items for ±5% at 95%" in sample.explain()


def test_sample_is_deterministic_for_a_seed_and_changes_with_it():
    items = pair_outputs(synthetic_outputs(600, seed=1))
    first = [i.key for i in draw_sample(items, seed=7).items]
    assert first == [i.key for i in draw_sample(list(reversed(items)), seed=7).items]
    assert first != [i.key for i in draw_sample(items, seed=8).items]


def test_disagreement_is_judged_on_normalised_text():
    base = OutputRecord("s", "1", "base", "p", "The fee is $5,000.")
    same = OutputRecord("s", "1", "tuned", "p", "the fee is $5000")
    (item,) = pair_outputs([base, same])
    assert not item.disagree
    (item,) = pair_outputs([base, OutputRecord("s", "1", "tuned", "p", "The fee is $6,000.")])
    assert item.disagree


def test_reading_outputs_names_the_bad_line(tmp_path):
    path = write_outputs(synthetic_outputs(3), tmp_path / "outputs.jsonl")
    lines = path.read_text().splitlines()
    lines[2] = json.dumps({**json.loads(lines[2]), "role": "teacher"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(HarnessError, match=r"outputs.jsonl:3: field 'role' is 'teacher'"):
        read_outputs(path)
    with pytest.raises(HarnessError, match="no such outputs file"):
        read_outputs(tmp_path / "missing.jsonl")
