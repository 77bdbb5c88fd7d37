"""Promotion waits for people: domain experts' review of the tuned model's answers must be complete and good."""

from harness.review.gate import check_review


def test_human_review(review_db, review_required, review_thresholds, harness_session, record_metric):
    check_review(
        review_db, harness_session.config.tuned_model, review_thresholds, record_metric, required=review_required
    )
