"""The promotion rule of a human review: complete by enough distinct reviewers, passing with confidence, not worse
than base, reliable, and by reviewers whose ratings show they looked."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.metrics.result import MetricResult
from harness.rules import GateRule, check_rule

if TYPE_CHECKING:
    from harness.recorder import MetricRecorder
    from harness.review.summary import ReviewerActivity, ReviewSummary

HOW_TO_START = (
    "run the suites, then `harness review sample` (draws the answers to review), `harness review invite NAME` "
    "(one link per reviewer) and `harness review serve` (the review app); `harness review report` shows where "
    "the review stands"
)
PASS_RATE, WIN_RATE, AGREEMENT = "human_review_pass_rate", "human_review_win_rate", "human_review_agreement"


@dataclass(frozen=True)
class ReviewThresholds:
    """What the review must show before the candidate may be promoted."""

    min_pass_rate: float = 0.7  # the Wilson lower bound of the overall pass rate must reach this
    alpha: float = 0.05  # significance level of the sign test "tuned is worse than base"
    min_agreement: float = 0.667  # Krippendorff's alpha of every gated criterion (Krippendorff's lowest bar)
    min_reviewers: int = 2  # distinct issued identities per answer, whatever --min-reviews the sample asked for
    min_seconds: float = 5.0  # a reviewer whose median time between submissions is shorter did not read
    flag_after: int = 10  # reviews before a reviewer's constant ratings or speed are judged


DEFAULT_THRESHOLDS = ReviewThresholds()


@dataclass(frozen=True)
class ReviewMetric:
    """One of the review's numbers as a metric of the tuned model, with the gate rule its threshold sets."""

    result: MetricResult
    rule: GateRule


def review_metrics(summary: ReviewSummary, thresholds: ReviewThresholds) -> list[ReviewMetric]:
    """The review's numbers for the summary table: the overall pass rate (floor on its Wilson lower bound),
    tuned's A/B win rate (reported), the lowest agreement of the gated criteria (floor)."""
    metrics = []
    overall = summary.overall.rate
    if overall.n:
        details = {
            "reviewers": list(summary.reviewers),
            "min_reviews": summary.meta.min_reviews,
            "rubric_version": summary.meta.rubric.version,
            "n_effective": overall.n_effective,
            "interval": "stratum-weighted Wilson",
        }
        result = MetricResult(PASS_RATE, overall.value, overall.ci, overall.n, summary.per_item, details=details)
        metrics.append(ReviewMetric(result, GateRule(floor_lower_bound=thresholds.min_pass_rate)))
    if summary.ab is not None and summary.ab.win_rate.n:
        ab = summary.ab
        details = {
            "counts": ab.counts,
            "sign_test_p_worse": ab.test.p_worse,
            "ties": "half",
            "blinding": summary.blinding,
        }
        result = MetricResult(WIN_RATE, ab.win_rate.value, ab.win_rate.ci, ab.win_rate.n, ab.per_item, details=details)
        metrics.append(ReviewMetric(result, GateRule()))
    alphas = [c.agreement.alpha for c in summary.criteria if c.gated and not math.isnan(c.agreement.alpha)]
    if alphas:
        lowest = min(alphas)
        items = max(c.agreement.items for c in summary.criteria)
        details = {"measure": "lowest Krippendorff's alpha over gated criteria"}
        result = MetricResult(AGREEMENT, lowest, (lowest, lowest), items, {}, details=details)
        metrics.append(ReviewMetric(result, GateRule(floor=thresholds.min_agreement)))
    return metrics


def _agreement(criterion_alpha: float, items: int, thresholds: ReviewThresholds) -> bool:
    """Whether one criterion's agreement reaches the floor (an undefined agreement does not)."""
    result = MetricResult(AGREEMENT, criterion_alpha, (criterion_alpha, criterion_alpha), items, {})
    return not check_rule(GateRule(floor=thresholds.min_agreement), result)


def flags(reviewer: ReviewerActivity, thresholds: ReviewThresholds) -> list[str]:
    """Why a reviewer's work cannot be counted on: constant ratings, one A/B choice for everything, no time."""
    reasons = []
    if reviewer.ratings >= thresholds.flag_after and reviewer.score_sets == 1:
        reasons.append(f"gave the same scores to all {reviewer.ratings} answers")
    if reviewer.comparisons >= thresholds.flag_after and len(reviewer.choices) == 1:
        reasons.append(f"chose {reviewer.choices[0]!r} for all {reviewer.comparisons} A/B pairs")
    submissions = reviewer.ratings + reviewer.comparisons
    if (
        submissions >= thresholds.flag_after
        and reviewer.median_seconds is not None
        and reviewer.median_seconds < thresholds.min_seconds
    ):
        reasons.append(
            f"median {reviewer.median_seconds:.1f} s between submissions (implausibly short: below "
            f"{thresholds.min_seconds:g} s per item)"
        )
    return reasons


