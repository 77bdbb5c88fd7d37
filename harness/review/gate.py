"""The promotion rule of a human review: complete, passing with confidence, not worse than base, reliable."""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.review.summary import ReviewSummary


@dataclass(frozen=True)
class ReviewThresholds:
    """What the review must show before the candidate may be promoted."""

    min_pass_rate: float = 0.7  # the Wilson lower bound of the overall pass rate must reach this
    alpha: float = 0.05  # significance level of the sign test "tuned is worse than base"
    min_agreement: float = 0.667  # Krippendorff's alpha of every gated criterion (Krippendorff's lowest bar)


@dataclass(frozen=True)
class ReviewVerdict:
    """Whether the review lets the candidate through, with one line per reason it does not."""

    passed: bool
    failures: tuple[str, ...]
    checks: tuple[str, ...]  # one line per rule, passed or not, for the report


def decide(summary: ReviewSummary, thresholds: ReviewThresholds = ReviewThresholds()) -> ReviewVerdict:
    """Apply the four rules to a review summary."""
    failures: list[str] = []
    checks: list[str] = []

    def rule(ok: bool, line: str) -> None:
        checks.append(("PASS " if ok else "FAIL ") + line)
        if not ok:
            failures.append(line)

    min_reviews = summary.meta.min_reviews
    rule(
        summary.rated_complete == summary.items,
        f"complete: {summary.rated_complete}/{summary.items} sampled answers have {min_reviews} rating(s)",
    )
    if summary.ab is not None:
        rule(
            summary.ab.complete == summary.ab.needed,
            f"complete: {summary.ab.complete}/{summary.ab.needed} disagreements have {min_reviews} A/B choice(s)",
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
        shown = "not measurable (no answer has two ratings)" if math.isnan(alpha) else f"{alpha:.3f}"
        rule(
            not math.isnan(alpha) and alpha >= thresholds.min_agreement,
            f"agreement on {criterion.name}: Krippendorff's alpha {shown} vs required {thresholds.min_agreement}",
        )
    return ReviewVerdict(not failures, tuple(failures), tuple(checks))
