"""Judge a run's base and tuned answers and turn the grades into gateable metrics.

Per gated rubric criterion: the judged pass rate of each model (`judged_pass_<criterion>`), on the items
both answers were graded (an ERROR on either side drops the item from that criterion, and is counted). When
reviewers rated answers of both models, the per-item scores are PPI pseudo-outcomes, so the gate's paired
test compares calibrated pass rates; when they rated only the tuned answers, the tuned model's calibrated
and human-only rates are reported next to the judge's (`..._ppi`, `..._human`), and the judge gates on its
own only if it agrees with the reviewers (kappa >= --judge-min-kappa). The pairwise win rate counts only
items where both orders agree; how often the judge picks the answer shown first is its position bias.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.judge.calibration import (
    CALIBRATED,
    HUMAN_ONLY,
    JUDGE_ONLY,
    MIN_KAPPA,
    WINNER_SCORE,
    Agreement,
    Estimate,
    HumanLabels,
    agreement,
    human_mean,
    judge_mean,
    ppi_mean,
    pseudo_outcomes,
)
from harness.judge.grader import Grade, Judge, Preference
from harness.metrics.items import mean_result, pass_rate
from harness.metrics.result import MetricResult
from harness.records import BASE, TUNED
from harness.review.rubric import Criterion

MIN_REVIEWED = 2  # reviewed answers needed before a calibrated estimate is formed
CONFIDENCE_ALPHA = 0.05  # 95% intervals, as every metric's


@dataclass(frozen=True)
class RunAnswers:
    """One eval set's items with both models' answers, in eval-set order."""

    eval_set: str
    ids: list[str]
    prompts: list[str]
    references: list[str]
    base: list[str]
    tuned: list[str]

    def __post_init__(self) -> None:
        sizes = {len(self.ids), len(self.prompts), len(self.references), len(self.base), len(self.tuned)}
        if len(sizes) != 1:
            raise HarnessError(f"{self.eval_set}: ids, prompts, references and answers differ in length")

    def texts(self, role: str) -> list[str]:
        return self.base if role == BASE else self.tuned


@dataclass(frozen=True)
class Gated:
    """A metric to record for one role, with its gate rules (empty: reported only)."""

    role: str
    result: MetricResult
    rules: dict[str, Any] = field(default_factory=dict)


@dataclass
class Assessment:
    """Everything the judge said about a run: metrics to record, agreement with reviewers, and notes."""

    metrics: list[Gated] = field(default_factory=list)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def named(self, name: str, role: str = TUNED) -> Gated:
        for gated in self.metrics:
            if gated.result.name == name and gated.role == role:
                return gated
        raise KeyError((name, role))


def _human_pass(criterion: Criterion, ratings: Sequence[dict[str, str]]) -> float:
    """Share of reviewers who passed the answer on this criterion (NaN when none rated it)."""
    votes = [criterion.passes(scores[criterion.name]) for scores in ratings if criterion.name in scores]
    return float(np.mean(votes)) if votes else float("nan")


def _error_note(grades: dict[str, list[Grade]]) -> dict[str, Any]:
    errors = {role: [g.error for g in grades[role] if not g.ok] for role in (BASE, TUNED)}
    first = next((e for role in (BASE, TUNED) for e in errors[role]), "")
    return {"base": len(errors[BASE]), "tuned": len(errors[TUNED]), "first": first}


def _with(result: MetricResult, **details: Any) -> MetricResult:
    return dataclasses.replace(result, details={**result.details, **details})


@dataclass(frozen=True)
class Calibrated:
    """A calibrated (PPI) metric of one role, and the estimates it is shown next to."""

    result: MetricResult
    ppi: Estimate
    judge: Estimate
    human: Estimate


def calibrate(
    name: str, ids: Sequence[str], judged: Sequence[float], human: np.ndarray, weights: np.ndarray
) -> Calibrated:
    """The PPI metric from judge scores on all items and human scores (NaN = not reviewed) with sampling weights.

    Its per-item scores are the pseudo-outcomes (their mean is the PPI estimate); its interval is ppi_python's.
    """
    labelled = ~np.isnan(human)
    f = np.asarray(judged, dtype=np.float64)
    ppi = ppi_mean(human[labelled], f[labelled], f, CONFIDENCE_ALPHA, weights=weights[labelled])
    scores = pseudo_outcomes(f, human, weights)
    result = dataclasses.replace(mean_result(name, ids, scores, value=ppi.value), ci=ppi.ci)
    own = human_mean(human[labelled], CONFIDENCE_ALPHA, weights=weights[labelled])
    return Calibrated(result, ppi, judge_mean(f, CONFIDENCE_ALPHA), own)


def assess_criterion(
    criterion: Criterion,
    run: RunAnswers,
    grades: dict[str, list[Grade]],
    labels: HumanLabels | None,
    *,
    judge_name: str,
    max_drop: float,
    alpha: float,
    min_kappa: float = MIN_KAPPA,
) -> Assessment:
    """The judged pass-rate metrics of one criterion (grades: role -> one Grade per item)."""
    name = f"judged_pass_{criterion.name}"
    keep = [i for i in range(len(run.ids)) if grades[BASE][i].ok and grades[TUNED][i].ok]
    errors = _error_note(grades)
    if not keep:
        raise HarnessError(
            f"the judge gave no usable {criterion.name!r} grade for any item of {run.eval_set} "
            f"({errors['base']} base and {errors['tuned']} tuned answers were ERROR; first: {errors['first']})",
            hint="check the judge model (--judge-model): a server should support constrained output or log-probs",
        )
    ids = [run.ids[i] for i in keep]
    out = Assessment()
    judged = {role: [float(criterion.passes(grades[role][i].label)) for i in keep] for role in (BASE, TUNED)}
    human = {role: np.full(len(keep), np.nan) for role in (BASE, TUNED)}
    weights = np.array([labels.weight(run.eval_set, run.ids[i]) if labels else 1.0 for i in keep])
    pairs: list[tuple[str, str]] = []
    for role in (BASE, TUNED):
        for k, i in enumerate(keep):
            # A review of the tuned answers is no sample of the base answers: a base answer equal to the tuned
            # one is not counted as reviewed.
            if labels is None or (role == BASE and run.base[i] == run.tuned[i]):
                continue
            ratings = labels.scores_for(run.eval_set, run.ids[i], run.prompts[i], run.texts(role)[i])
            human[role][k] = _human_pass(criterion, ratings)
            pairs += [(grades[role][i].label, s[criterion.name]) for s in ratings if criterion.name in s]
    reviewed = {role: int(np.sum(~np.isnan(human[role]))) for role in (BASE, TUNED)}
    common = {"judge": judge_name, "errors": errors, "items_dropped_for_errors": len(run.ids) - len(keep)}
    agreed = agreement(criterion, pairs) if pairs else None
    if agreed is not None:
        out.agreements[criterion.name] = agreed
        common["agreement"] = agreed.as_dict()
    rules = {"max_drop_vs_base": max_drop, "alpha": alpha}
    if min(reviewed.values()) >= MIN_REVIEWED:
        for role in (BASE, TUNED):
            done = calibrate(name, ids, judged[role], human[role], weights)
            estimates = [done.ppi.as_dict(), done.judge.as_dict(), done.human.as_dict()]
            result = _with(done.result, **common, estimate=CALIBRATED, estimates=estimates)
            out.metrics.append(Gated(role, result, rules))
        out.notes.append(
            f"{name}: gated on the calibrated (PPI) pass rates ({reviewed[BASE]} base and {reviewed[TUNED]} tuned "
            "answers reviewed)"
        )
        return out
    gate_alone = agreed is None or agreed.allows_gating(min_kappa)
    why = "uncalibrated: no reviewed answers" if agreed is None else f"kappa {agreed.kappa:.2f} with reviewers"
    for role in (BASE, TUNED):
        result = _with(pass_rate(judged[role], ids, name=name), **common, estimate=f"{JUDGE_ONLY} ({why})")
        out.metrics.append(Gated(role, result, rules if gate_alone else {}))
    if agreed is not None and not gate_alone:
        out.notes.append(
            f"{name}: reported, not gated: the judge agrees with reviewers at kappa {agreed.kappa:.2f} "
            f"< {min_kappa:g} (or undefined), too little to gate on its own"
        )
    if reviewed[TUNED] >= MIN_REVIEWED:
        done = calibrate(f"{name}_ppi", ids, judged[TUNED], human[TUNED], weights)
        out.metrics.append(Gated(TUNED, _with(done.result, **common, estimate=CALIBRATED)))
        labelled = ~np.isnan(human[TUNED])
        own = mean_result(
            f"{name}_human", [i for i, lab in zip(ids, labelled, strict=True) if lab], human[TUNED][labelled]
        )
        own = dataclasses.replace(own, value=done.human.value, ci=done.human.ci, details={"estimate": HUMAN_ONLY})
        out.metrics.append(Gated(TUNED, own))
        out.notes.append(
            f"{name}: only tuned answers were reviewed ({reviewed[TUNED]}); the drop vs base is judged "
            f"{'by the judge alone' if gate_alone else 'by nobody'}; review base answers too to calibrate it"
        )
    return out


def position_bias(preferences: Sequence[Preference]) -> dict[str, Any]:
    """How often the judge picked the answer shown first, over both orders, with a two-sided binomial p-value."""
    from scipy.stats import binomtest

    valid = [p for p in preferences if p.ok]
    asked = 2 * len(valid)
    first = sum(p.first_picks for p in valid)
    p_value = float(binomtest(first, asked, 0.5).pvalue) if asked else 1.0
    return {"first_position_share": first / asked if asked else float("nan"), "asked": asked, "p_value": p_value}


def assess_pairwise(
    run: RunAnswers,
    preferences: Sequence[Preference],
    labels: HumanLabels | None,
    *,
    judge_name: str,
    min_win_rate: float | None,
) -> Assessment:
    """The judged win rate of tuned over base (consistent items only) and, with A/B reviews, its calibration."""
    out = Assessment()
    winners = [p.winner for p in preferences]
    consistent = [i for i, w in enumerate(winners) if w is not None]
    bias = position_bias(preferences)
    details = {
        "judge": judge_name,
        "consistent": len(consistent),
        "inconsistent": sum(1 for p in preferences if p.ok and p.winner is None),
        "errors": sum(1 for p in preferences if not p.ok),
        "position_bias": bias,
    }
    out.notes.append(
        f"judged_win_rate: {len(consistent)} of {len(preferences)} items judged the same in both orders; the judge "
        f"picked the answer shown first {bias['first_position_share']:.0%} of the time (p={bias['p_value']:.2g})"
    )
    if not consistent:
        out.notes.append("judged_win_rate: no item was judged the same in both orders; no win rate")
        return out
    ids = [run.ids[i] for i in consistent]
    result = pass_rate([winners[i] == TUNED for i in consistent], ids, name="judged_win_rate")
    # Calibrated against reviewers' A/B choices, which the review asks only where the answers differ: the score
    # is tuned's preference on those items, ties (orders disagree) counting half, as a reviewer's tie does.
    from harness.metrics.answers import normalize_answer

    differ = [
        i for i, p in enumerate(preferences) if p.ok and normalize_answer(run.base[i]) != normalize_answer(run.tuned[i])
    ]
    scores = [WINNER_SCORE[winners[i]] if winners[i] else 0.5 for i in differ]
    human = np.full(len(differ), np.nan)
    if labels:
        for k, i in enumerate(differ):
            said = labels.winners_for(run.eval_set, run.ids[i], run.prompts[i], run.tuned[i], run.base[i])
            if said:
                human[k] = float(np.mean([WINNER_SCORE[w] for w in said]))
    weights = np.array([labels.weight(run.eval_set, run.ids[i]) if labels else 1.0 for i in differ])
    rule = {"floor_lower_bound": min_win_rate} if min_win_rate is not None else {}
    judged_only = _with(result, **details, estimate=JUDGE_ONLY)
    reviewed = int(np.sum(~np.isnan(human)))
    if reviewed < MIN_REVIEWED:
        out.metrics.append(Gated(TUNED, judged_only, rule))
        return out
    done = calibrate("judged_preference_ppi", [run.ids[i] for i in differ], scores, human, weights)
    estimates = [done.ppi.as_dict(), done.judge.as_dict(), done.human.as_dict()]
    calibrated = _with(done.result, **details, estimate=CALIBRATED, estimates=estimates)
    out.metrics += [Gated(TUNED, judged_only), Gated(TUNED, calibrated, rule)]
    out.notes.append(
        f"judged_preference_ppi: tuned's preference where the answers differ, calibrated by {reviewed} reviewed "
        "A/B choices; it is the gated one"
    )
    return out


def assess_run(
    judge: Judge,
    run: RunAnswers,
    labels: HumanLabels | None,
    *,
    max_drop: float = 0.05,
    alpha: float = 0.05,
    min_kappa: float = MIN_KAPPA,
    min_win_rate: float | None = None,
) -> Assessment:
    """Grade both models' answers on every gated criterion, compare them pairwise, and build the metrics."""
    total = Assessment()
    if not labels:
        total.notes.append("judged pass rates are the judge's alone (uncalibrated): no reviewer rated these answers")
    for criterion in judge.rubric.criteria:
        if not criterion.gated:
            continue
        grades = {role: judge.grade(criterion, run.prompts, run.references, run.texts(role)) for role in (BASE, TUNED)}
        part = assess_criterion(
            criterion, run, grades, labels, judge_name=judge.name, max_drop=max_drop, alpha=alpha, min_kappa=min_kappa
        )
        total.metrics += part.metrics
        total.agreements.update(part.agreements)
        total.notes += part.notes
    preferences = judge.compare(run.prompts, run.references, run.base, run.tuned)
    part = assess_pairwise(run, preferences, labels, judge_name=judge.name, min_win_rate=min_win_rate)
    total.metrics += part.metrics
    total.notes += part.notes
    return total
