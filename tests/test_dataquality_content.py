"""Content after JSON decoding: escaped controls, NaN, placeholder outputs, references to unseen material."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.dataquality.lint import lint_dataset
from harness.dataquality.records import read_records
from harness.dataquality.rules import is_placeholder
from harness.dataquality.spec import load_spec

SPEC = "format: instruction_response\nsize: {minimum: 1, recommended: 1}\n"


def lint_rows(tmp_path: Path, rows: list[dict], spec: str = SPEC):
    spec_path = tmp_path / "data_spec.yaml"
    spec_path.write_text(spec)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return lint_dataset(spec_path, data, [])


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (r'{"instruction": "Name a colour.", "response": "Red\u0000\u001b[0m"}', "U+0000, U+001B"),
        (r'{"instruction": "Name a colour.", "response": "\u001b[31mRed"}', "U+001B"),
        ('{"instruction": "Pick a number.", "response": "1", "score": NaN}', "NaN is not a JSON number"),
        ('{"instruction": "Pick a number.", "response": "1", "score": -Infinity}', "Infinity is not a JSON number"),
    ],
)
def test_controls_inside_decoded_strings_and_nan_are_findings(tmp_path, line, says):
    spec_path = tmp_path / "data_spec.yaml"
    spec_path.write_text(SPEC)
    data = tmp_path / "train.jsonl"
    data.write_text('{"instruction": "Say hi.", "response": "Hi."}\n' + line + "\n")
    records, findings = read_records([data], load_spec(spec_path))
    assert len(records) == 1
    (finding,) = findings
    assert finding.line == 2 and says in finding.message


@pytest.mark.parametrize("text", ["<noinput>", "N/A", "<No Output>", "  n/a. ", "", "...", "<nooutput>"])
def test_placeholders(text):
    assert is_placeholder(text)


@pytest.mark.parametrize("text", ["None of the above.", "No.", "0", "NaN is not a number.", "Paris"])
def test_real_answers_are_not_placeholders(text):
    assert not is_placeholder(text)


def test_alpaca_defects_are_reported_and_can_be_switched_off(tmp_path):
    rows = [
        {"id": "ok", "instruction": "Name the capital of France.", "input": "", "output": "Paris."},
        {"id": "blank", "instruction": "Write a haiku about rain.", "input": "", "output": "<No Output>"},
        {"id": "noinput", "instruction": "Name a colour.", "input": "<noinput>", "output": "Red."},
        {"id": "link", "instruction": "Summarise https://news.site/article-1 in one line.", "output": "It is news."},
        {"id": "image", "instruction": "Describe the attached image.", "output": "A cat on a mat."},
        {"id": "photo", "instruction": "What is in this photo?", "output": "A dog."},
    ]
    spec = SPEC + "fields: {response: output}\n"
    report = lint_rows(tmp_path, rows, spec)
    assert {f.record_id for f in report.by_rule("placeholder_output")} == {"blank", "noinput"}
    assert {f.record_id for f in report.by_rule("unseen_reference")} == {"link", "image", "photo"}
    assert all(f.severity == "warning" for f in report.by_rule("unseen_reference"))
    quiet = lint_rows(tmp_path, rows, spec + "severity: {placeholder_output: off, unseen_reference: off}\n")
    assert quiet.by_rule("placeholder_output", "unseen_reference") == []


def test_stdout_carries_only_the_report(tmp_path, capsys):
    from harness.cli import main

    rows = [{"id": f"r{i}", "instruction": f"Add {i} and {i}.", "output": str(2 * i)} for i in range(5)]
    lint_rows(tmp_path, rows, SPEC + "fields: {response: output}\n")
    capsys.readouterr()
    lint_dataset(tmp_path / "data_spec.yaml", tmp_path / "train.jsonl", [], progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "duplicates:" in captured.err
    evals = tmp_path / "eval.jsonl"
    evals.write_text('{"question": "What is the capital of Peru?"}\n')
    code = main(
        ["data", "lint", str(tmp_path / "data_spec.yaml"), str(tmp_path / "train.jsonl"), "--eval-sets", str(evals)]
    )
    lines = capsys.readouterr().out.rstrip().splitlines()
    assert code == 0 and lines[0].startswith("data lint: ") and lines[-1].startswith("PASSED")
    assert lines[1] == "contamination: 1 eval items in 1 file(s) checked for shared 13-grams"
