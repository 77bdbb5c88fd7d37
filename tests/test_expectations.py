"""Expectation checks: each says None when it holds and a one-line reason when it does not."""

from __future__ import annotations

import re
import time

import pytest

from harness import HarnessError
from harness import custom_check as exported_custom_check
from harness.expectations import (
    EXPECTATIONS,
    CaseContext,
    Observation,
    compile_pattern,
    contains,
    custom_check,
    equals,
    label_is,
    matches,
    not_contains,
    parse_json_output,
    refuses,
    run_custom,
    within_tokens,
)
from harness.text.citations import find_citations, unsupported_citations


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


@pytest.fixture
def registry(monkeypatch):
    """An empty custom-check registry for one test (the real one is restored afterwards)."""
    monkeypatch.setattr("harness.expectations.CUSTOM_CHECKS", {})
    from harness import expectations

    return expectations.CUSTOM_CHECKS


def test_custom_checks_are_registered_by_name_and_called_with_the_case(registry):
    @custom_check
    def short(output, case):
        return True if len(output) < 10 else f"{len(output)} characters for {case['id']}"

    @custom_check("always.broken")
    def broken(output, case):
        raise KeyError("x")

    assert set(registry) == {"short", "always.broken"} and short("ok", {}) is True  # returned unchanged
    ctx = {"raw": {"id": "c1"}}
    assert check("custom", "short", Observation(text="ok"), **ctx) is None
    assert check("custom", "short", Observation(text="x" * 12), **ctx) == "short: 12 characters for c1"
    assert check("custom", "always.broken", Observation(), **ctx) == "always.broken raised KeyError: 'x'"
    assert run_custom(lambda o, c: None, "", {}).startswith("<lambda> returned None; a check returns True, False")
    assert exported_custom_check is custom_check


def test_case_files_cannot_name_code_by_path(registry):
    @custom_check("short_answer")
    def short(output, case):
        return True

    for name in ("builtins:exec", "os:system", "subprocess.run", "eval", "short_answr"):
        with pytest.raises(ValueError, match="unknown custom check") as excinfo:
            check("custom", name, Observation())
        assert "registered: short_answer" in str(excinfo.value) and "nothing is imported" in str(excinfo.value)
    with pytest.raises(ValueError, match="did you mean 'short_answer'"):
        check("custom", "short_answr", Observation())
    with pytest.raises(ValueError, match="needs the name of a check registered with @custom_check"):
        check("custom", ["short_answer"], Observation())


def test_registering_is_checked(registry):
    def first(output, case):
        return True

    custom_check("dup")(first)
    custom_check("dup")(first)  # the same function again (a re-imported conftest): fine
    with pytest.raises(HarnessError, match="'dup' is registered twice"):
        custom_check("dup")(lambda output, case: True)
    with pytest.raises(HarnessError, match="is not a name a case file can use"):
        custom_check("has space")(first)
    with pytest.raises(HarnessError, match="is not a name a case file can use"):
        custom_check(lambda output, case: True)
    assert list(registry) == ["dup"]


def test_patterns_compile_with_re2_in_linear_time():
    with pytest.raises(ValueError, match="does not compile: missing \\]"):
        compile_pattern("[unclosed")
    with pytest.raises(ValueError, match="no lookarounds or backreferences"):
        compile_pattern("(?=x)y")
    start = time.perf_counter()
    assert check("regex", "(a+)+$", Observation(text="a" * 50_000 + "!")) == "output does not match /(a+)+$/"
    assert check("regex", "(x+x+)+y", Observation(text="x" * 50_000)) is not None
    assert check("regex", "\\d+", Observation(text="\ud800 42")) is None  # a lone surrogate does not break RE2
    assert time.perf_counter() - start < 2


def test_citations_and_json_take_linear_time_on_long_outputs():
    start = time.perf_counter()
    assert find_citations("Abc " * 20_000) == [] and find_citations("A" * 50_000) == []
    assert unsupported_citations("Act " * 20_000, ["Code " * 20_000]) == []
    with pytest.raises(ValueError):
        parse_json_output("```" + " " * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_json_output("[" * 100_000)
    assert time.perf_counter() - start < 3
    assert find_citations("Müller v. Ärger\u00a0Bau & Söhne GmbH") == find_citations("Müller v. Ärger Bau & Söhne GmbH")


def test_json_schema_patterns_are_re2_and_references_stay_inside():
    schema = {"type": "object", "properties": {"id": {"type": "string", "pattern": "^(a+)+$"}}}
    assert check("json_schema", schema, Observation(text='{"id": "aaa"}')) is None
    start = time.perf_counter()
    problem = check("json_schema", schema, Observation(text='{"id": "' + "a" * 30_000 + '!"}'))
    assert problem.startswith("JSON does not match the schema at id:") and time.perf_counter() - start < 2
    bad = [
        ({"pattern": "(?<=x)"}, "at /: pattern '(?<=x)' does not compile"),
        ({"patternProperties": {"^a": {}}}, "patternProperties is not supported"),
        ({"properties": {"a": {"$ref": "https://example.com/s.json"}}}, "points outside the schema"),
        ({"$ref": "#"}, "refers to itself without end"),
        ({"$ref": "#/definitions/missing"}, "the schema cannot be applied"),
    ]
    for schema, message in bad:
        with pytest.raises(ValueError, match=re.escape(message)):
            check("json_schema", schema, Observation())
    assert check("json_schema", {"enum": [{"pattern": "(?<=x)"}]}, Observation(text='{"pattern": "(?<=x)"}')) is None


def test_a_schema_file_must_be_a_small_regular_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read a JSON schema from /dev/zero .not a file."):
        check("json_schema", "/dev/zero", Observation(), base_dir=tmp_path)
    (tmp_path / "big.json").write_text(" " * (1024 * 1024 + 1), encoding="utf-8")
    with pytest.raises(ValueError, match="more than the 1,048,576"):
        check("json_schema", "big.json", Observation(), base_dir=tmp_path)
