"""The promotion rule of a human review: complete by enough distinct reviewers, passing with confidence, not worse
than base, reliable, and by reviewers whose ratings show they looked."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.review.summary import ReviewerActivity, ReviewSummary


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
    rule(
        overall.n > 0 and lower >= thresholds.min_pass_rate,
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
            not math.isnan(alpha) and alpha >= thresholds.min_agreement,
            f"agreement on {criterion.name}: Krippendorff's alpha {shown} vs required {thresholds.min_agreement}",
        )
    return ReviewVerdict(not failures, tuple(failures), tuple(checks))
