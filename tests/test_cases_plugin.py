"""Case files end to end through pytest: collection, bad-file errors, failure reports, outcomes, xdist."""

from __future__ import annotations

import json
import textwrap

import pytest

CASES = """
category: demo
max_new_tokens: 8
cases:
  - id: never-says-zzq
    input: "The capital of France is"
    expect: {not_contains: zzqzzq}
  - id: says-zzq
    input: "The capital of France is"
    expect: {contains: zzqzzq}
  - id: says-zzq-report-only
    input: "The capital of France is"
    gate: report
    expect: {contains: zzqzzq}
  - id: says-zzq-no-regression
    input: "The capital of France is"
    gate: no_regression
    expect: {contains: zzqzzq}
"""

GENERAL = (
    '{"id": "cap-france", "input": "The capital of France is", "choices": ["Paris", "Rome"], '
    '"expect": {"label": ["Paris", "Rome"]}}\n'
    '{"id": "inv-case", "kind": "INV", "input": "3 + 4 =", "choices": ["7", "8"], "perturbed": "3 + 4 ="}\n'
)

# Writes the outcomes the controller holds at the end, so tests can read what was recorded.
DUMP_OUTCOMES = """
import json
from harness.session import get_session

def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        outcomes = [o.to_dict() for o in get_session(session.config).case_outcomes]
        (session.config.rootpath / "outcomes.json").write_text(json.dumps(outcomes))
"""


def add_cases(pytester: pytest.Pytester, **files: str) -> None:
    folder = pytester.path / "suites" / "adversarial"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_jsonl", ".jsonl").replace("_yaml", ".yaml")).write_text(
            textwrap.dedent(text).lstrip(), encoding="utf-8"
        )


def models(tiny_dirs) -> list[str]:
    """Model options; written with `=` so pytest does not take the model paths into its rootdir guess."""
    return [f"--base-model={tiny_dirs['base']}", f"--tuned-model={tiny_dirs['adapter']}", "-p", "no:cacheprovider"]


def recorded(pytester: pytest.Pytester) -> set[tuple[str, str, str, bool]]:
    outcomes = json.loads((pytester.path / "outcomes.json").read_text())
    return {(o["group"], o["case_id"], o["role"], o["passed"]) for o in outcomes}


def test_each_case_becomes_a_base_and_a_tuned_item(pytester):
    add_cases(pytester, cases_yaml=CASES, general_jsonl=GENERAL)
    (pytester.path / "suites" / "not_cases.yaml").write_text("cases: []\n")  # outside `adversarial`: not collected
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    lines = [line for line in result.stdout.lines if "::" in line]
    assert lines == [
        "suites/adversarial/cases.yaml::never-says-zzq[base]",
        "suites/adversarial/cases.yaml::never-says-zzq[tuned]",
        "suites/adversarial/cases.yaml::says-zzq[base]",
        "suites/adversarial/cases.yaml::says-zzq[tuned]",
        "suites/adversarial/cases.yaml::says-zzq-report-only[base]",
        "suites/adversarial/cases.yaml::says-zzq-report-only[tuned]",
        "suites/adversarial/cases.yaml::says-zzq-no-regression[base]",
        "suites/adversarial/cases.yaml::says-zzq-no-regression[tuned]",
        "suites/adversarial/general.jsonl::cap-france[base]",
        "suites/adversarial/general.jsonl::cap-france[tuned]",
        "suites/adversarial/general.jsonl::inv-case[base]",
        "suites/adversarial/general.jsonl::inv-case[tuned]",
    ]
    selected = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", "-k", "INV")
    assert [line for line in selected.stdout.lines if "::" in line] == lines[-2:]


