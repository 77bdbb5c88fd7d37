"""How a judge agrees with the human review: it grades the reviewed answers, compared rating by rating.

`harness review report --judge-model SPEC` uses this: the judge grades every sampled answer that has a
rating that counts, on each gated criterion of the review's own rubric, and each rating becomes one
(judge grade, reviewer grade) pair for harness.judge.calibration.agreement (Cohen's kappa and the pass/fail
confusion matrix).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.judge.calibration import Agreement, agreement
from harness.judge.grader import Judge
from harness.review.store import Rating, StoredItem


@dataclass
class ReviewAgreement:
    """The judge against the reviewers, per gated criterion."""

    judge: str
    fingerprint: str
    method: str
    answers: int  # reviewed answers the judge graded
    criteria: dict[str, Agreement] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # criterion -> answers the judge gave no grade for

    def as_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "fingerprint": self.fingerprint,
            "method": self.method,
            "answers": self.answers,
            "errors": dict(self.errors),
            "criteria": {name: agreed.as_dict() for name, agreed in self.criteria.items()},
        }


def judge_review(judge: Judge, items: Sequence[StoredItem], ratings: Sequence[Rating]) -> ReviewAgreement:
    """Grade the rated answers of `items` and compare with `ratings` (ratings of the tuned answers as they are)."""
    by_answer: dict[tuple[str, str, str], list[dict[str, str]]] = defaultdict(list)
    for rating in ratings:
        by_answer[(rating.eval_set, rating.item_id, rating.output_hash)].append(rating.scores)
    rated = [item for item in items if (item.eval_set, item.item_id, item.tuned_hash) in by_answer]
    out = ReviewAgreement(judge.name, judge.fingerprint, judge.method, len(rated))
    prompts = [item.prompt for item in rated]
    references = [item.reference for item in rated]
    answers = [item.tuned_output for item in rated]
    for criterion in judge.rubric.criteria:
        if not criterion.gated:
            continue
        grades = judge.grade(criterion, prompts, references, answers)
        pairs = [
            (grade.label, scores[criterion.name])
            for item, grade in zip(rated, grades, strict=True)
            if grade.ok
            for scores in by_answer[(item.eval_set, item.item_id, item.tuned_hash)]
            if criterion.name in scores
        ]
        out.errors[criterion.name] = sum(not grade.ok for grade in grades)
        out.criteria[criterion.name] = agreement(criterion, pairs)
    return out
