"""Contamination never passes by reading nothing: eval fields as the suites name them, boilerplate set aside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.dataquality.contamination import shared_ngrams
from harness.dataquality.lint import lint_dataset
from harness.errors import HarnessError

QUESTION = "Natalia sold clips to 48 of her friends in April and then she sold half as many clips in May"
SPEC = "format: instruction_response\nsize: {minimum: 1, recommended: 1}\n"


def setup(tmp_path: Path, eval_rows: list[dict], spec_extra: str = "") -> tuple[Path, Path, Path]:
    spec = tmp_path / "data_spec.yaml"
    spec.write_text(SPEC + spec_extra)
    train = tmp_path / "train.jsonl"
    rows = [
        {"id": "leak", "instruction": QUESTION + ". How many clips did she sell?", "response": "72"},
        {"id": "fine", "instruction": "Add 2 and 3.", "response": "5"},
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    evals = tmp_path / "gsm8k_test.jsonl"
    evals.write_text("".join(json.dumps(r) + "\n" for r in eval_rows))
    return spec, train, evals


def test_question_and_choices_fields_are_read_by_default(tmp_path):
    spec, train, evals = setup(tmp_path, [{"question": QUESTION + "?", "answer": "72"}])
    report = lint_dataset(spec, train, [evals])
    assert [f.record_id for f in report.by_rule("contamination")] == ["leak"]
    assert report.contamination["ngram"] == 13 and report.contamination["eval_items"] == 1


def test_an_eval_file_with_unknown_fields_fails_naming_the_file_fields_and_fix(tmp_path):
    spec, train, evals = setup(tmp_path, [{"problem": QUESTION, "solution": "72"}])
    with pytest.raises(HarnessError) as caught:
        lint_dataset(spec, train, [evals])
    message = str(caught.value)
    assert str(evals) in message and "problem, solution" in message and "question" in message
    assert "contamination: {files: {'gsm8k_test.jsonl': [FIELD]}}" in message


def test_the_cli_exits_2_on_an_unreadable_eval_file(tmp_path, capsys):
    spec, train, evals = setup(tmp_path, [{"problem": QUESTION}])
    assert main(["data", "lint", str(spec), str(train), "--eval-sets", str(evals)]) == 2
    assert "no text could be read" in capsys.readouterr().err


def test_per_file_fields_in_the_spec(tmp_path):
    extra = "contamination:\n  files:\n    'gsm8k_*.jsonl': [problem]\n"
    spec, train, evals = setup(tmp_path, [{"problem": QUESTION}], extra)
    report = lint_dataset(spec, train, [evals])
    assert [f.record_id for f in report.by_rule("contamination")] == ["leak"]


def test_boilerplate_shared_by_many_training_records_is_not_evidence():
    boiler = "let us think step by step and write the final answer on the last line after four hashes"
    train = [f"Question {i}: how many apples does person number {i} have? {boiler}" for i in range(40)]
    evals = [f"A different question entirely. {boiler}"]
    assert shared_ngrams(train, evals, 13, boilerplate_share=1.0)[0]  # counted when nothing is boilerplate
    found, set_aside = shared_ngrams(train, evals, 13, boilerplate_share=0.1)
    assert found == {} and set_aside > 0
    leak = "the train leaves the station at nine and travels ninety miles to the coast in two hours"
    found, _ = shared_ngrams([*train, leak], [*evals, leak], 13, boilerplate_share=0.1)
    assert list(found) == [40]


def test_no_eval_sets_is_said_in_the_report(tmp_path):
    spec, train, _ = setup(tmp_path, [{"question": "x"}])
    (note,) = lint_dataset(spec, train, []).by_rule("contamination")
    assert note.severity == "note" and "not checked" in note.message
