"""Several sampled answers per item: seeded and repeatable, averaged per item, pass@k and pass^k."""

from __future__ import annotations

from math import comb

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import metrics
from harness.errors import HarnessError
from harness.models import DecodingSettings


def test_samples_need_sampling():
    with pytest.raises(HarnessError, match="greedy decoding would repeat one answer"):
        DecodingSettings(samples=3)
    assert "samples=3" in DecodingSettings(samples=3, temperature=0.8).key()


def test_k_samples_per_item_are_repeatable_and_averaged_per_item(tiny_pair):
    from harness.data import GENERATION, EvalSet
    from harness.scoring import answers

    rows = tuple({"id": f"q{k}", "prompt": p, "reference": "Paris"} for k, p in enumerate(["The capital of", "3 +"]))
    eval_set = EvalSet("probe", None, rows, "fp")  # type: ignore[arg-type]
    settings = DecodingSettings(max_new_tokens=4, temperature=1.0, seed=3, samples=4)
    first = answers(tiny_pair.tuned, eval_set, settings)
    again = answers(tiny_pair.tuned, eval_set, settings)
    assert len(first.samples) == 4 and all(len(sample) == 2 for sample in first.samples)
    assert [[g.text for g in s] for s in first.samples] == [[g.text for g in s] for s in again.samples]
    per_sample = [metrics.exact_match(s.texts, s.references, s.ids, name="em") for s in first.each_sample()]
    averaged = metrics.sample_mean(per_sample)
    assert averaged.n == 2 and averaged.details["samples"] == 4
    for item in ("q0", "q1"):
        assert averaged.per_item[item] == pytest.approx(sum(r.per_item[item] for r in per_sample) / 4)
    assert GENERATION.name == "generation"


@given(st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=1, max_size=20), st.integers(1, 5))
def test_pass_at_k_and_pass_hat_k_match_their_definitions(passes, k):
    ids = [f"i{n}" for n in range(len(passes))]
    at_k, hat_k = metrics.pass_at_k(passes, ids, k), metrics.pass_hat_k(passes, ids, k)
    for item, row in zip(ids, passes, strict=True):
        c = sum(row)
        assert at_k.per_item[item] == pytest.approx(1 - comb(5 - c, k) / comb(5, k))
        assert hat_k.per_item[item] == pytest.approx(comb(c, k) / comb(5, k))
        assert hat_k.per_item[item] <= at_k.per_item[item] + 1e-12
    if k == 1:
        assert at_k.value == pytest.approx(hat_k.value)


def test_corpus_statistics_are_not_averaged_over_samples():
    one = metrics.bleu(["a b c d"], ["a b c d"], ["i"])
    with pytest.raises(HarnessError, match="cannot be averaged per item"):
        metrics.sample_mean([one, one])
