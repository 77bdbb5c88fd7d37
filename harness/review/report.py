"""The review in words: what was sampled, how far the review got, pass rates, A/B outcome and agreement."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from harness.review.gate import DEFAULT_THRESHOLDS, ReviewThresholds, ReviewVerdict, flags
from harness.review.summary import ReviewSummary

if TYPE_CHECKING:
    from harness.judge.reviewed import ReviewAgreement


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    return "undef." if math.isnan(value) else f"{value:.3f}"


def judge_lines(judged: ReviewAgreement) -> list[str]:
    """The judge's agreement with the reviewers: kappa and the pass/fail confusion matrix per criterion."""
    errors = sum(judged.errors.values())
    lines = [
        f"judge {judged.judge} ({judged.method}) on the {judged.answers} reviewed answers"
        + (f"; {errors} grade(s) were ERROR and are left out" if errors else ""),
        f"{'criterion':<22} {'ratings':>7} {'kappa':>7} {'kappa on grades':>15}   "
        "human pass: judge pass/fail   human fail: judge pass/fail",
    ]
    for name, agreed in judged.criteria.items():
        (pass_pass, pass_fail), (fail_pass, fail_fail) = agreed.confusion
        lines.append(
            f"{name:<22} {agreed.n:>7} {_number(agreed.kappa):>7} {_number(agreed.kappa_grades):>15}   "
            f"{f'{pass_pass}/{pass_fail}':<27}  {fail_pass}/{fail_fail}"
        )
    return lines


def report_lines(
    summary: ReviewSummary,
    verdict: ReviewVerdict,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
    judged: ReviewAgreement | None = None,
) -> list[str]:
    """Terminal report of a review (with the judge's agreement with the reviewers when `judged` is given)."""
    meta = summary.meta
    lines = [
        f"review of {meta.candidate or '?'} (base {meta.base_model or '-'}), rubric {meta.rubric.name} "
        f"version {meta.rubric.version}",
        f"sample: {meta.explanation}",
        f"reviewers: {', '.join(summary.reviewers) or 'none yet'}; each answer needs {meta.min_reviews} review(s); "
        f"{summary.rated_complete}/{summary.items} answers fully rated",
    ]
    if summary.stale_ratings:
        lines.append(
            f"  ({summary.stale_ratings} older rating(s) not counted: their answer or the rubric changed since)"
        )
    if any(summary.revoked):
        lines.append(
            f"  ({summary.revoked[0]} rating(s) and {summary.revoked[1]} A/B choice(s) of revoked reviewers "
            "not counted)"
        )
    for reviewer in summary.activity:
        reasons = flags(reviewer, thresholds)
        if reasons:
            lines.append(f"  flagged: {reviewer.name} {', '.join(reasons)}")
    lines += ["", f"{'criterion':<22} {'pass rate [95% Wilson, weighted]':<34} {'items':>5} {'kappa':>7} {'alpha':>7}"]
    for c in summary.criteria:
        name = c.name + ("" if c.gated else " (not gated)")
        lines.append(
            f"{name:<22} {c.rate.format():<34} {c.rate.n:>5} {_number(c.agreement.kappa):>7} "
            f"{_number(c.agreement.alpha):>7}"
        )
    for c in summary.criteria:
        if c.agreement.note:
            lines.append(f"  alpha of {c.name}: {c.agreement.note}")
    if summary.ab is not None:
        ab = summary.ab
        counts = ", ".join(f"{k} {v}" for k, v in ab.counts.items())
        lines += [
            "",
            f"A/B (blind): {ab.compared}/{ab.needed} disagreeing pairs compared, {ab.complete} fully; "
            f"{ab.identical} identical pairs count as ties",
            f"  choices: {counts}",
            f"  tuned win rate (ties as half, weighted): {ab.win_rate.format()}",
            f"  sign test over items: tuned better on {ab.test.wins}, base better on {ab.test.losses}; "
            f"p={ab.test.p_two_sided:.3g} two-sided, p={ab.test.p_worse:.3g} for 'tuned worse'",
            f"  agreement on the A/B verdict: kappa {_number(ab.agreement.kappa)}, alpha {_number(ab.agreement.alpha)}"
            + (f" ({ab.agreement.note})" if ab.agreement.note else ""),
            f"  blinding: {summary.blinding}",
        ]
    if judged is not None:
        lines += ["", *judge_lines(judged)]
    lines += ["", "gate:"] + [f"  {line}" for line in verdict.checks]
    lines.append("PASSED: the review allows promotion" if verdict.passed else "FAILED: the review blocks promotion")
    return lines


def report_dict(
    summary: ReviewSummary,
    verdict: ReviewVerdict,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
    judged: ReviewAgreement | None = None,
) -> dict[str, Any]:
    """The same report as JSON-safe data."""

    def rate(r: Any) -> dict[str, Any]:
        return {
            "value": None if math.isnan(r.value) else r.value,
            "ci": list(r.ci),
            "n": r.n,
            "n_effective": r.n_effective,
        }

    def agreement(a: Any) -> dict[str, Any]:
        nan_free = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in vars(a).items()}
        return nan_free

    data: dict[str, Any] = {
        "candidate": summary.meta.candidate,
        "base_model": summary.meta.base_model,
        "rubric_version": summary.meta.rubric.version,
        "items": summary.items,
        "rated_complete": summary.rated_complete,
        "min_reviews": summary.meta.min_reviews,
        "reviewers": list(summary.reviewers),
        "flagged": {r.name: flags(r, thresholds) for r in summary.activity if flags(r, thresholds)},
        "revoked_not_counted": {"ratings": summary.revoked[0], "comparisons": summary.revoked[1]},
        "criteria": {
            c.name: {"gated": c.gated, "pass_rate": rate(c.rate), "agreement": agreement(c.agreement)}
            for c in summary.criteria
        },
        "passed": verdict.passed,
        "failures": list(verdict.failures),
    }
    if summary.ab is not None:
        data["ab"] = {
            "counts": summary.ab.counts,
            "win_rate": rate(summary.ab.win_rate),
            "wins": summary.ab.test.wins,
            "losses": summary.ab.test.losses,
            "p_two_sided": summary.ab.test.p_two_sided,
            "p_worse": summary.ab.test.p_worse,
            "agreement": agreement(summary.ab.agreement),
            "blinding": summary.blinding,
        }
    if judged is not None:
        data["judge"] = judged.as_dict()
    return data
