"""The judge's prompts: one rubric criterion with its anchors, or one pairwise comparison, per request.

Every prompt ends with a line the allowed answer completes ("Grade:", "Better answer:"); the answer is one
of the options, scored as " " + option after the prompt, or asked for as a constrained choice.
"""

from __future__ import annotations

from harness.review.rubric import Criterion, Rubric

PAIRWISE_OPTIONS = ("A", "B")


def _anchor_lines(criterion: Criterion) -> str:
    lines = []
    for option in criterion.options:
        anchor = criterion.anchors.get(option)
        lines.append(f"- {option}: {anchor}" if anchor else f"- {option}")
    return "\n".join(lines)


def _material(prompt: str, reference: str) -> str:
    text = f"Task given to the model:\n{prompt.strip()}\n"
    if reference.strip():
        text += f"\nReference answer:\n{reference.strip()}\n"
    return text


def criterion_prompt(rubric: Rubric, criterion: Criterion, prompt: str, reference: str, answer: str) -> str:
    """The request to grade one answer on one criterion, with the rubric's instructions and anchor texts."""
    instructions = f"{rubric.instructions.strip()}\n\n" if rubric.instructions.strip() else ""
    return (
        f"You are grading a model's answer for the review {rubric.name!r}.\n{instructions}"
        f"{_material(prompt, reference)}\n"
        f"Answer to grade:\n{answer.strip()}\n\n"
        f"Question: {criterion.question or criterion.name}\n"
        f"Allowed grades, with what each means:\n{_anchor_lines(criterion)}\n\n"
        f"Reply with one grade from: {', '.join(criterion.options)}.\n"
        "Grade:"
    )


def pairwise_prompt(rubric: Rubric, prompt: str, reference: str, first: str, second: str) -> str:
    """The request to pick the better of two answers (shown as A and B) by the rubric's criteria as a whole."""
    questions = "\n".join(f"- {c.question or c.name}" for c in rubric.criteria)
    instructions = f"{rubric.instructions.strip()}\n\n" if rubric.instructions.strip() else ""
    return (
        f"You are comparing two answers for the review {rubric.name!r}.\n{instructions}"
        f"{_material(prompt, reference)}\n"
        f"Answer A:\n{first.strip()}\n\n"
        f"Answer B:\n{second.strip()}\n\n"
        f"Judge them by these questions:\n{questions}\n\n"
        "Reply with the letter of the better answer: A or B.\n"
        "Better answer:"
    )
