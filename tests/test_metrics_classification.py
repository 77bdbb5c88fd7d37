"""Accuracy, precision, recall, F1 and the confusion matrix: scikit-learn's numbers with item-resampling CIs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from harness import metrics
from harness.errors import HarnessError
from harness.metrics.corpus import classification_additive, classification_finish
from harness.stats import paired_comparison

reproducible = settings(derandomize=True, deadline=None, max_examples=30)
FAST = 300
LABELS = ["indemnity", "termination", "confidentiality", "payment"]

labelled = st.integers(1, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from(LABELS), min_size=n, max_size=n),
        st.lists(st.sampled_from(LABELS), min_size=n, max_size=n),
    )
)


def ids_for(values):
    return [f"clause-{k:04d}" for k in range(len(values))]


def sample(n=200, right=0.7, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.choice(LABELS, size=n, p=[0.4, 0.3, 0.2, 0.1]).tolist()
    guess = [t if rng.random() < right else str(rng.choice(LABELS)) for t in truth]
    return guess, truth


PRED, TRUE = sample()
IDS = ids_for(PRED)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_precision_recall_f1_equal_scikit_learn(average):
    for ours, theirs in (
        (metrics.precision, sk.precision_score),
        (metrics.recall, sk.recall_score),
        (metrics.f1, sk.f1_score),
    ):
        result = ours(PRED, TRUE, IDS, average=average, n_resamples=FAST)
        assert result.value == theirs(TRUE, PRED, average=average, zero_division=0.0)
        assert result.ci[0] <= result.value <= result.ci[1]
        assert result.name == f"{average}_{theirs.__name__.removesuffix('_score')}"


def test_accuracy_equals_scikit_learn_and_scores_items_right_or_wrong():
    result = metrics.accuracy(PRED, TRUE, IDS, n_resamples=FAST)
    assert result.value == sk.accuracy_score(TRUE, PRED)
    assert result.is_binary
    assert [result.per_item[i] for i in IDS] == [float(p == t) for p, t in zip(PRED, TRUE, strict=True)]


def test_details_hold_per_class_scores_and_the_confusion_matrix_with_label_order():
    result = metrics.f1(PRED, TRUE, IDS, n_resamples=FAST)
    labels = result.details["labels"]
    assert labels == sorted(LABELS)
    assert result.details["confusion_matrix"] == sk.confusion_matrix(TRUE, PRED, labels=labels).tolist()
    per_class = sk.f1_score(TRUE, PRED, labels=labels, average=None)
    assert [result.details["per_class"][label]["f1"] for label in labels] == per_class.tolist()
    assert result.value == pytest.approx(np.mean(per_class))


def test_vectorised_macro_f1_equals_scikit_learn_on_resamples():
    """The CI recomputes the averaged statistic per resample; check it against scikit-learn on the same draws."""
    labels = sorted(set(TRUE) | set(PRED))
    index = {label: k for k, label in enumerate(labels)}
    rows = np.array([[index[t], index[p]] for p, t in zip(PRED, TRUE, strict=True)])
    additive = classification_additive(len(labels))(rows)
    rng = np.random.default_rng(4)
    for metric, scorer in (("f1", sk.f1_score), ("precision", sk.precision_score), ("recall", sk.recall_score)):
        for average in ("macro", "micro", "weighted"):
            finish = classification_finish(len(labels), metric, average)
            for _ in range(20):
                draw = rng.integers(0, 12, size=12)  # small resamples: some labels go missing
                expected = scorer(np.array(TRUE)[draw], np.array(PRED)[draw], average=average, zero_division=0.0)
                assert finish(additive[draw].sum(axis=0)[None, :])[0] == pytest.approx(expected, abs=1e-12)


@reproducible
@given(labelled)
def test_classification_scores_are_bounded_and_perfect_predictions_score_one(pair):
    pred, true = pair
    ids = ids_for(pred)
    for metric in (metrics.accuracy, metrics.f1, metrics.precision, metrics.recall):
        result = metric(pred, true, ids, n_resamples=FAST)
        assert 0.0 <= result.ci[0] <= result.value <= result.ci[1] <= 1.0
        assert metric(true, true, ids, n_resamples=FAST).value == 1.0


@reproducible
@given(labelled, st.integers(0, 1000))
def test_same_seed_same_interval(pair, seed):
    pred, true = pair
    ids = ids_for(pred)
    assert metrics.f1(pred, true, ids, seed=seed, n_resamples=FAST) == metrics.f1(
        pred, true, ids, seed=seed, n_resamples=FAST
    )


def test_integer_labels_work_and_mixed_types_are_refused():
    result = metrics.accuracy([1, 2, 3], [1, 2, 2], ["a", "b", "c"], n_resamples=FAST)
    assert result.value == pytest.approx(2 / 3) and result.details["labels"] == [1, 2, 3]
    with pytest.raises(HarnessError, match="one label type"):
        metrics.f1([1, "b"], ["a", "b"], ["x", "y"])


def test_unknown_average_is_named():
    with pytest.raises(HarnessError, match="unknown average 'samples'"):
        metrics.f1(PRED, TRUE, IDS, average="samples")


def test_length_mismatch_and_duplicate_ids():
    with pytest.raises(HarnessError, match="length mismatch: 2 predictions but 3 ids"):
        metrics.accuracy(["a", "b"], ["a", "b", "c"], ["x", "y", "z"])
    with pytest.raises(HarnessError, match="duplicate item ids: x"):
        metrics.f1(["a", "b"], ["a", "b"], ["x", "x"])


def test_paired_macro_f1_recomputes_the_statistic_and_tests_correctness_with_mcnemar():
    worse, _ = sample(right=0.5, seed=1)
    tuned = metrics.f1(worse, TRUE, IDS, name="clause_macro_f1", n_resamples=FAST)
    base = metrics.f1(PRED, TRUE, IDS, name="clause_macro_f1", n_resamples=FAST)
    comparison = paired_comparison(tuned, base, n_resamples=FAST)
    assert comparison.basis == "corpus statistic" and comparison.test == "McNemar"
    assert comparison.delta == tuned.value - base.value < 0
    assert comparison.ci[1] < 0 and comparison.p_value < 0.05


def test_a_result_read_back_from_json_still_pairs_on_the_corpus_statistic():
    import json

    from harness.records import result_from_dict, result_to_dict

    tuned = metrics.f1(sample(right=0.5, seed=1)[0], TRUE, IDS, n_resamples=FAST)
    base = metrics.f1(PRED, TRUE, IDS, n_resamples=FAST)
    stored = result_from_dict(json.loads(json.dumps(result_to_dict(base))))
    fresh = paired_comparison(tuned, base, n_resamples=FAST)
    assert paired_comparison(tuned, stored, n_resamples=FAST) == fresh.__class__(
        **{**fresh.__dict__, "reference": stored}
    )
