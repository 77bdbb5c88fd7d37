"""Bootstrap intervals, paired comparisons and the minimum detectable effect."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import HarnessError
from harness.metrics.result import MetricResult
from harness.stats import (
    bootstrap_ci,
    bootstrap_distribution,
    minimum_detectable_effect,
    paired_comparison,
    resampled_sums,
)

reproducible = settings(derandomize=True, deadline=None, max_examples=40)
FAST = 400  # resamples in property tests: enough to exercise the code, fast enough for many examples


def result(scores, name="acc", higher=True, ids=None):
    ids = ids or [f"item-{k:04d}" for k in range(len(scores))]
    per = dict(zip(ids, map(float, scores), strict=True))
    value = float(np.mean(scores))
    return MetricResult(name, value, (value, value), len(scores), per, higher_is_better=higher)


scores_01 = st.lists(st.sampled_from([0.0, 1.0]), min_size=1, max_size=60)
scores_real = st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60)


# --- bootstrap ------------------------------------------------------------------------------------------


@reproducible
@given(scores_real, st.integers(0, 2**32 - 1))
def test_bootstrap_is_deterministic_for_a_seed_and_holds_the_mean(scores, seed):
    first = bootstrap_ci(scores, n_resamples=FAST, seed=seed)
    assert first == bootstrap_ci(scores, n_resamples=FAST, seed=seed)
    assert first[0] <= np.mean(scores) <= first[1]
    assert min(scores) - 1e-12 <= first[0] <= first[1] <= max(scores) + 1e-12


def test_bootstrap_matches_the_textbook_interval_on_large_samples():
    x = np.random.default_rng(3).normal(size=2000)
    lo, hi = bootstrap_ci(x)
    se = x.std(ddof=1) / math.sqrt(len(x))
    assert lo == pytest.approx(x.mean() - 1.96 * se, abs=0.2 * se)
    assert hi == pytest.approx(x.mean() + 1.96 * se, abs=0.2 * se)


def test_different_seeds_give_different_draws_and_the_seed_defaults_to_zero():
    x = np.random.default_rng(1).random(500)
    assert bootstrap_ci(x) == bootstrap_ci(x, seed=0)
    assert bootstrap_ci(x, seed=1) != bootstrap_ci(x, seed=0)


@pytest.mark.parametrize("values", [[0.0, 1.0] * 200, np.random.default_rng(2).random(400)])
def test_both_resampling_paths_draw_item_sums_with_the_bootstrap_law(values):
    """Few distinct rows take the multinomial shortcut, many take index draws: same mean and spread."""
    values = np.asarray(values)
    sums = resampled_sums(values, n_resamples=4000, seed=5)[:, 0]
    n = len(values)
    assert sums.mean() == pytest.approx(values.sum(), rel=0.01)
    assert sums.std() == pytest.approx(values.std() * math.sqrt(n), rel=0.05)


def test_multi_column_sums_resample_rows_together():
    data = np.column_stack([np.arange(50.0), 2 * np.arange(50.0)])
    sums = resampled_sums(data, n_resamples=300, seed=0)
    assert np.allclose(sums[:, 1], 2 * sums[:, 0])  # the same items were drawn for both columns


def test_few_distinct_integer_rows_take_the_multinomial_path_and_stay_paired():
    base = np.array([[-2, -4, 1], [0, 0, 1], [3, 6, 1], [3, 6, 1]], dtype=float)
    data = np.repeat(base, 100, axis=0)
    sums = resampled_sums(data, n_resamples=2000, seed=1)
    assert np.array_equal(sums[:, 1], 2 * sums[:, 0]) and np.all(sums[:, 2] == 400)
    assert sums[:, 0].mean() == pytest.approx(data[:, 0].sum(), abs=5)
    assert np.array_equal(sums, resampled_sums(data, n_resamples=2000, seed=1))


def test_bootstrap_distribution_of_a_ratio_statistic():
    data = np.column_stack([np.ones(20), np.full(20, 4.0)])
    values = bootstrap_distribution(data, lambda s: s[:, 0] / s[:, 1], n_resamples=50)
    assert np.allclose(values, 0.25)


@pytest.mark.parametrize("bad", [[], [[1.0, float("nan")]], np.zeros((2, 2, 2))])
def test_bootstrap_rejects_empty_or_non_finite_data(bad):
    with pytest.raises(HarnessError):
        bootstrap_ci(bad)


def test_bootstrap_rejects_nonsense_settings():
    with pytest.raises(HarnessError, match="n_resamples"):
        bootstrap_ci([1.0, 2.0], n_resamples=0)
    with pytest.raises(HarnessError, match="confidence"):
        bootstrap_ci([1.0, 2.0], confidence=1.5)


# --- paired comparison ------------------------------------------------------------------------------------


def _assert_mirrored(a, b, higher):
    forward = paired_comparison(result(a, higher=higher), result(b, higher=higher), n_resamples=FAST)
    backward = paired_comparison(result(b, higher=higher), result(a, higher=higher), n_resamples=FAST)
    assert backward.delta == -forward.delta
    assert backward.ci == (-forward.ci[1], -forward.ci[0])
    assert backward.p_value == forward.p_value
    assert backward.worse_ids == forward.better_ids
    assert backward.better_ids == forward.worse_ids
    assert forward.ci[0] <= forward.delta <= forward.ci[1]
    assert 0.0 <= forward.p_value <= 1.0


@reproducible
@given(st.data())
def test_swapping_the_models_negates_delta_and_keeps_the_p_value(data):
    binary = data.draw(st.booleans())
    # 14+ continuous items: scipy answers tied small samples with a slow exact permutation test (one case below)
    size = data.draw(st.integers(1 if binary else 14, 60))
    values = st.sampled_from([0.0, 1.0]) if binary else st.floats(0, 1)
    a = data.draw(st.lists(values, min_size=size, max_size=size))
    b = data.draw(st.lists(values, min_size=size, max_size=size))
    _assert_mirrored(a, b, data.draw(st.booleans()))


def test_swapping_small_tied_continuous_samples_is_mirrored_too():
    _assert_mirrored([0.5, 0.2, 0.2, 0.9, 0.1], [0.4, 0.2, 0.5, 0.1, 0.3], higher=True)


@reproducible
@given(scores_01, scores_01)
def test_paired_comparison_is_reproducible(a, b):
    b = (b * len(a))[: len(a)]
    first = paired_comparison(result(a), result(b), n_resamples=FAST, seed=7)
    again = paired_comparison(result(a), result(b), n_resamples=FAST, seed=7)
    assert first == again


def test_mcnemar_counts_discordant_items_and_matches_scipy():
    from scipy.stats import binomtest

    base = [1.0] * 30 + [0.0] * 10 + [1.0] * 5 + [0.0] * 5
    tuned = [1.0] * 30 + [0.0] * 10 + [0.0] * 5 + [1.0] * 5
    tuned[0:8] = [0.0] * 8  # 8 more right->wrong
    c = paired_comparison(result(tuned), result(base))
    assert c.test == "McNemar"
    assert len(c.worse_ids) == 13 and len(c.better_ids) == 5
    assert c.p_value == pytest.approx(binomtest(5, 18).pvalue)
    assert c.worse_ids[:3] == ("item-0000", "item-0001", "item-0002")  # item order
    assert c.delta == pytest.approx((sum(tuned) - sum(base)) / 50)
    assert c.ci[0] < c.delta < 0 <= c.ci[1]  # p = 0.096: the interval still holds 0


def test_lower_is_better_flips_what_counts_as_worse():
    base = result([0.0] * 10 + [1.0] * 2, name="hallucination", higher=False)
    tuned = result([1.0] * 6 + [0.0] * 4 + [1.0] * 2, name="hallucination", higher=False)
    c = paired_comparison(tuned, base)
    assert len(c.worse_ids) == 6 and not c.better_ids
    assert c.delta > 0 and c.drop == c.delta


def test_wilcoxon_for_continuous_scores_with_largest_drops_first():
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(0)
    base = rng.random(40)
    tuned = base - 0.1 * rng.random(40)
    tuned[3] = base[3] - 0.9
    c = paired_comparison(result(tuned), result(base))
    assert c.test == "Wilcoxon"
    assert c.p_value == pytest.approx(wilcoxon(tuned - base).pvalue)
    assert c.worse_ids[0] == "item-0003" and len(c.worse_ids) == 40
    assert c.basis == "per-item mean"


def test_identical_results_give_p_one_and_zero_delta():
    for scores in ([0.3, 0.5, 0.9], [1.0, 0.0, 1.0]):
        c = paired_comparison(result(scores), result(scores))
        assert c.p_value == 1.0 and c.delta == 0.0 and c.ci == (0.0, 0.0)
        assert not c.worse_ids and not c.better_ids


@reproducible
@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=60))
def test_a_result_read_back_from_the_baseline_store_equals_itself_live(scores):
    """The store keeps six decimals; the live result must not differ from its stored copy in the seventh."""
    import json

    from harness.baselines import dumps

    live = result(scores)
    stored = result(json.loads(dumps({"s": scores}))["s"])
    c = paired_comparison(live, stored, n_resamples=FAST)
    assert c.p_value == 1.0 and not c.worse_ids and not c.better_ids


def test_mismatched_items_name_the_ids_on_each_side():
    a = result([1.0, 0.0, 1.0], ids=["a", "b", "c"])
    b = result([1.0, 0.0, 1.0], ids=["a", "b", "z"])
    with pytest.raises(HarnessError, match=r"1 only in the candidate \(c\); 1 only in the reference \(z\)"):
        paired_comparison(a, b)


def test_many_mismatched_ids_are_summarised():
    a = result([1.0] * 20, ids=[f"x{k:02d}" for k in range(20)])
    b = result([1.0] * 20, ids=[f"y{k:02d}" for k in range(20)])
    with pytest.raises(HarnessError, match=r"20 only in the candidate \(x00, x01, x02, x03, x04, \.\.\. \(15 more\)\)"):
        paired_comparison(a, b)


def test_directions_must_agree():
    with pytest.raises(HarnessError, match="directions differ"):
        paired_comparison(result([1.0, 0.0]), result([1.0, 0.0], higher=False))


# --- minimum detectable effect ------------------------------------------------------------------------------


def test_fifty_binary_items_cannot_detect_a_drop_under_twelve_points():
    assert minimum_detectable_effect(50, discordant_rate=0.0) == pytest.approx(0.12)
    assert minimum_detectable_effect(50, discordant_rate=0.2) == pytest.approx(2.8016 * math.sqrt(0.2 / 50), rel=1e-3)


@reproducible
@given(st.integers(1, 5000), st.floats(0, 1), st.floats(0.001, 0.2))
def test_mde_shrinks_with_more_items_and_stays_a_proportion(n, rate, alpha):
    small = minimum_detectable_effect(n, discordant_rate=rate, alpha=alpha)
    large = minimum_detectable_effect(4 * n, discordant_rate=rate, alpha=alpha)
    assert 0 < large <= small <= 1


def test_continuous_mde_uses_the_spread_of_differences_and_needs_enough_items():
    assert minimum_detectable_effect(100, sd=0.5) == pytest.approx(2.8016 * 0.05, rel=1e-3)
    assert minimum_detectable_effect(5, sd=0.5) == math.inf


def test_mde_needs_one_kind_of_spread():
    with pytest.raises(HarnessError, match="exactly one"):
        minimum_detectable_effect(10)
    with pytest.raises(HarnessError, match="n >= 1"):
        minimum_detectable_effect(0, sd=1.0)


def test_paired_comparison_reports_the_mde_for_its_n():
    c = paired_comparison(result([1.0] * 50), result([1.0] * 50))
    assert c.minimum_detectable_effect == pytest.approx(0.12)


def test_corpus_statistics_are_a_typed_record_that_survives_the_details_round_trip():
    from harness.metrics.result import CorpusStats
    from harness.records import result_from_dict, result_to_dict
    from harness.stats import is_mean_of_items

    stats = CorpusStats({"kind": "perplexity"}, ("a", "b"), [[-1.0, -2.0], [2.0, 3.0]])
    carried = MetricResult("ppl", 2.0, (1.5, 2.5), 2, {"a": 1.0, "b": 2.0}, False, details=stats.to_details())
    back = result_from_dict(result_to_dict(carried)).corpus
    assert back == stats and back.kind == "perplexity"
    assert back.rows(["b", "a"]).tolist() == [[-2.0, 3.0], [-1.0, 2.0]]
    assert back.rows(["a", "zzz"]) is None
    broken = MetricResult("ppl", 2.0, (1.5, 2.5), 2, {}, False, details={"statistic": {"kind": "perplexity"}})
    assert broken.corpus is not None and broken.corpus.rows(["a"]) is None  # never read as a mean of items
    assert not is_mean_of_items(broken) and is_mean_of_items(result([1.0, 0.0]))
