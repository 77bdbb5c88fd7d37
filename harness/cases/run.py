"""Run one case on one model: ask it (greedy, memoised by the backend), then apply the case's kind.

MFT: every expectation holds on the input (and on each perturbed variant, when it has any).
INV: each variant gets the same answer as the input (the pick, or the normalised output).
DIR: each variant moves the output the stated way (a label to/away from X, a log-prob, the length).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from harness.cases.spec import Case, Direction
from harness.errors import HarnessError
from harness.expectations import Observation, normalise
from harness.models.base import DecodingSettings, Model


@dataclass(frozen=True)
class Trial:
    """One input the model was asked about, and what it did."""

    name: str  # "input", or the variant's name ("typos", "perturbed #2")
    input: str
    prompt: str
    observation: Observation


@dataclass(frozen=True)
class CaseResult:
    """Whether a case passed on a model, why not (one line), and the trials to show in a report."""

    passed: bool
    detail: str = ""
    failed_check: str = ""
    shown: tuple[Trial, ...] = ()


def observe(model: Model, case: Case, inputs: Sequence[str]) -> list[Observation]:
    """Ask the model about each input: greedy text when the case reads it, log-likelihoods of its choices."""
    prompts = [case.prompt(text) for text in inputs]
    texts: list[tuple[str, int]] = [("", 0)] * len(prompts)
    if case.needs_text:
        settings = DecodingSettings(max_new_tokens=case.max_new_tokens, stop=case.stop)
        texts = [(g.text, g.n_tokens) for g in model.generate(prompts, settings)]
    scores: list[dict[str, float]] = [{} for _ in prompts]
    if case.scored:
        from harness.scoring import TARGET_DELIMITER

        requests = [(prompt, TARGET_DELIMITER + c) for prompt in prompts for c in case.scored]
        results = iter(model.loglikelihood(requests))
        scores = [{c: next(results).logprob for c in case.scored} for _ in prompts]
    observations = []
    for (text, n_tokens), logprobs in zip(texts, scores, strict=True):
        pick = max(case.choices, key=lambda c: logprobs[c]) if case.choices else None
        observations.append(Observation(text, n_tokens, pick, logprobs))
    return observations


def run_case(case: Case, model: Model) -> CaseResult:
    """Run `case` on `model`. A model that raises on an input fails the case (a crash is a finding)."""
    inputs = [case.input] + [v.input for v in case.variants]
    try:
        observations = observe(model, case, inputs)
    except HarnessError:
        raise
    except Exception as exc:  # the model broke on this input: that is the case's result, not a harness error
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return CaseResult(False, f"the model raised {type(exc).__name__}: {message}", "model call")
    names = ["input"] + [v.name for v in case.variants]
    trials = [Trial(n, i, case.prompt(i), o) for n, i, o in zip(names, inputs, observations, strict=True)]
    original, variants = trials[0], trials[1:]
    for trial in [original] + (variants if case.kind == "MFT" else []):
        for check in case.checks:
            reason = check(trial.observation)
            if reason is not None:
                where = "" if trial is original else f" on {trial.name}"
                return CaseResult(False, f"{check.name}{where}: {reason}", check.name, (trial,))
    if case.kind == "INV":
        return _invariance(case, original, variants)
    if case.kind == "DIR" and case.direction is not None:
        return _direction(case.direction, original, variants)
    return CaseResult(True, shown=(original,))


def answer_key(case: Case, observation: Observation) -> str:
    """What INV compares: the pick, or the first line / whole output, normalised."""
    if observation.pick is not None:
        return observation.pick
    text = observation.text
    if case.compare == "first_line":
        text = next((line for line in text.splitlines() if line.strip()), "")
    return normalise(text)


def _invariance(case: Case, original: Trial, variants: list[Trial]) -> CaseResult:
    expected = answer_key(case, original.observation)
    changed = [t for t in variants if answer_key(case, t.observation) != expected]
    if not changed:
        return CaseResult(True, shown=(original,))
    first = changed[0]
    got = answer_key(case, first.observation)
    detail = (
        f"INV: answer changed under {first.name} ({len(changed)} of {len(variants)} variants): {expected!r} -> {got!r}"
    )
    return CaseResult(False, detail, "invariance", (original, first))


def _label(observation: Observation) -> str:
    return normalise(observation.answer) if observation.pick is None else observation.pick


def direction_problem(direction: Direction, before: Observation, after: Observation) -> str | None:
    """Why the change from `before` to `after` does not go the stated way, or None when it does."""
    target = direction.target
    if direction.rule in ("label_becomes", "label_leaves", "label_changes"):
        old, new = _label(before), _label(after)
        wanted = normalise(target) if before.pick is None else target
        if direction.rule == "label_changes":
            return None if new != old else f"label stayed {old!r}"
        if direction.rule == "label_becomes":
            if old == wanted:
                return f"label was already {old!r} before the change"
            return None if new == wanted else f"label went {old!r} -> {new!r}, not to {target!r}"
        if old != wanted:
            return f"label was {old!r} before the change, not {target!r}"
        return None if new != wanted else f"label stayed {target!r}"
    if direction.rule in ("logprob_up", "logprob_down"):
        old_lp, new_lp = before.logprobs[target], after.logprobs[target]
        sign = 1 if direction.rule == "logprob_up" else -1
        if sign * (new_lp - old_lp) > direction.margin:
            return None
        word = "up" if sign > 0 else "down"
        return f"log P({target!r}) went {old_lp:.3f} -> {new_lp:.3f}, not {word} by more than {direction.margin:g}"
    sign = 1 if target == "up" else -1
    if sign * (after.n_tokens - before.n_tokens) > direction.margin:
        return None
    return f"length went {before.n_tokens} -> {after.n_tokens} tokens, not {target}"


def _direction(direction: Direction, original: Trial, variants: list[Trial]) -> CaseResult:
    for trial in variants:
        problem = direction_problem(direction, original.observation, trial.observation)
        if problem is not None:
            return CaseResult(False, f"DIR under {trial.name}: {problem}", "direction", (original, trial))
    return CaseResult(True, shown=(original,))


_ONE_LINE = re.compile(r"\s+")


def one_line(text: str, limit: int = 160) -> str:
    """A text on one line, shortened in the middle past `limit` characters, for reports."""
    flat = _ONE_LINE.sub(" ", text).strip()
    return flat if len(flat) <= limit else f"{flat[: limit // 2 - 2]} ... {flat[-(limit // 2 - 3) :]}"
