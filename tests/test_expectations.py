"""Expectation checks: each says None when it holds and a one-line reason when it does not."""

from __future__ import annotations

import re
import sys

import pytest

from harness.expectations import (
    EXPECTATIONS,
    CaseContext,
    Observation,
    contains,
    equals,
    find_citations,
    import_check,
    label_is,
    matches,
    not_contains,
    refuses,
    run_custom,
    unsupported_citations,
    within_tokens,
)


def check(name, argument, observation, **context):
    """Prepare an expectation as a case file would, then check one observation."""
    kind = EXPECTATIONS[name]
    return kind.check(observation, kind.prepare(argument, CaseContext(**context)))


def test_text_checks():
    assert equals("  Paris\n", "Paris") is None
    assert equals("Paris.", "Paris") == "output is not exactly 'Paris'"
    assert contains("The capital is PARIS", ["paris", "capital"]) is None
    assert contains("The capital is Lyon", ["paris", "capital"]) == "output does not contain 'paris'"
    assert not_contains("No such case exists.", "Smith") is None
    assert not_contains("See Smith v. Jones", ["smith", "doe"]) == "output contains 'smith'"
    assert matches("Type: payment", re.compile(r"Type: \w+")) is None
    assert matches("payment", re.compile(r"^\d+$")) == "output does not match /^\\d+$/"
    assert within_tokens(12, 12) is None and within_tokens(13, 12) == "output is 13 tokens, more than 12"


def test_label_reads_the_pick_when_the_case_has_choices():
    assert label_is(" Payment.\n".strip(), ["payment"]) is None
    pick = Observation(text="", pick="termination")
    assert check("label", "termination", pick, choices=("termination", "payment")) is None
    assert check("label", "payment", pick, choices=("termination", "payment")) == (
        "answer is 'termination', expected 'payment'"
    )
    assert check("label", ["Oslo", "Bergen"], Observation(text=" oslo ")) is None


def test_label_must_be_one_of_the_choices():
    with pytest.raises(ValueError, match="'paymnet' is not one of the case's choices"):
        check("label", "paymnet", Observation(), choices=("termination", "payment"))


def test_refuses_with_default_and_own_phrases():
    assert refuses("I'm not aware of any such case.")
    assert refuses("I don\u2019t know that ruling.")  # a typographic apostrophe
    assert not refuses("In Smith v. Jones the court held the clause void.")
    assert check("refuses", True, Observation(text="The clause is void.")) == "output does not decline to answer"
    assert check("refuses", False, Observation(text="I cannot help.")) == "output declines to answer"
    own = Observation(text="Beyond my remit.")
    assert check("refuses", True, own, refusal_phrases=("beyond my remit",)) is None


def test_max_tokens_that_cannot_fail_is_refused():
    assert check("max_tokens", 10, Observation(n_tokens=11), max_new_tokens=32) == "output is 11 tokens, more than 10"
    with pytest.raises(ValueError, match="cannot fail with max_new_tokens 32"):
        check("max_tokens", 32, Observation(), max_new_tokens=32)


SCHEMA = {"type": "object", "required": ["type"], "properties": {"type": {"enum": ["payment", "termination"]}}}


def test_json_schema():
    assert check("json_schema", SCHEMA, Observation(text='{"type": "payment"}')) is None
    assert check("json_schema", SCHEMA, Observation(text='```json\n{"type": "payment"}\n```')) is None
    assert "not valid JSON" in check("json_schema", SCHEMA, Observation(text="payment"))
    problem = check("json_schema", SCHEMA, Observation(text='{"type": "rent"}'))
    assert problem.startswith("JSON does not match the schema at type: 'rent' is not one of")


def test_json_schema_from_a_file_and_bad_schemas(tmp_path):
    (tmp_path / "clause.json").write_text('{"type": "object"}', encoding="utf-8")
    assert check("json_schema", "clause.json", Observation(text="{}"), base_dir=tmp_path) is None
    with pytest.raises(ValueError, match="not a valid JSON schema"):
        check("json_schema", {"type": "objekt"}, Observation())
    with pytest.raises(ValueError, match="cannot read a JSON schema"):
        check("json_schema", "missing.json", Observation(), base_dir=tmp_path)


def test_citations_are_found_by_kind():
    text = (
        "In Smith v. Jones, fair use under 17 U.S.C. § 107 applied; see Section 12.3(b), § 4 and "
        "Acme Corp. v. Beta Holdings LLC. Details: https://example.com/ruling."
    )
    found = {(c.kind, c.text) for c in find_citations(text)}
    assert found == {
        ("case", "Smith v. Jones"),
        ("statute", "17 U.S.C. § 107"),
        ("section", "Section 12.3(b)"),
        ("section", "§ 4"),
        ("case", "Acme Corp. v. Beta Holdings LLC"),
        ("url", "https://example.com/ruling"),
    }
    assert find_citations("The capital of France is Paris. Type: termination") == []


def test_citations_outside_the_grounding_are_invented():
    grounding = ["Smith v. Jones, 123 F.3d 456 (2d Cir. 1999)", "17 U.S.C. § 107", "Section 12", "www.law.example/x"]
    grounded = "As held in Smith v Jones, 17 USC § 107 and Section 12.3 apply (https://law.example/x/)."
    assert unsupported_citations(grounded, grounding) == []
    invented = unsupported_citations("See Harlow v. Brandt and Section 14 and 15 U.S.C. § 1", grounding)
    assert [c.text for c in invented] == ["15 U.S.C. § 1", "Section 14", "Harlow v. Brandt"]
    problem = check("no_unsupported_citations", True, Observation(text="Under Harlow v. Brandt, yes."))
    assert problem == "cites 'Harlow v. Brandt', not in the case's grounding"


def test_citations_from_the_input_can_be_allowed():
    reply = Observation(text="I cannot find Harlow v. Brandt in any reporter.")
    context = {"input": "Does Harlow v. Brandt still apply?"}
    assert check("no_unsupported_citations", True, reply, **context) is not None
    assert check("no_unsupported_citations", {"allow_input": True}, reply, **context) is None


def test_custom_check_imported_by_dotted_path(tmp_path, monkeypatch):
    (tmp_path / "my_checks.py").write_text(
        "def short(output, case):\n"
        "    return True if len(output) < 10 else f'{len(output)} characters for {case[\"id\"]}'\n"
        "def broken(output, case):\n"
        "    raise KeyError('x')\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ctx = {"raw": {"id": "c1"}}
    assert check("custom", "my_checks:short", Observation(text="ok"), **ctx) is None
    assert check("custom", "my_checks:short", Observation(text="x" * 12), **ctx) == "short: 12 characters for c1"
    assert check("custom", "my_checks:broken", Observation(), **ctx) == "broken raised KeyError: 'x'"
    assert run_custom(lambda o, c: None, "", {}).startswith("<lambda> returned None; a check returns True, False")
    sys.modules.pop("my_checks", None)


def test_custom_check_paths_that_do_not_import(tmp_path):
    with pytest.raises(ValueError, match="not of the form 'package.module:function'"):
        import_check("my_checks.short")
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_xyz'"):
        import_check("no_such_module_xyz:f")
    with pytest.raises(ValueError, match="has no function 'nothing'"):
        import_check("json:nothing")


def test_custom_check_found_in_the_project_root(tmp_path):
    (tmp_path / "project_checks_abc.py").write_text("def ok(output, case):\n    return True\n", encoding="utf-8")
    try:
        assert import_check("project_checks_abc:ok", tmp_path)("", {}) is True
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("project_checks_abc", None)
