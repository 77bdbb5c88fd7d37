"""Review statistics: Wilson intervals, stratum weighting, the A/B sign test and inter-rater agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_review_rubric import DEMO

from fixtures.review.build import simulate_reviews, synthetic_outputs
from harness.review.gate import ReviewThresholds, decide
from harness.review.items import pair_outputs
from harness.review.rubric import load_rubric
from harness.review.sampling import draw_sample
from harness.review.stats import (
    alpha_undefined_reason,
    cohen_kappa,
    krippendorff_alpha,
    sign_test,
    weighted_rate,
    wilson_interval,
)
from harness.review.store import Rating, ReviewStore
from harness.review.summary import summarise


@given(n=st.integers(1, 10_000), share=st.floats(0, 1), confidence=st.floats(0.5, 0.999))
def test_wilson_interval_holds_the_estimate_and_stays_in_the_unit_interval(n, share, confidence):
    successes = round(share * n)
    lo, hi = wilson_interval(successes, n, confidence)
    assert 0.0 <= lo <= successes / n <= hi <= 1.0


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = wilson_interval(81, 263)  # Wilson (1927) style example, checked against R's prop.test(correct=FALSE)
    assert lo == pytest.approx(0.2553, abs=1e-4) and hi == pytest.approx(0.3662, abs=1e-4)


@given(
    scores=st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=1, max_size=60),
    weights=st.lists(st.floats(0.1, 20), min_size=60, max_size=60),
)
def test_weighted_rate_is_a_weighted_mean_inside_its_interval(scores, weights):
    weights = weights[: len(scores)]
    rate = weighted_rate(scores, weights)
    assert rate.value == pytest.approx(np.average(scores, weights=weights))
    assert 0 <= rate.ci[0] <= rate.value <= rate.ci[1] <= 1
    assert rate.n_effective <= len(scores) + 1e-9  # unequal weights never add information


def test_reweighting_undoes_the_oversampling():
    # 100 disagreements sampled from 100 (all fail), 100 agreements sampled from 900 (all pass): 90% pass overall
    rate = weighted_rate([0.0] * 100 + [1.0] * 100, [1.0] * 100 + [9.0] * 100)
    assert rate.value == pytest.approx(0.9)
    assert weighted_rate([0.0] * 100 + [1.0] * 100, [1.0] * 200).value == pytest.approx(0.5)


def test_sign_test_detects_a_worse_tuned_model():
    worse = sign_test(wins=3, losses=17)
    assert worse.p_worse < 0.01 and worse.p_two_sided < 0.01
    better = sign_test(wins=17, losses=3)
    assert better.p_worse > 0.99
    assert sign_test(0, 0).p_worse == 1.0


varied = st.lists(st.integers(1, 5), min_size=2, max_size=50).filter(lambda r: len(set(r)) > 1)


@given(varied, st.booleans())
def test_kappa_of_identical_raters_is_one(ratings, ordinal):
    assert cohen_kappa(ratings, ratings, ordinal=ordinal) == 1.0


@given(varied, st.integers(2, 4))
def test_alpha_of_identical_raters_is_one(ratings, raters):
    matrix = np.array([ratings] * raters, dtype=float)
    assert krippendorff_alpha(matrix, ordinal=True, domain=range(1, 6)) == pytest.approx(1.0)


@given(st.integers(1, 5), st.integers(2, 6), st.integers(1, 60), st.booleans(), st.floats(0, 0.5))
def test_constant_ratings_give_undefined_agreement_never_one(value, raters, items, ordinal, missing):
    matrix = np.full((raters, items), float(value))
    matrix[np.random.default_rng(items).random(matrix.shape) < missing] = np.nan
    alpha = krippendorff_alpha(matrix, ordinal=ordinal, domain=range(1, 6))
    assert math.isnan(alpha)
    assert alpha_undefined_reason(matrix).startswith("undefined:")
    assert math.isnan(cohen_kappa([value] * items, [value] * items, ordinal=ordinal))


def test_the_reference_library_refuses_constant_ratings_too():
    import krippendorff

    with pytest.raises(ValueError, match="more than one value"):
        krippendorff.alpha(reliability_data=np.full((3, 20), 5.0), level_of_measurement="ordinal")
    varied = np.array([[1, 2, 3, 4, 5, 5], [1, 2, 3, 4, 5, 4]], dtype=float)
    assert alpha_undefined_reason(varied) == ""
    assert krippendorff_alpha(varied, ordinal=True, domain=range(1, 6)) == pytest.approx(
        krippendorff.alpha(reliability_data=varied, level_of_measurement="ordinal", value_domain=range(1, 6))
    )


def test_weighted_kappa_gives_partial_credit_on_an_ordinal_scale():
    first, near, far = [1, 2, 3, 4, 5, 5, 4, 3], [2, 2, 3, 4, 4, 5, 4, 3], [5, 2, 3, 4, 1, 5, 4, 3]
    assert cohen_kappa(first, near, ordinal=True) > cohen_kappa(first, far, ordinal=True)
    assert cohen_kappa(first, near, ordinal=True) > cohen_kappa(first, near, ordinal=False)


def test_alpha_handles_missing_ratings_and_needs_two_per_item():
    nan = math.nan
    matrix = np.array(  # Krippendorff's worked example: 3 coders, 15 units, many missing; nominal alpha 0.691
        [
            [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
            [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
            [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
        ]
    )
    assert krippendorff_alpha(matrix, ordinal=False, domain=range(1, 5)) == pytest.approx(0.691358, abs=1e-6)
    assert math.isnan(krippendorff_alpha(np.array([[1, nan], [nan, 2]]), ordinal=True, domain=range(1, 6)))


@pytest.fixture
def reviewed(tmp_path):
    """A sampled review of 600 synthetic items rated by three simulated reviewers."""

    def make(noise: float, skip: float = 0.0) -> ReviewStore:
        store = ReviewStore(tmp_path / f"review-{noise}-{skip}.sqlite", create=True)
        sample = draw_sample(pair_outputs(synthetic_outputs(600, seed=2)), seed=0)
        store.save_sample(sample, load_rubric(DEMO), min_reviews=2, seed=0)
        simulate_reviews(store, noise=noise, skip=skip, seed=1)
        return store

    return make


def test_summary_of_careful_reviewers_passes_the_gate(reviewed):
    summary = summarise(reviewed(noise=0.0))
    assert summary.complete and summary.reviewers == ("ana", "ben", "chi")
    assert all(c.agreement.alpha == pytest.approx(1.0) for c in summary.criteria)
    assert summary.ab is not None and summary.ab.test.wins > summary.ab.test.losses
    verdict = decide(summary)
    assert verdict.passed, verdict.failures


def test_noisy_reviewers_fail_the_agreement_rule(reviewed):
    summary = summarise(reviewed(noise=0.5))
    verdict = decide(summary)
    assert not verdict.passed
    assert any(f.startswith("agreement on accuracy") for f in verdict.failures)
    assert summary.criteria[0].agreement.alpha < 0.667


def test_missing_reviews_leave_the_review_incomplete(reviewed):
    summary = summarise(reviewed(noise=0.0, skip=0.5))
    verdict = decide(summary)
    assert not summary.complete
    assert any(f.startswith("complete:") for f in verdict.failures)


def test_a_high_bar_fails_on_the_lower_bound_not_the_estimate(reviewed):
    summary = summarise(reviewed(noise=0.0))
    rate = summary.overall.rate
    verdict = decide(summary, ReviewThresholds(min_pass_rate=(rate.ci[0] + rate.value) / 2))
    assert not verdict.passed and verdict.failures[0].startswith("pass rate")


def test_a_tuned_model_that_loses_the_ab_comparison_fails(reviewed):
    store = reviewed(noise=0.0)
    for item in store.items():  # every reviewer now prefers base on every disagreement
        store.query("UPDATE comparisons SET winner = 'base' WHERE item_id = ?", (item.item_id,))
    summary = summarise(store)
    verdict = decide(summary)
    assert summary.ab is not None and summary.ab.test.p_worse < 0.05
    assert any(f.startswith("A/B:") for f in verdict.failures)


def test_two_reviewers_get_cohens_kappa(tmp_path):
    store = ReviewStore(tmp_path / "two.sqlite", create=True)
    store.save_sample(
        draw_sample(pair_outputs(synthetic_outputs(80, seed=4)), seed=0), load_rubric(DEMO), min_reviews=2, seed=0
    )
    simulate_reviews(store, reviewers=("ana", "ben"), noise=0.0)
    summary = summarise(store)
    assert summary.criteria[0].agreement.kappa == 1.0
    assert all(isinstance(c.agreement.kappa, float) for c in summary.criteria)


def test_a_rating_counts_once_per_reviewer(tmp_path):
    store = ReviewStore(tmp_path / "once.sqlite", create=True)
    rubric = load_rubric(DEMO)
    store.save_sample(draw_sample(pair_outputs(synthetic_outputs(20, seed=5)), seed=0), rubric, min_reviews=1, seed=0)
    item = store.items()[0]
    scores = {"accuracy": "1", "factual_correctness": "fail", "coherence": "1", "tone": "neutral",
              "guideline_adherence": "fail"}  # fmt: skip
    for accuracy in ("1", "5"):
        store.add_rating(Rating(item.eval_set, item.item_id, "ana", "t", rubric.version, item.tuned_hash,
                                scores | {"accuracy": accuracy}))  # fmt: skip
    assert store.count("ratings") == 1
    assert store.ratings()[0].scores["accuracy"] == "5"  # the reviewer changed their mind: the last one counts
