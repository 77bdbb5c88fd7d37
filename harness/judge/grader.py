"""The judge: grades answers one rubric criterion per request, and compares two answers in both orders.

A model that scores continuations (a local model, or a server returning prompt log-probabilities) picks the
allowed option with the highest log-likelihood after the prompt, so every grade is one of the options. A
server without log-probabilities is asked for a constrained choice (harness.judge.constrained); an answer
that is not one of the options is an ERROR, never a grade. Every request goes through the response cache,
keyed by the judge's fingerprint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.judge.prompts import PAIRWISE_OPTIONS, criterion_prompt, pairwise_prompt
from harness.models.base import Model
from harness.review.rubric import Criterion, Rubric

ERROR = "ERROR"
LOGLIKELIHOOD, CONSTRAINED = "log-likelihood of each option", "constrained choice"
TARGET_DELIMITER = " "


class SelfJudging(HarnessError):
    """The judge is one of the models it would grade."""


@dataclass(frozen=True)
class Grade:
    """One judge answer: an allowed option, or an ERROR with the reason (never counted as a grade)."""

    option: str | None
    error: str = ""
    logprobs: tuple[float, ...] = ()  # one per option, when chosen by log-likelihood

    @property
    def ok(self) -> bool:
        return self.option is not None

    @property
    def label(self) -> str:
        return self.option if self.option is not None else ERROR


@dataclass(frozen=True)
class Preference:
    """The judge's pick of one item's two answers, asked with base shown first and with tuned shown first."""

    base_first: Grade  # "A" = base better, "B" = tuned better
    tuned_first: Grade  # "A" = tuned better, "B" = base better

    @property
    def ok(self) -> bool:
        return self.base_first.ok and self.tuned_first.ok

    @property
    def winner(self) -> str | None:
        """ "tuned" or "base" when both orders agree; None when they disagree (position won) or one erred."""
        if not self.ok:
            return None
        if self.base_first.option == "B" and self.tuned_first.option == "A":
            return "tuned"
        if self.base_first.option == "A" and self.tuned_first.option == "B":
            return "base"
        return None

    @property
    def first_picks(self) -> int:
        """How many of the two orders picked the answer shown first (position bias: 1 of 2 expected)."""
        return int(self.base_first.option == "A") + int(self.tuned_first.option == "A")


def check_not_self(judge: Model, evaluated: Mapping[str, Model], *, allow_self_judge: bool) -> list[str]:
    """Refuse a judge with the weights of a model it grades, unless allowed; notes for the report when allowed."""
    same = [role for role, model in evaluated.items() if model.fingerprint == judge.fingerprint]
    if not same:
        return []
    roles = " and ".join(same)
    if not allow_self_judge:
        raise SelfJudging(
            f"--judge-model {judge.name} is the {roles} model under evaluation (same fingerprint "
            f"{judge.fingerprint[:12]}); a model grading its own answers favours them",
            hint="judge with another model, or pass --allow-self-judge to accept that bias (the report says so)",
        )
    return [f"judge {judge.name} is the {roles} model under evaluation (--allow-self-judge): expect it to favour it"]


def judging_method(model: Model) -> str:
    """LOGLIKELIHOOD for a local model or a server that returns prompt log-probabilities, else CONSTRAINED."""
    capabilities = getattr(getattr(model, "inner", model), "capabilities", None)
    if capabilities is None:
        return LOGLIKELIHOOD
    from harness.models.capabilities import PROMPT_LOGPROBS, TOP_LOGPROBS, MissingCapability

    try:
        capabilities.require(PROMPT_LOGPROBS, TOP_LOGPROBS)  # what the backend's loglikelihood asks for
    except MissingCapability:
        return CONSTRAINED
    return LOGLIKELIHOOD


class Judge:
    """A model that grades answers against a rubric. `cache` (a ResponseCache) keeps its answers."""

    def __init__(self, model: Model, rubric: Rubric, *, cache: Any = None) -> None:
        self.rubric = rubric
        self.raw = getattr(model, "inner", model)
        self.name = model.name
        self.fingerprint = model.fingerprint
        self.method = judging_method(self.raw)
        self.cache = cache
        if self.method == LOGLIKELIHOOD and cache is not None and not hasattr(model, "inner"):
            from harness.models.cache import CachedModel

            model = CachedModel(model, cache)
        self.model = model

    def choose(self, prompts: Sequence[str], options: Sequence[str]) -> list[Grade]:
        """One allowed option per prompt (or an ERROR)."""
        if not prompts:
            return []
        options = tuple(options)
        if self.method == CONSTRAINED:
            from harness.judge.constrained import ask_choices

            return ask_choices(self.raw, prompts, options, self.cache)
        requests = [(prompt, TARGET_DELIMITER + option) for prompt in prompts for option in options]
        scores = iter(self.model.loglikelihood(requests))
        grades = []
        for _ in prompts:
            logprobs = tuple(float(next(scores).logprob) for _ in options)
            if not all(math.isfinite(lp) for lp in logprobs):
                grades.append(Grade(None, "a non-finite log-likelihood", logprobs))
                continue
            best = max(range(len(options)), key=lambda i: (logprobs[i], -i))
            grades.append(Grade(options[best], "", logprobs))
        return grades

    def grade(
        self, criterion: Criterion, prompts: Sequence[str], references: Sequence[str], answers: Sequence[str]
    ) -> list[Grade]:
        """Each answer's grade on one criterion."""
        requests = [
            criterion_prompt(self.rubric, criterion, prompt, reference, answer)
            for prompt, reference, answer in zip(prompts, references, answers, strict=True)
        ]
        return self.choose(requests, criterion.options)

    def compare(
        self, prompts: Sequence[str], references: Sequence[str], base: Sequence[str], tuned: Sequence[str]
    ) -> list[Preference]:
        """Each item's pairwise preference, asked in both orders."""
        rows = list(zip(prompts, references, base, tuned, strict=True))
        base_first = [pairwise_prompt(self.rubric, p, r, b, t) for p, r, b, t in rows]
        tuned_first = [pairwise_prompt(self.rubric, p, r, t, b) for p, r, b, t in rows]
        picks = self.choose(base_first + tuned_first, PAIRWISE_OPTIONS)
        return [Preference(picks[i], picks[len(rows) + i]) for i in range(len(rows))]
