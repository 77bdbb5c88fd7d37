"""The human-review gate (suites/review) through pytester: skip without a review, fail when required,
incomplete, poor or for another model; pass, with its numbers in the summary table, when the review is good."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_review_rubric import DEMO

from fixtures.review.build import simulate_reviews, synthetic_outputs
from harness.review.items import pair_outputs
from harness.review.rubric import load_rubric
from harness.review.sampling import draw_sample
from harness.review.store import ReviewStore

SUITE = Path(__file__).resolve().parents[1] / "suites" / "review"


@pytest.fixture
def gate(pytester, tiny_dirs):
    """Run the review suite (copied into a scratch project) on the tiny models."""
    pytester.makeini("[pytest]\n")
    target = pytester.path / "suites" / "review"
    target.mkdir(parents=True)
    for name in ("conftest.py", "test_human_review.py"):
        shutil.copy(SUITE / name, target / name)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_inprocess(
            "suites/review", "--base-model", str(tiny_dirs["base"]), "--tuned-model", str(tiny_dirs["adapter"]),
            "-p", "no:cacheprovider", "-rs", *args,
        )  # fmt: skip

    return run


def review_db(path: Path, model: str, *, noise: float = 0.0, skip: float = 0.0) -> Path:
    store = ReviewStore(path, create=True)
    sample = draw_sample(pair_outputs(synthetic_outputs(300, seed=6, tuned_model=model)), seed=0)
    store.save_sample(sample, load_rubric(DEMO), min_reviews=2, seed=0)
    simulate_reviews(store, noise=noise, skip=skip)
    store.close()
    return path


def test_without_a_review_the_gate_skips_and_says_how_to_start(gate, pytester, monkeypatch):
    monkeypatch.delenv("HARNESS_REQUIRE_REVIEW", raising=False)
    result = gate()
    assert result.ret == 0
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no human review yet*harness review sample*harness review serve*"])


def test_require_review_turns_the_skip_into_a_failure(gate, monkeypatch):
    monkeypatch.delenv("HARNESS_REQUIRE_REVIEW", raising=False)
    result = gate("--require-review")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no human review yet*--require-review is set*"])
    monkeypatch.setenv("HARNESS_REQUIRE_REVIEW", "1")
    gate().assert_outcomes(failed=1)


def test_a_complete_good_review_passes_and_shows_in_the_summary(gate, pytester, tiny_dirs):
    db = review_db(pytester.path / "review.sqlite", str(tiny_dirs["adapter"]))
    result = gate("--review-db", str(db))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*promotion gate*", "*human_review_agreement*1.000*", "*human_review_pass_rate*", "*human_review_win_rate*"]
    )


def test_a_review_of_another_model_does_not_count(gate, pytester, monkeypatch):
    db = review_db(pytester.path / "review.sqlite", "models/some-other-candidate")
    monkeypatch.setenv("HARNESS_REVIEW_DB", str(db))  # what `pytest suites/` uses: the option is not read there
    result = gate()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*is of 'models/some-other-candidate', not of this run's candidate*"])


def test_an_incomplete_or_unreliable_review_blocks_promotion(gate, pytester, tiny_dirs):
    db = review_db(pytester.path / "review.sqlite", str(tiny_dirs["adapter"]), noise=0.5, skip=0.3)
    result = gate("--review-db", str(db))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the human review blocks promotion*",
            "*complete: *sampled answers have ratings from 2 distinct reviewers*",
            "*agreement on accuracy: Krippendorff's alpha*",
        ]  # fmt: skip
    )


def test_a_pass_rate_bar_above_the_lower_bound_fails(gate, pytester, tiny_dirs):
    db = review_db(pytester.path / "review.sqlite", str(tiny_dirs["adapter"]))
    result = gate("--review-db", str(db), "--review-min-pass-rate", "0.99")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pass rate*Wilson lower bound*vs required 0.990*"])


def test_one_reviewer_with_constant_ratings_blocks_promotion(gate, pytester, tiny_dirs):
    from harness.review.store import Comparison, Rating

    store = ReviewStore(pytester.path / "review.sqlite", create=True)
    rubric = load_rubric(DEMO)
    sample = draw_sample(pair_outputs(synthetic_outputs(300, seed=6, tuned_model=str(tiny_dirs["adapter"]))), seed=0)
    store.save_sample(sample, rubric, min_reviews=1, seed=0)
    best = {c.name: c.options[-1] if c.name != "tone" else "neutral" for c in rubric.criteria}
    stamp = "2026-01-05T09:00:00.000+00:00"
    store.add_many(
        [Rating(i.eval_set, i.item_id, "mallory", stamp, rubric.version, i.tuned_hash, best) for i in store.items()],
        [Comparison(i.eval_set, i.item_id, "mallory", stamp, i.pair_hash, "tie", "tie") for i in store.items()
         if i.disagree],
    )  # fmt: skip
    store.close()
    result = gate("--review-db", str(pytester.path / "review.sqlite"))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*reviewers: 1 distinct issued identities reviewed; each answer needs 2*",
            "*mallory gave the same scores to all * answers*chose 'tie' for all * A/B pairs*median 0.0 s*",
            "*agreement on accuracy: Krippendorff's alpha undefined: fewer than two reviewers*",
        ]
    )


def test_the_recorded_review_numbers_gate_on_the_same_thresholds_as_the_verdict(tmp_path):
    from harness.review.gate import ReviewThresholds, decide, review_metrics
    from harness.review.summary import summarise
    from harness.rules import check_rule

    store = ReviewStore(review_db(tmp_path / "review.sqlite", "models/candidate"))
    try:
        summary = summarise(store)
    finally:
        store.close()
    strict = ReviewThresholds(min_pass_rate=0.99, min_agreement=1.01)
    metrics = {m.result.name: m for m in review_metrics(summary, strict)}
    assert set(metrics) == {"human_review_pass_rate", "human_review_win_rate", "human_review_agreement"}
    assert metrics["human_review_pass_rate"].rule.floor_lower_bound == 0.99
    assert metrics["human_review_agreement"].rule.floor == 1.01
    missed = [line for m in metrics.values() for line in check_rule(m.rule, m.result).failures]
    assert len(missed) == 2 and "human_review_pass_rate is not above its floor with 95% confidence" in missed[0]
    verdict = decide(summary, strict)
    gated = [c.name for c in summary.criteria if c.gated]
    assert verdict.failures[0].startswith("pass rate")
    assert [f.split(":")[0] for f in verdict.failures[1:]] == [f"agreement on {name}" for name in gated]
    assert all(not check_rule(m.rule, m.result) for m in review_metrics(summary, ReviewThresholds(0.0, 0.05, -1.0)))
