"""`demo:judge`: a scripted judge, so the offline demo can run the judged suite (no demo model can judge).

It is a Model like any other: the harness's judge scores each allowed option after the judge prompt by
log-likelihood, and this model answers that scoring from transparent rules (harness.demo.judge_rules) applied
to the answer, task and reference it reads back from the prompt (harness.judge.prompts). The rule's grade gets
log-probability log(0.9), every other option an equal share of the rest. It is deterministic, and its
fingerprint is the hash of its rules and of the prompt layout, so a changed rule is never served from the cache.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from harness.errors import HarnessError
from harness.judge.prompts import (
    GRADE_CUE,
    PAIRWISE_CUE,
    PAIRWISE_OPTIONS,
    NotAJudgePrompt,
    parse_criterion_prompt,
    parse_pairwise_prompt,
)
from harness.models.base import DecodingSettings, Generation, Loglikelihood, RollingLoglikelihood

NAME = "demo:judge"
CONFIDENCE = 0.9  # probability the judge puts on the rule's grade


def _fingerprint() -> str:
    from harness.demo import judge_rules
    from harness.judge import prompts

    digest = hashlib.sha256()
    for module in (judge_rules, prompts):
        digest.update(Path(module.__file__).read_bytes())
    return f"demo-judge:{digest.hexdigest()[:16]}"


class DemoJudge:
    """The scripted judge (see the module docstring). It only answers judge prompts."""

    def __init__(self, role: str = "judge") -> None:
        self.role = role
        self.name = NAME
        self.fingerprint = _fingerprint()

    def choice(self, prompt: str) -> tuple[str, tuple[str, ...]]:
        """The rule's answer to one judge prompt, and the options it was chosen from."""
        return _choice(prompt)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        scores = []
        for prompt, continuation in requests:
            chosen, options = self.choice(prompt)
            if continuation.strip() not in options:
                raise HarnessError(
                    f"demo:judge was asked to score {continuation.strip()!r}, not one of the prompt's options "
                    f"({', '.join(options)})",
                    hint="demo:judge only answers the harness's judge prompts (harness.judge)",
                )
            share = CONFIDENCE if continuation.strip() == chosen else (1 - CONFIDENCE) / max(1, len(options) - 1)
            scores.append(Loglikelihood(math.log(share), continuation.strip() == chosen, 1))
        return scores

    def generate(self, prompts: Sequence[str], settings: DecodingSettings = DecodingSettings()) -> list[Generation]:
        return [Generation(" " + self.choice(prompt)[0], 1, 0.0) for prompt in prompts]

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[RollingLoglikelihood]:
        raise HarnessError(
            "demo:judge is a scripted judge: it has no language model to score a text's perplexity",
            hint="use demo:judge only as --judge-model",
        )


@lru_cache(maxsize=4096)
def _choice(prompt: str) -> tuple[str, tuple[str, ...]]:
    from harness.demo.judge_rules import Material, better, grade

    try:
        if prompt.endswith(PAIRWISE_CUE):
            pair = parse_pairwise_prompt(prompt)
            return better(pair.task, pair.reference, pair.first, pair.second), PAIRWISE_OPTIONS
        if prompt.endswith(GRADE_CUE):
            request = parse_criterion_prompt(prompt)
            material = Material(request.task, request.reference, request.answer)
            return grade(request.criterion, material, request.options), request.options
    except NotAJudgePrompt as exc:
        raise HarnessError(f"demo:judge: {exc}", hint="demo:judge only answers the harness's judge prompts") from None
    raise HarnessError(
        f"demo:judge: the prompt ends with {prompt[-30:]!r}, not with {GRADE_CUE!r} or {PAIRWISE_CUE!r}",
        hint="demo:judge only answers the harness's judge prompts (harness.judge)",
    )