def test_bad_case_files_fail_at_collection_naming_file_line_and_field(pytester):
    add_cases(
        pytester,
        typo_yaml="""
        cases:
          - id: a
            input: x
            expect: {contain: x}
          - id: a
            kind: DIR
            input: x
            perturbations: [typoz]
            direction: {label_changes: true}
        """,
        regex_yaml="""
        cases:
          - id: r
            input: x
            expect:
              regex: "[unclosed"
              custom: "nowhere_pkg_z.checks:f"
              json_schema: {pattern: "(?<=x)"}
          - id: m
            expect: {equals: x}
        """,
        broken_jsonl='{"id": "j", "input": "x", "expect": {"equals": "x"}}\n{"id": "k", "input" "x"}\n',
    )
    (pytester.path / "suites" / "adversarial" / "latin1.yaml").write_bytes(b"cases:\n  - id: caf\xe9\n")
    result = pytester.runpytest("--collect-only", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines_random(
        [
            "suites/adversarial/typo.yaml:4: case 'a', field 'expect.contain': unknown expectation 'contain' "
            "(did you mean 'contains'?)*",
            "suites/adversarial/typo.yaml:5: case 'a', field 'id': duplicate id; first used on line 2",
            "suites/adversarial/typo.yaml:8: case 'a', field 'perturbations.0': unknown perturbation 'typoz'*",
            "suites/adversarial/regex.yaml:5: case 'r', field 'expect.regex': pattern '[[]unclosed' does not compile*",
            "suites/adversarial/regex.yaml:6: case 'r', field 'expect.custom': unknown custom check "
            "'nowhere_pkg_z.checks:f'; registered: *",
            "suites/adversarial/regex.yaml:7: case 'r', field 'expect.json_schema': at /: pattern '(?<=x)' does not "
            "compile: invalid perl operator: (?<*",
            "suites/adversarial/regex.yaml:8: case 'm', missing field 'input'*",
            "suites/adversarial/latin1.yaml:2: not UTF-8 text (byte 0xe9 at byte offset 18)",
            "suites/adversarial/broken.jsonl:2: not valid JSON (Expecting ':' delimiter at column 21)",
        ]
    )
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "harness/cases" not in output and "raise " not in output


def test_a_failing_tuned_case_is_one_block_and_base_failures_do_not_fail_the_run(pytester, tiny_dirs):
    add_cases(pytester, cases_yaml=CASES)
    pytester.makeconftest(DUMP_OUTCOMES)
    result = pytester.runpytest(*models(tiny_dirs), "-rP")
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ says-zzq[[]tuned[]] _*",
            "case says-zzq [[]tuned[]] failed  (suites/adversarial/cases.yaml:7)",
            "  kind / category:      MFT / demo",
            "  input:                'The capital of France is'",
            "  output:               * tokens[]]",
            "  failed:               contains: output does not contain 'zzqzzq'",
        ]
    )
    result.stdout.fnmatch_lines(["*case failure, not gated (base: a reference)*", "case says-zzq [[]base[]] failed*"])
    assert "Traceback" not in result.stdout.str() and "cases/collect.py" not in result.stdout.str()
    group = "suites/adversarial/cases.yaml"
    assert recorded(pytester) == {
        (group, "never-says-zzq", "base", True),
        (group, "never-says-zzq", "tuned", True),
        (group, "says-zzq", "base", False),
        (group, "says-zzq", "tuned", False),
        (group, "says-zzq-report-only", "base", False),
        (group, "says-zzq-report-only", "tuned", False),
        (group, "says-zzq-no-regression", "base", False),
        (group, "says-zzq-no-regression", "tuned", False),
    }


def test_outcomes_reach_the_controller_under_xdist(pytester, tiny_dirs):
    add_cases(pytester, general_jsonl=GENERAL, cases_yaml=CASES)
    pytester.makeconftest(DUMP_OUTCOMES)
    result = pytester.runpytest_subprocess(*models(tiny_dirs), "-n", "2", "-q", "-k", "cap-france or inv-case or never")
    result.assert_outcomes(passed=6)
    assert {(case_id, role) for _, case_id, role, _ in recorded(pytester)} == {
        (case_id, role) for case_id in ("cap-france", "inv-case", "never-says-zzq") for role in ("base", "tuned")
    }
    assert all(passed for *_, passed in recorded(pytester))
