"""ROUGE, BLEU, chrF, TER and SQuAD-style answers: same numbers as the libraries, sound intervals."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from harness import metrics
from harness.errors import HarnessError
from harness.metrics.corpus import bleu_finish, chrf_finish, ter_finish
from harness.stats import paired_comparison

reproducible = settings(derandomize=True, deadline=None, max_examples=25)
FAST = 300

WORDS = "the court held that each party shall notify the other within thirty days of written notice".split()
words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
corpora = st.integers(1, 12).flatmap(
    lambda n: st.tuples(st.lists(words, min_size=n, max_size=n), st.lists(words, min_size=n, max_size=n))
)


def ids_for(texts):
    return [f"s{k:03d}" for k in range(len(texts))]


def corpus(n=60, seed=0):
    rng = np.random.default_rng(seed)
    make = lambda: " ".join(rng.choice(WORDS, size=rng.integers(4, 16)))  # noqa: E731
    return [make() for _ in range(n)], [make() for _ in range(n)]


PREDS, REFS = corpus()
IDS = ids_for(PREDS)


# --- ROUGE ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rouge1", "rouge2", "rougeL", "rougeLsum"])
@pytest.mark.parametrize("stem", [True, False])
def test_rouge_matches_rouge_score(kind, stem):
    result = metrics.rouge(PREDS, REFS, IDS, kind=kind, use_stemmer=stem, n_resamples=FAST)
    scorer = rouge_scorer.RougeScorer([kind], use_stemmer=stem)
    expected = [scorer.score(r, p)[kind].fmeasure for p, r in zip(PREDS, REFS, strict=True)]
    assert list(result.per_item.values()) == expected
    assert result.value == pytest.approx(np.mean(expected), abs=1e-15)
    assert result.name == kind and result.n == len(PREDS) and result.higher_is_better


def test_rouge_shorthands_and_stemming_default():
    assert metrics.rougeL(["the courts held"], ["the court held"], ["a"]).value == 1.0
    assert metrics.rouge1(["the courts held"], ["the court held"], ["a"], use_stemmer=False).value < 1.0
    assert metrics.rouge2(["a b"], ["a b"], ["x"]).name == "rouge2"
    assert metrics.rougeLsum(["a b"], ["a b"], ["x"]).name == "rougeLsum"


@reproducible
@given(corpora)
def test_rouge_scores_are_bounded_identical_text_scores_one_and_ci_holds_value(texts):
    preds, refs = texts
    result = metrics.rouge(preds, refs, ids_for(preds), n_resamples=FAST)
    assert all(0.0 <= s <= 1.0 for s in result.per_item.values())
    assert result.ci[0] <= result.value <= result.ci[1]
    assert metrics.rouge(refs, refs, ids_for(refs), n_resamples=FAST).value == pytest.approx(1.0)


def test_rouge_rejects_an_unknown_kind():
    with pytest.raises(HarnessError, match="unknown ROUGE kind 'rouge3'"):
        metrics.rouge(["a"], ["a"], ["i"], kind="rouge3")


# --- sacrebleu ----------------------------------------------------------------------------------------------


def test_bleu_matches_sacrebleu_corpus_and_sentence_scores():
    result = metrics.bleu(PREDS, REFS, IDS, n_resamples=FAST)
    assert result.value == pytest.approx(sacrebleu.corpus_bleu(PREDS, [REFS]).score / 100, rel=1e-12)
    sentence = [sacrebleu.sentence_bleu(p, [r]).score / 100 for p, r in zip(PREDS, REFS, strict=True)]
    assert list(result.per_item.values()) == pytest.approx(sentence, rel=1e-12)
    assert result.details["statistic"]["kind"] == "bleu" and "13a" in result.details["signature"]


@pytest.mark.parametrize("smooth", ["exp", "floor", "add-k", "none"])
def test_bleu_options_reach_sacrebleu(smooth):
    result = metrics.bleu(PREDS, REFS, IDS, smooth_method=smooth, lowercase=True, n_resamples=FAST)
    expected = sacrebleu.corpus_bleu(PREDS, [REFS], smooth_method=smooth, lowercase=True).score / 100
    assert result.value == pytest.approx(expected, rel=1e-12)


def test_chrf_and_ter_match_sacrebleu():
    chrf = metrics.chrf(PREDS, REFS, IDS, word_order=2, n_resamples=FAST)
    assert chrf.value == pytest.approx(sacrebleu.corpus_chrf(PREDS, [REFS], word_order=2).score / 100, rel=1e-12)
    sentence = [sacrebleu.sentence_chrf(p, [r], word_order=2).score / 100 for p, r in zip(PREDS, REFS, strict=True)]
    assert list(chrf.per_item.values()) == pytest.approx(sentence, rel=1e-12)
    ter = metrics.ter(PREDS, REFS, IDS, n_resamples=FAST)
    assert ter.value == pytest.approx(sacrebleu.corpus_ter(PREDS, [REFS]).score / 100, rel=1e-12)
    sentence = [sacrebleu.sentence_ter(p, [r]).score / 100 for p, r in zip(PREDS, REFS, strict=True)]
    assert list(ter.per_item.values()) == pytest.approx(sentence, rel=1e-12)
    assert not ter.higher_is_better


def _resamples(stats, count=200, seed=1):
    rng = np.random.default_rng(seed)
    stats = np.asarray(stats, dtype=np.float64)
    return np.array([stats[rng.integers(0, len(stats), len(stats))].sum(axis=0) for _ in range(count)])


@pytest.mark.parametrize("smooth", ["exp", "floor", "add-k", "none"])
def test_vectorised_corpus_bleu_equals_sacrebleu_on_resampled_statistics(smooth):
    from sacrebleu.metrics import BLEU

    short_preds = [p.split()[0] if k % 3 == 0 else p for k, p in enumerate(PREDS)]  # some empty higher orders
    metric = BLEU(smooth_method=smooth)
    sums = _resamples(metric._extract_corpus_statistics(short_preds[:12], [REFS[:12]]))
    expected = [metric._compute_score_from_stats(list(row)).score / 100 for row in sums]
    assert bleu_finish(smooth_method=smooth)(sums) == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("options", [{}, {"word_order": 2}, {"eps_smoothing": True}, {"beta": 1, "char_order": 3}])
def test_vectorised_corpus_chrf_and_ter_equal_sacrebleu(options):
    from sacrebleu.metrics import CHRF, TER

    metric = CHRF(**options)
    sums = _resamples(metric._extract_corpus_statistics(PREDS[:10], [REFS[:10]]))
    expected = [metric._compute_score_from_stats(list(row)).score / 100 for row in sums]
    spec = {"char_order": 6, "word_order": 0, "beta": 2, "eps_smoothing": False} | options
    assert chrf_finish(**spec)(sums) == pytest.approx(expected, rel=1e-12)
    ter = TER()
    sums = _resamples(ter._extract_corpus_statistics(PREDS[:10], [REFS[:10]]))
    expected = [ter._compute_score_from_stats(list(row)).score / 100 for row in sums]
    assert ter_finish(sums) == pytest.approx(expected, rel=1e-12)


@reproducible
@given(corpora)
def test_sacrebleu_scores_are_bounded_and_identical_text_is_perfect(texts):
    preds, refs = texts
    ids = ids_for(preds)
    for result in (metrics.bleu(preds, refs, ids, n_resamples=FAST), metrics.chrf(preds, refs, ids, n_resamples=FAST)):
        assert 0.0 <= result.value <= 1.0 and all(0.0 <= s <= 1.0 for s in result.per_item.values())
        assert result.ci[0] <= result.value <= result.ci[1]
    ter = metrics.ter(preds, refs, ids, n_resamples=FAST)
    assert ter.value >= 0 and ter.ci[0] <= ter.value <= ter.ci[1]
    assert metrics.chrf(refs, refs, ids, n_resamples=FAST).value == pytest.approx(1.0)
    assert metrics.ter(refs, refs, ids, n_resamples=FAST).value == 0.0
    if all(len(r.split()) >= 4 for r in refs):
        assert metrics.bleu(refs, refs, ids, n_resamples=FAST).value == pytest.approx(1.0)


def test_corpus_bleu_interval_comes_from_resampling_the_corpus_statistic():
    result = metrics.bleu(PREDS, REFS, IDS, n_resamples=FAST)
    mean_of_sentences = float(np.mean(list(result.per_item.values())))
    assert result.ci[0] <= result.value <= result.ci[1]
    assert not result.ci[0] <= mean_of_sentences <= result.ci[1]  # sentence-BLEU mean is a different number


def test_paired_bleu_recomputes_corpus_bleu_for_both_models():
    other = metrics.bleu(list(reversed(PREDS)), REFS, IDS, n_resamples=FAST)
    base = metrics.bleu(PREDS, REFS, IDS, n_resamples=FAST)
    comparison = paired_comparison(other, base, n_resamples=FAST)
    assert comparison.basis == "corpus statistic" and comparison.test == "Wilcoxon"
    assert comparison.delta == other.value - base.value
    assert comparison.ci[0] <= comparison.delta <= comparison.ci[1]


# --- SQuAD answers -------------------------------------------------------------------------------------------


def test_exact_match_normalises_like_squad():
    result = metrics.exact_match(
        ["The Supreme Court!", "an apple", "New  York", "Paris"],
        ["supreme court", ["a pear", "apple"], "new york", "London"],
        ["q1", "q2", "q3", "q4"],
        n_resamples=FAST,
    )
    assert dict(result.per_item) == {"q1": 1.0, "q2": 1.0, "q3": 1.0, "q4": 0.0}
    assert result.value == 0.75 and result.is_binary


def test_token_f1_is_squad_v1_f1():
    assert metrics.squad_f1("the cat sat", "a cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (2 / 2 + 2 / 3))
    assert metrics.squad_f1("", "anything") == 0.0
    result = metrics.token_f1(["cat sat", "dog"], [["a cat", "cat sat"], "cat"], ["a", "b"], n_resamples=FAST)
    assert dict(result.per_item) == {"a": 1.0, "b": 0.0}


@reproducible
@given(st.lists(words, min_size=1, max_size=10))
def test_answers_identical_to_their_reference_score_one(answers):
    ids = ids_for(answers)
    assert metrics.exact_match(answers, answers, ids, n_resamples=FAST).value == 1.0
    result = metrics.token_f1(answers, answers, ids, n_resamples=FAST)
    normalisable = [metrics.normalize_answer(a) != "" for a in answers]
    assert list(result.per_item.values()) == [1.0 if ok else 0.0 for ok in normalisable]


# --- input errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", [metrics.rouge, metrics.bleu, metrics.chrf, metrics.ter, metrics.exact_match])
def test_length_mismatch_and_duplicate_ids_are_named(metric):
    with pytest.raises(HarnessError, match="length mismatch: 1 references but 2 ids"):
        metric(["a", "b"], ["a"], ["i", "j"])
    with pytest.raises(HarnessError, match="duplicate item ids: i"):
        metric(["a", "b"], ["a", "b"], ["i", "i"])
    with pytest.raises(HarnessError, match="no items"):
        metric([], [], [])


def test_non_text_inputs_are_named():
    with pytest.raises(HarnessError, match=r"predictions\[1\] is int, expected str"):
        metrics.bleu(["a", 3], ["a", "b"], ["i", "j"])
    with pytest.raises(HarnessError, match="not one string"):
        metrics.rouge("abc", "abc", ["a", "b", "c"])
