"""A failing case as one readable block: the case, what the model was asked, what it said, what failed."""

from __future__ import annotations

from harness.cases.run import CaseResult, Trial, one_line
from harness.cases.spec import Case


def _shown(text: str) -> str:
    flat = one_line(text)
    note = f"  ({len(text)} characters)" if len(text) > 160 else ""
    return f"{flat!r}{note}"


def _trial_lines(case: Case, trial: Trial) -> list[str]:
    label = "input" if trial.name == "input" else f"input ({trial.name})"
    lines = [f"  {label + ':':<22}{_shown(trial.input)}"]
    if case.template != "{input}":
        lines.append(f"  {'prompt:':<22}{_shown(trial.prompt)}")
    observation = trial.observation
    if case.needs_text:
        lines.append(f"  {'output:':<22}{_shown(observation.text)}  [{observation.n_tokens} tokens]")
    if observation.pick is not None:
        scores = ", ".join(f"{c} {observation.logprobs[c]:.2f}" for c in case.choices)
        lines.append(f"  {'pick:':<22}{observation.pick!r}  (log P: {scores})")
    return lines


def failure_block(case: Case, role: str, result: CaseResult, where: str) -> str:
    """The report of a failed case: no traceback, just the case, the exchange and the failed expectation."""
    lines = [
        f"case {case.id} [{role}] failed  ({where}:{case.line})",
        f"  {'kind / category:':<22}{case.kind} / {case.category}",
    ]
    for trial in result.shown:
        lines.extend(_trial_lines(case, trial))
    if not result.shown:
        lines.append(f"  {'input:':<22}{_shown(case.input)}")
    lines.append(f"  {'failed:':<22}{result.detail}")
    return "\n".join(lines)
