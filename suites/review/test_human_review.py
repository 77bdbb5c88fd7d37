"""Promotion waits for people: domain experts' review of the tuned model's answers must be complete and good."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from harness.metrics import MetricResult

HOW_TO_START = (
    "run the suites, then `harness review sample` (draws the answers to review), `harness review invite NAME` "
    "(one link per reviewer) and `harness review serve` (the review app); `harness review report` shows where "
    "the review stands"
)


def _same_model(recorded: str, candidate: str) -> bool:
    if recorded == candidate:
        return True
    return (
        Path(recorded).exists() and Path(candidate).exists() and Path(recorded).resolve() == Path(candidate).resolve()
    )


def test_human_review(review_db, review_required, review_thresholds, harness_session, record_metric):
    from harness.review.gate import decide
    from harness.review.store import ReviewStore
    from harness.review.summary import summarise

    if not review_db.is_file():
        message = f"no human review yet (no database at {review_db}): {HOW_TO_START}"
        if review_required:
            pytest.fail(f"{message} (--require-review is set)", pytrace=False)
        pytest.skip(message)
    store = ReviewStore(review_db)
    try:
        summary = summarise(store)
    finally:
        store.close()
    candidate = harness_session.config.tuned_model
    if not _same_model(summary.meta.candidate, candidate):
        pytest.fail(
            f"the review in {review_db} is of {summary.meta.candidate!r}, not of this run's candidate {candidate!r}: "
            f"{HOW_TO_START}",
            pytrace=False,
        )
    verdict = decide(summary, review_thresholds)
    _record(summary, review_thresholds, record_metric)
    if not verdict.passed:
        reasons = "\n  ".join(verdict.failures)
        pytest.fail(f"the human review blocks promotion of {candidate}:\n  {reasons}", pytrace=False)


def _record(summary, thresholds, record_metric) -> None:
    """The review's numbers in the summary table: pass rate (floor on its Wilson lower bound), A/B win rate,
    lowest agreement (floor). A missed floor is not raised here: the verdict names it with the other reasons."""
    record_metric = _quiet(record_metric)
    overall = summary.overall
    details = {
        "reviewers": list(summary.reviewers),
        "min_reviews": summary.meta.min_reviews,
        "rubric_version": summary.meta.rubric.version,
        "n_effective": overall.rate.n_effective,
        "interval": "stratum-weighted Wilson",
    }
    if overall.rate.n:
        record_metric(
            MetricResult(
                "human_review_pass_rate",
                overall.rate.value,
                overall.rate.ci,
                overall.rate.n,
                summary.per_item,
                details=details,
            ),
            role="tuned",
            floor_lower_bound=thresholds.min_pass_rate,
        )
    if summary.ab is not None and summary.ab.win_rate.n:
        ab = summary.ab
        record_metric(
            MetricResult(
                "human_review_win_rate",
                ab.win_rate.value,
                ab.win_rate.ci,
                ab.win_rate.n,
                ab.per_item,
                details={
                    "counts": ab.counts,
                    "sign_test_p_worse": ab.test.p_worse,
                    "ties": "half",
                    "blinding": summary.blinding,
                },
            ),
            role="tuned",
        )
    alphas = [c.agreement.alpha for c in summary.criteria if c.gated and not math.isnan(c.agreement.alpha)]
    if alphas:
        lowest = min(alphas)
        record_metric(
            MetricResult(
                "human_review_agreement",
                lowest,
                (lowest, lowest),
                max(c.agreement.items for c in summary.criteria),
                {},
                details={"statistic": "lowest Krippendorff's alpha over gated criteria"},
            ),
            role="tuned",
            floor=thresholds.min_agreement,
        )


def _quiet(record_metric):
    def record(*args, **kwargs):
        try:
            record_metric(*args, **kwargs)
        except pytest.fail.Exception:
            pass

    return record
