"""A model judge for open-ended answers, graded against the review rubric and calibrated by human ratings.

`Judge` asks a model one rubric criterion at a time (log-likelihood of each allowed grade for a local model
or a server that returns log-probabilities; a constrained choice for one that does not), and compares base
and tuned answers in both orders. `harness.judge.calibration` corrects judged pass rates with the human
review by prediction-powered inference and measures judge-human agreement.
"""

from __future__ import annotations

from harness.judge.grader import ERROR, Grade, Judge, Preference, SelfJudging, check_not_self
from harness.judge.prompts import criterion_prompt, pairwise_prompt

__all__ = [
    "ERROR",
    "Grade",
    "Judge",
    "Preference",
    "SelfJudging",
    "check_not_self",
    "criterion_prompt",
    "pairwise_prompt",
]
