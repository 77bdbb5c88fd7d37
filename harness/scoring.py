"""Ask a model about an eval set: multiple-choice picks, greedy answers, rolling log-likelihoods.

Scoring follows lm-evaluation-harness: a choice is scored by the summed log-probability of
" " + choice after the prompt (`acc`), or that sum divided by the choice's length in characters
(`acc_norm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.data import EvalSet
from harness.models.base import DecodingSettings, Generation, Model, RollingLoglikelihood

TARGET_DELIMITER = " "


@dataclass(frozen=True)
class Choices:
    """A model's picks on a multiple-choice eval set, in eval-set order."""

    ids: list[str]
    answers: list[str]
    picks: list[str]  # argmax of summed log-prob (lm-eval `acc`)
    picks_norm: list[str]  # argmax of log-prob per character (lm-eval `acc_norm`)
    logprobs: list[list[float]]


_choices_memo: dict[tuple[str, str, str, tuple[str, ...]], Choices] = {}


def multiple_choice(model: Model, eval_set: EvalSet) -> Choices:
    """Score every choice of every item in one batched pass and pick the most likely.

    Results are kept for the process, so several metrics over the same picks score the items once.
    """
    key = (model.role, model.fingerprint, eval_set.fingerprint, tuple(eval_set.ids))
    if key not in _choices_memo:
        _choices_memo[key] = _score_choices(model, eval_set)
    return _choices_memo[key]


def _score_choices(model: Model, eval_set: EvalSet) -> Choices:
    requests = [(row["prompt"], f"{TARGET_DELIMITER}{choice}") for row in eval_set for choice in row["choices"]]
    scores = iter(model.loglikelihood(requests))
    picks, picks_norm, all_logprobs = [], [], []
    for row in eval_set:
        choices = row["choices"]
        logprobs = np.array([next(scores).logprob for _ in choices])
        lengths = np.array([float(len(choice)) for choice in choices])
        picks.append(choices[int(np.argmax(logprobs))])
        picks_norm.append(choices[int(np.argmax(logprobs / lengths))])
        all_logprobs.append(logprobs.tolist())
    result = Choices(eval_set.ids, eval_set["answer"], picks, picks_norm, all_logprobs)
    _warn_if_far_below_chance(model, eval_set, result)
    return result


class LikelyLoadingProblem(UserWarning):
    """A model answers its own probes far worse than guessing: its weights are probably not what they should be."""


BELOW_CHANCE_P = 1e-3


def _warn_if_far_below_chance(model: Model, eval_set: EvalSet, choices: Choices) -> None:
    """Warn when accuracy is below the uniform-guess rate with one-sided binomial p < 0.001."""
    from scipy.stats import binomtest

    n = len(choices.ids)
    if n < 20:
        return
    chance = float(np.mean([1.0 / len(row["choices"]) for row in eval_set]))
    right = sum(pick == answer for pick, answer in zip(choices.picks, choices.answers, strict=True))
    if binomtest(right, n, chance, alternative="less").pvalue < BELOW_CHANCE_P:
        import warnings

        warnings.warn(
            LikelyLoadingProblem(
                f"{model.name} ({model.role}) picks {right}/{n} right on {eval_set.name}, far below the "
                f"{chance:.1%} of guessing: check that its weights loaded as intended"
            ),
            stacklevel=3,
        )


@dataclass(frozen=True)
class Answers:
    """A model's answers to a generation eval set, in eval-set order (the first sample when several)."""

    ids: list[str]
    references: list[str]
    generations: list[Generation]
    samples: tuple[list[Generation], ...] = ()  # with DecodingSettings(samples=K): K lists, each one per item

    @property
    def texts(self) -> list[str]:
        return [g.text.strip() for g in self.generations]

    def each_sample(self) -> list[Answers]:
        """One Answers per sample (a single one for greedy decoding), to score and then `metrics.sample_mean`."""
        return [Answers(self.ids, self.references, sample) for sample in self.samples] or [self]


def answers(model: Model, eval_set: EvalSet, settings: DecodingSettings) -> Answers:
    """Answers to each prompt (cut at the settings' stop strings); `settings.samples` of them when sampling.

    With K samples each prompt is asked K times in one call, so the draws are seeded and repeatable.
    """
    prompts = eval_set["prompt"]
    k = settings.samples
    generations = model.generate([p for p in prompts for _ in range(k)], settings)
    per_sample = tuple([generations[i * k + j] for i in range(len(prompts))] for j in range(k))
    return Answers(eval_set.ids, eval_set["reference"], per_sample[0], per_sample if k > 1 else ())


def rolling_loglikelihoods(model: Model, texts: Sequence[str]) -> list[RollingLoglikelihood]:
    """Whole-text log-likelihoods for perplexity (rolling windows past the context length)."""
    return model.loglikelihood_rolling(list(texts))
