"""The judge's prompts: one rubric criterion with its anchors, or one pairwise comparison, per request.

Every prompt ends with a line the allowed answer completes ("Grade:", "Better answer:"); the answer is one
of the options, scored as " " + option after the prompt, or asked for as a constrained choice. The section
markers are constants, and `parse_criterion_prompt` / `parse_pairwise_prompt` read a prompt back into its
parts (a scripted judge, harness.demo.judge, grades from them).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.review.rubric import Criterion, Rubric

PAIRWISE_OPTIONS = ("A", "B")
TASK_HEADER = "Task given to the model:"
REFERENCE_HEADER = "Reference answer:"
ANSWER_HEADER = "Answer to grade:"
CRITERION_PREFIX = "Criterion: "
QUESTION_PREFIX = "Question: "
OPTIONS_PREFIX = "Reply with one grade from: "
GRADE_CUE = "Grade:"
FIRST_HEADER, SECOND_HEADER = "Answer A:", "Answer B:"
QUESTIONS_HEADER = "Judge them by these questions:"
PAIRWISE_CUE = "Better answer:"


def _anchor_lines(criterion: Criterion) -> str:
    lines = []
    for option in criterion.options:
        anchor = criterion.anchors.get(option)
        lines.append(f"- {option}: {anchor}" if anchor else f"- {option}")
    return "\n".join(lines)


def _material(prompt: str, reference: str) -> str:
    text = f"{TASK_HEADER}\n{prompt.strip()}\n"
    if reference.strip():
        text += f"\n{REFERENCE_HEADER}\n{reference.strip()}\n"
    return text


def criterion_prompt(rubric: Rubric, criterion: Criterion, prompt: str, reference: str, answer: str) -> str:
    """The request to grade one answer on one criterion, with the rubric's instructions and anchor texts."""
    instructions = f"{rubric.instructions.strip()}\n\n" if rubric.instructions.strip() else ""
    return (
        f"You are grading a model's answer for the review {rubric.name!r}.\n{instructions}"
        f"{_material(prompt, reference)}\n"
        f"{ANSWER_HEADER}\n{answer.strip()}\n\n"
        f"{CRITERION_PREFIX}{criterion.name}\n"
        f"{QUESTION_PREFIX}{criterion.question or criterion.name}\n"
        f"Allowed grades, with what each means:\n{_anchor_lines(criterion)}\n\n"
        f"{OPTIONS_PREFIX}{', '.join(criterion.options)}.\n"
        f"{GRADE_CUE}"
    )


def pairwise_prompt(rubric: Rubric, prompt: str, reference: str, first: str, second: str) -> str:
    """The request to pick the better of two answers (shown as A and B) by the rubric's criteria as a whole."""
    questions = "\n".join(f"- {c.question or c.name}" for c in rubric.criteria)
    instructions = f"{rubric.instructions.strip()}\n\n" if rubric.instructions.strip() else ""
    return (
        f"You are comparing two answers for the review {rubric.name!r}.\n{instructions}"
        f"{_material(prompt, reference)}\n"
        f"{FIRST_HEADER}\n{first.strip()}\n\n"
        f"{SECOND_HEADER}\n{second.strip()}\n\n"
        f"{QUESTIONS_HEADER}\n{questions}\n\n"
        f"Reply with the letter of the better answer: {' or '.join(PAIRWISE_OPTIONS)}.\n"
        f"{PAIRWISE_CUE}"
    )


@dataclass(frozen=True)
class CriterionRequest:
    """What a criterion prompt asks: grade `answer` on `criterion`, one of `options`."""

    criterion: str
    options: tuple[str, ...]
    task: str
    reference: str
    answer: str


@dataclass(frozen=True)
class PairwiseRequest:
    """What a pairwise prompt asks: which of `first` (A) and `second` (B) is better."""

    task: str
    reference: str
    first: str
    second: str


class NotAJudgePrompt(HarnessError):
    """A text that is not laid out as criterion_prompt or pairwise_prompt writes it."""


def _section(text: str, header: str, end: str) -> str:
    """The text between `header` (which `text` starts with) and the last `end` (the unstripped part in between)."""
    stop = text.rfind(end)
    if not text.startswith(header) or stop < len(header):
        raise NotAJudgePrompt(f"not a judge prompt: no {header.strip()!r} ... {end.strip()!r} section")
    return text[len(header) : stop]


def _read_material(text: str, next_header: str) -> tuple[str, str, int]:
    """Task and reference (eval-set text, read up to the first following marker) and where they end."""
    task_start = text.find(f"\n{TASK_HEADER}\n")
    if task_start < 0:
        raise NotAJudgePrompt(f"not a judge prompt: no {TASK_HEADER!r} section")
    after_task = task_start + len(TASK_HEADER) + 2
    reference_at = text.find(f"\n\n{REFERENCE_HEADER}\n", after_task)
    next_at = text.find(f"\n\n{next_header}\n", after_task)
    if next_at < 0:
        raise NotAJudgePrompt(f"not a judge prompt: no {next_header!r} section")
    if 0 <= reference_at < next_at:
        task = text[after_task:reference_at]
        reference = text[reference_at + len(REFERENCE_HEADER) + 3 : next_at]
    else:
        task, reference = text[after_task:next_at], ""
    return task.strip(), reference.strip(), next_at


def parse_criterion_prompt(text: str) -> CriterionRequest:
    """The parts of a criterion_prompt text.

    The answer (model output, the one untrusted part) runs from the first answer marker after the task to the
    last criterion marker, so markers inside an answer do not move the other parts.
    """
    if not text.endswith(GRADE_CUE):
        raise NotAJudgePrompt(f"not a criterion prompt: it does not end with {GRADE_CUE!r}")
    task, reference, answer_at = _read_material(text, ANSWER_HEADER)
    rest = text[answer_at:]
    answer = _section(rest, f"\n\n{ANSWER_HEADER}\n", f"\n\n{CRITERION_PREFIX}")
    tail = rest[rest.rfind(f"\n\n{CRITERION_PREFIX}") + 2 + len(CRITERION_PREFIX) :]
    criterion = tail.split("\n", 1)[0].strip()
    options_at = tail.rfind(f"\n{OPTIONS_PREFIX}")
    options_line = tail[options_at + 1 + len(OPTIONS_PREFIX) :].split("\n", 1)[0]
    if options_at < 0 or not options_line.endswith("."):
        raise NotAJudgePrompt(f"not a criterion prompt: no {OPTIONS_PREFIX.strip()!r} line")
    options = tuple(option.strip() for option in options_line[:-1].split(", "))
    return CriterionRequest(criterion, options, task, reference, answer.strip())


def parse_pairwise_prompt(text: str) -> PairwiseRequest:
    """The parts of a pairwise_prompt text.

    Answer B runs to the last questions marker. Answer A ends at the first answer-B marker after it: an answer
    A that itself holds a blank line followed by that marker is split there.
    """
    if not text.endswith(PAIRWISE_CUE):
        raise NotAJudgePrompt(f"not a pairwise prompt: it does not end with {PAIRWISE_CUE!r}")
    task, reference, first_at = _read_material(text, FIRST_HEADER)
    both = _section(text[first_at:], f"\n\n{FIRST_HEADER}\n", f"\n\n{QUESTIONS_HEADER}\n")
    first, marker, second = both.partition(f"\n\n{SECOND_HEADER}\n")
    if not marker:
        raise NotAJudgePrompt(f"not a pairwise prompt: no {SECOND_HEADER!r} section")
    return PairwiseRequest(task, reference, first.strip(), second.strip())
