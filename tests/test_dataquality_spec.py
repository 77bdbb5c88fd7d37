"""Data specification errors name the file, line and key, and say how to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.dataquality.spec import load_spec
from harness.errors import HarnessError

DEMO_SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "data_quality" / "data_spec.yaml"


def spec_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "data_spec.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError) as excinfo:
        load_spec(path)
    return str(excinfo.value)


def test_demo_spec_loads():
    spec = load_spec(DEMO_SPEC)
    assert spec.format == "text_label"
    assert "force_majeure" in spec.labels.allowed
    assert spec.duplicates.num_perm == 128 and spec.contamination.ngram == 13


def test_invalid_regex_is_named_with_its_line(tmp_path):
    message = spec_error(
        tmp_path, "format: text_label\npatterns:\n  forbidden:\n    - name: x\n      regex: '(unclosed'\n"
    )
    assert "data_spec.yaml:5" in message and "patterns.forbidden[0].regex" in message
    assert "'(unclosed'" in message and "fix:" in message


def test_unknown_key_suggests_the_close_one(tmp_path):
    message = spec_error(tmp_path, "format: text_label\nlength:\n  unit: words\n  maximum: 10\n")
    assert "data_spec.yaml:4" in message and "length.maximum" in message and "did you mean 'max'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\n", "key 'format': is required"),
        ("format: csv\n", "must be one of instruction_response, chat, text_label"),
        ("format: text_label\nlength: {min: five}\n", "length.min': must be a whole number"),
        ("format: text_label\nlabels:\n  proportions: {a: 0.5, b: 0.2}\n", "sum to 0.700"),
        ("format: text_label\naugmentation:\n  templates: ['Rewrite {source}']\n", "placeholder {text}"),
        ("format: text_label\nseverity: {pii: fatal}\n", "severity.pii': must be one of error, warning, note"),
        ("format: [text\n", "not valid YAML"),
    ],
)
def test_spec_mistakes(tmp_path, text, expected):
    assert expected in spec_error(tmp_path, text)


def test_missing_spec_file(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
