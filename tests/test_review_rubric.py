"""The review rubric: the demo file loads, mistakes name line and key, the version follows the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.review.rubric import load_rubric, parse_rubric

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "review" / "rubric.yaml"


def test_demo_rubric_has_the_three_kinds_of_criteria():
    rubric = load_rubric(DEMO)
    kinds = {c.name: c.kind for c in rubric.criteria}
    assert kinds == {
        "accuracy": "scale",
        "factual_correctness": "pass_fail",
        "coherence": "scale",
        "tone": "labels",
        "guideline_adherence": "pass_fail",
    }
    accuracy = rubric.criterion("accuracy")
    assert accuracy.options == ("1", "2", "3", "4", "5") and accuracy.passing == ("4", "5")
    assert accuracy.anchors["1"].startswith("Wrong")
    assert rubric.criterion("tone").passing == ("neutral",)
    assert len(rubric.version) == 12


def test_an_answer_passes_only_when_every_gated_criterion_passes():
    rubric = load_rubric(DEMO)
    good = {"accuracy": "4", "factual_correctness": "pass", "coherence": "3", "tone": "neutral",
            "guideline_adherence": "pass"}  # fmt: skip
    assert rubric.passes(rubric.check_scores(good))
    assert not rubric.passes(rubric.check_scores(good | {"accuracy": "3"}))
    assert not rubric.passes(rubric.check_scores(good | {"tone": "too_casual"}))
    with pytest.raises(HarnessError, match="'accuracy': '6' is not one of"):
        rubric.check_scores(good | {"accuracy": "6"})
    with pytest.raises(HarnessError, match="'coherence' was not answered"):
        rubric.check_scores({k: v for k, v in good.items() if k != "coherence"})


def test_the_version_changes_with_the_file():
    text = DEMO.read_text()
    assert parse_rubric(text).version == load_rubric(DEMO).version
    assert parse_rubric(text.replace("Right and complete.", "Right, complete.")).version != load_rubric(DEMO).version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "criteria:\n  - name: accuracy\n    kind: stars\n",
            r"rubric.yaml:3: criteria.0.kind: 'stars' is not a criterion kind",
        ),
        ("criteria:\n  - name: a\n    pass_at: 9\n", r"rubric.yaml:3: criteria.0.pass_at: 9 is not on the scale 1..5"),
        ("criteria:\n  - name: a\n    pass_at: 4\n    colour: red\n", r"rubric.yaml:4: criteria.0.colour: unknown key"),
        (
            "criteria:\n  - name: a\n    pass_at: 4\n    anchors:\n      7: too high\n",
            r"rubric.yaml:5: criteria.0.anchors.7: 7 is not a value of this criterion",
        ),
        (
            "criteria:\n  - name: t\n    kind: labels\n    labels: [a, b]\n    pass_labels: [c]\n",
            r"rubric.yaml:5: criteria.0.pass_labels: must list labels",
        ),
        ("criteria:\n  - name: a\n", r"rubric.yaml:1: criteria: no criterion decides pass or fail"),
        ("criteria: [\n", r"rubric.yaml:2: not valid YAML"),
        ("title: x\n", r"rubric.yaml:1: title: unknown key"),
        ("criteria:\n  - name: a\n    pass_at: true\n", r"rubric.yaml:3: criteria.0.pass_at: must be a whole number"),
        (
            "criteria:\n  - name: t\n    kind: labels\n    labels: [yes, no]\n",
            r"rubric.yaml:4: criteria.0.labels.0: label True is not text",
        ),
        ("name: [x]\ncriteria:\n  - name: a\n    pass_at: 4\n", r"rubric.yaml:1: name: must be text"),
        ("criteria:\n  - name: a\n    pass_at: 4\n    pass_at: 3\n", r"rubric.yaml:4: not valid YAML: key 'pass_at'"),
    ],
)
def test_mistakes_name_the_line_and_key(text, expected):
    with pytest.raises(HarnessError, match=expected) as error:
        parse_rubric(text, "rubric.yaml")
    assert "fix:" in str(error.value)