@dataclass(frozen=True)
class ReviewVerdict:
    """Whether the review lets the candidate through, with one line per reason it does not."""

    passed: bool
    failures: tuple[str, ...]
    checks: tuple[str, ...]  # one line per rule, passed or not, for the report


def decide(summary: ReviewSummary, thresholds: ReviewThresholds = DEFAULT_THRESHOLDS) -> ReviewVerdict:
    """Apply the rules to a review summary."""
    failures: list[str] = []
    checks: list[str] = []

    def rule(ok: bool, line: str) -> None:
        checks.append(("PASS " if ok else "FAIL ") + line)
        if not ok:
            failures.append(line)

    required = max(summary.meta.min_reviews, thresholds.min_reviewers)
    rule(
        len(summary.reviewers) >= required,
        f"reviewers: {len(summary.reviewers)} distinct issued identities reviewed; each answer needs {required}",
    )
    rated = sum(count >= required for count in summary.reviews_per_item)
    rule(
        summary.items > 0 and rated == summary.items,
        f"complete: {rated}/{summary.items} sampled answers have ratings from {required} distinct reviewers",
    )
    if summary.ab is not None:
        compared = sum(count >= required for count in summary.ab.reviews_per_item)
        rule(
            compared == summary.ab.needed,
            f"complete: {compared}/{summary.ab.needed} disagreements have A/B choices from {required} distinct "
            "reviewers",
        )
    flagged = [(r.name, flags(r, thresholds)) for r in summary.activity]
    flagged = [(name, reasons) for name, reasons in flagged if reasons]
    rule(
        not flagged,
        "reviewers' ratings vary and take time: "
        + ("; ".join(f"{name} {', '.join(reasons)}" for name, reasons in flagged) if flagged else "none flagged")
        + (" (revoke them with `harness review revoke NAME` and ask others)" if flagged else ""),
    )
    overall = summary.overall.rate
    lower = overall.ci[0] if overall.n else 0.0
    pass_rate = MetricResult(PASS_RATE, overall.value, overall.ci, overall.n, {})
    rule(
        overall.n > 0 and not check_rule(GateRule(floor_lower_bound=thresholds.min_pass_rate), pass_rate),
        f"pass rate {overall.format()}: Wilson lower bound {lower:.3f} vs required {thresholds.min_pass_rate:.3f}",
    )
    if summary.ab is not None:
        test = summary.ab.test
        rule(
            test.p_worse >= thresholds.alpha,
            f"A/B: tuned wins {test.wins}, base wins {test.losses}; sign test for 'tuned worse' "
            f"p={test.p_worse:.3g} (fails below {thresholds.alpha})",
        )
    for criterion in summary.criteria:
        if not criterion.gated:
            continue
        alpha = criterion.agreement.alpha
        shown = criterion.agreement.note or "undefined" if math.isnan(alpha) else f"{alpha:.3f}"
        rule(
            _agreement(alpha, criterion.agreement.items, thresholds),
            f"agreement on {criterion.name}: Krippendorff's alpha {shown} vs required {thresholds.min_agreement}",
        )
    return ReviewVerdict(not failures, tuple(failures), tuple(checks))


def same_model(recorded: str, candidate: str) -> bool:
    """Whether the review's candidate is this run's: the same name, or the same directory."""
    if recorded == candidate:
        return True
    return (
        Path(recorded).exists() and Path(candidate).exists() and Path(recorded).resolve() == Path(candidate).resolve()
    )


def check_review(
    db: Path, candidate: str, thresholds: ReviewThresholds, record_metric: MetricRecorder, *, required: bool
) -> None:
    """The human-review suite's test: skip (or with `required`, fail) without a review; fail when the review is of
    another model or does not pass; record its numbers with their rules for the gate either way."""
    __tracebackhide__ = True
    import pytest

    from harness.review.store import ReviewStore
    from harness.review.summary import summarise

    if not db.is_file():
        message = f"no human review yet (no database at {db}): {HOW_TO_START}"
        if required:
            pytest.fail(f"{message} (--require-review is set)", pytrace=False)
        pytest.skip(message)
    store = ReviewStore(db)
    try:
        summary = summarise(store)
    finally:
        store.close()
    if not same_model(summary.meta.candidate, candidate):
        pytest.fail(
            f"the review in {db} is of {summary.meta.candidate!r}, not of this run's candidate {candidate!r}: "
            f"{HOW_TO_START}",
            pytrace=False,
        )
    verdict = decide(summary, thresholds)
    for metric in review_metrics(summary, thresholds):  # a missed floor is among the verdict's reasons below
        record_metric(metric.result, role="tuned", check_now=False, **metric.rule.as_keywords())
    if not verdict.passed:
        reasons = "\n  ".join(verdict.failures)
        pytest.fail(f"the human review blocks promotion of {candidate}:\n  {reasons}", pytrace=False)
