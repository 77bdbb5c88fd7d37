"""Hostile and broken case files, each through the real collector: a located error, never a traceback or a hang.

The corpus is generated: structural mistakes, unsafe YAML, bytes that are not UTF-8, code named as a check,
patterns that would backtrack, counts past their limits, and a wrongly typed value for every field.
"""

from __future__ import annotations

import json
import os
import time
from typing import NamedTuple

import pytest

from harness.cases import CaseFileError, load_cases
from harness.cases.spec import FIELDS

WHERE = "suites/adversarial"
BOUND_S = 5.0  # a bound on hostile input, not a benchmark


class Hostile(NamedTuple):
    """A broken case file and the error it must give: at `line` of the file, containing `message`."""

    id: str
    text: str | bytes
    line: int
    message: str
    name: str = "hostile.yaml"


def case_file(**fields: object) -> str:
    """A one-case YAML file, one field a line (the case starts on line 2, its fields on lines 2, 3, ...)."""
    body = {"id": "c1", "input": "Is this clause valid?", "expect": {"equals": "yes"}} | fields
    lines = [f"{name}: {json.dumps(value)}" for name, value in body.items()]
    return "cases:\n  - " + "\n    ".join(lines) + "\n"


def line_of(field: str, /, **fields: object) -> int:
    """The line `field` is on in case_file(**fields)."""
    names = list({"id": 0, "input": 0, "expect": 0} | fields)
    return 2 + names.index(field)


def at_field(key: str, field: str, message: str, /, **fields: object) -> Hostile:
    """A one-case file whose error is at `field`: case_file(**fields), with YAML's .inf and .nan for floats."""
    text = case_file(**fields).replace("Infinity", ".inf").replace("NaN", ".nan")
    return Hostile(key, text, line_of(field, **fields), message)


def billion_laughs(levels: int, width: int) -> str:
    """Nested aliases: `levels` anchors, each a list of `width` references to the one before it."""
    lines = ['a0: &a0 "lol"']
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\ncases:\n  - {{id: x, input: *a{levels - 1}}}\n"


def structure() -> list[Hostile]:
    """Files that are not a list of case mappings, or not YAML / JSON at all."""
    return [
        Hostile("empty-file", "", 1, "the file is empty; it needs a `cases:` list"),
        Hostile("only-comments", "# nothing here\n", 1, "the file is empty"),
        Hostile("top-level-text", "just some text\n", 1, "the file needs a top-level `cases:` list"),
        Hostile("cases-not-a-list", "category: x\ncases: 5\n", 2, "the file needs a top-level `cases:` list"),
        Hostile("top-level-list-without-ids", "- input: x\n  expect: {equals: x}\n", 1, "missing field 'id'"),
        Hostile("list-of-texts", "- one\n- two\n", 1, "a case must be a mapping of fields, got 'one'"),
        Hostile("case-is-a-list", "cases:\n  - [id, input]\n", 2, "a case must be a mapping of fields, got ['id'"),
        Hostile("syntax-error", "cases:\n  - id: a\n    input: [unclosed\n", 4, "not valid YAML: expected ','"),
        Hostile("tab-indent", "cases:\n\t- id: a\n", 2, "not valid YAML: found character '\\t'"),
        Hostile("two-documents", "cases: []\n---\ncases: []\n", 2, "not valid YAML: but found another document"),
        Hostile("undefined-alias", "cases:\n  - {id: a, input: *nowhere}\n", 2, "found undefined alias"),
        Hostile("duplicate-key", case_file() + "    input: again\n", 5, "key 'input' appears twice (first on line 3)"),
        Hostile("nul-byte", "cases:\n  - id: a\x00\n", 2, "not valid YAML: unacceptable character #x0000"),
        Hostile("nested-too-deeply", "cases: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested too deeply"),
        Hostile("impossible-date", case_file() + "    category: 2024-13-45\n", 5, "month must be in 1..12"),
        Hostile("huge-integer", case_file(seed=0).replace("seed: 0", "seed: " + "9" * 5000), 5, "a value cannot"),
        Hostile("bad-float-tag", case_file() + "    category: !!float x\n", 5, "could not convert string to float"),
        at_field("lone-surrogate", "input", "field 'input': has a lone surrogate", input="\ud800 x"),
        at_field("unknown-field", "expct", "unknown field 'expct' (did you mean 'expect'?)", expct={"equals": "x"}),
        Hostile("number-key", "cases:\n  - {id: a, input: x, expect: {equals: x}, 7: x}\n", 2, "unknown field 7"),
        at_field("dotted-key", "expect.regex", "unknown field 'expect.regex'", **{"expect.regex": "x"}),
        Hostile("top-level-unknown", "seeds: 3\n" + case_file(), 1, "unknown top-level field 'seeds'"),
        Hostile("top-level-id", "id: a\n" + case_file(), 1, "`id` belongs on each case"),
        Hostile("top-level-wrong-type", "choices: 5\n" + case_file(), 1, "top-level field 'choices': should be"),
        Hostile("duplicate-id", case_file() + case_file()[len("cases:\n") :], 5, "duplicate id; first used on line 2"),
        Hostile("missing-input", "cases:\n  - {id: a, expect: {equals: x}}\n", 2, "missing field 'input'"),
        at_field("bad-id", "id", "use letters, digits and . _ - only", id="a b/../c"),
        at_field("long-input", "input", "should be text of at most 100,000 characters", input="x" * 100_001),
    ]


def unsafe_yaml() -> list[Hostile]:
    """YAML that tries to build objects or to expand without end."""
    return [
        # Reported at the value the aliases repeat (line 1), as soon as the expansion passes the limit.
        Hostile("billion-laughs", billion_laughs(9, 10), 1, "more than 200,000 values once aliases are expanded"),
        Hostile("many-aliases", billion_laughs(3, 60), 3, "more than 100 alias references"),
        Hostile(
            "python-object-apply",
            'cases:\n  - id: a\n    input: !!python/object/apply:os.system ["echo pwned"]\n',
            3,
            "the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
        ),
        Hostile(
            "python-object",
            "cases:\n  - !!python/object:harness.cases.spec.Case {id: a}\n",
            2,
            "is not allowed",
        ),
        Hostile("python-name", "cases:\n  - id: a\n    input: !!python/name:os.system ''\n", 3, "could not determine"),
    ]


def encodings() -> list[Hostile]:
    """Bytes that are not UTF-8 text."""
    return [
        Hostile(
            "latin-1", b"cases:\n  - id: a\n    input: caf\xe9\n", 3, "not UTF-8 text (byte 0xe9 at byte offset 31)"
        ),
        Hostile("utf-16", "cases: []\n".encode("utf-16"), 1, "not UTF-8 text (byte 0xff at byte offset 0)"),
        Hostile("binary-jsonl", b'{"id": "a"}\n\x80\x81\n', 2, "not UTF-8 text (byte 0x80", "hostile.jsonl"),
    ]


def code_and_patterns() -> list[Hostile]:
    """Code named as a custom check, and patterns RE2 refuses (those it accepts run in linear time)."""
    custom = "field 'expect.custom': unknown custom check"
    checks = [
        ("custom-builtins-exec", {"custom": "builtins:exec"}, f"{custom} 'builtins:exec'"),
        ("custom-os-system", {"custom": "os:system"}, f"{custom} 'os:system'"),
        ("custom-dotted-path", {"custom": "subprocess.run"}, f"{custom} 'subprocess.run'"),
        ("custom-unregistered", {"custom": "not_registered_q"}, f"{custom} 'not_registered_q'; registered: "),
        ("custom-not-a-name", {"custom": ["os", "system"]}, "needs the name of a check registered with @custom_check"),
        ("regex-unclosed", {"regex": "[unclosed"}, "pattern '[unclosed' does not compile: missing ]"),
        ("regex-lookahead", {"regex": "(?=a)a"}, "no lookarounds or backreferences"),
        ("regex-backreference", {"regex": "(a)\\1"}, "invalid escape sequence: \\1"),
        (
            "regex-huge-repeat",
            {"regex": "((a{1000}){1000}){1000}"},
            "does not compile: invalid repetition size: {1000}",
        ),
        ("regex-not-text", {"regex": 5}, "needs a pattern as text, got 5"),
        (
            "schema-lookbehind",
            {"json_schema": {"properties": {"a": {"pattern": "(?<=x)y"}}}},
            "at /properties/a: pattern '(?<=x)y' does not compile",
        ),
        ("schema-pattern-properties", {"json_schema": {"patternProperties": {"(a+)+$": {}}}}, "patternProperties"),
        ("schema-remote-ref", {"json_schema": {"$ref": "https://example.com/s.json"}}, "points outside the schema"),
        ("schema-self-loop", {"json_schema": {"$ref": "#"}}, "the schema refers to itself without end"),
        ("schema-device", {"json_schema": "/dev/zero"}, "cannot read a JSON schema from /dev/zero (not a file)"),
    ]
    synonyms = {"kind": "INV", "expect": {}, "perturbations": [{"synonyms": {"file": "/dev/zero"}}]}
    return [at_field(key, "expect", message, expect=expect) for key, expect, message in checks] + [
        at_field("synonyms-device", "perturbations", "/dev/zero: not a file", **synonyms)
    ]


def bounds() -> list[Hostile]:
    """Counts and sizes past their limits: each error gives the allowed range."""
    inv = {"kind": "INV", "expect": {}}
    budget = "variants: 100\nkind: INV\nperturbations: [{overlong: {chars: 100000}}]\ncases:\n"
    return [
        at_field("huge-variants", "variants", "from 1 to 100", **inv, perturbations=["typos"], variants=20_000_000),
        at_field("zero-variants", "variants", "from 1 to 100, got 0", **inv, perturbations=["typos"], variants=0),
        at_field("huge-max-new-tokens", "max_new_tokens", "a whole number from 1 to 4096", max_new_tokens=10**8),
        at_field(
            "huge-overlong",
            "perturbations",
            "chars must be between 0 and 100,000, got 1000000000",
            **inv,
            perturbations=[{"overlong": {"chars": 10**9}}],
        ),
        at_field(
            "rate-above-one",
            "perturbations",
            "rate must be between 0 and 1, got 7",
            **inv,
            perturbations=[{"typos": {"rate": 7}}],
        ),
        at_field(
            "rate-nan",
            "perturbations",
            "rate must be between 0 and 1, got nan",
            **inv,
            perturbations=[{"homoglyphs": {"rate": float("nan")}}],
        ),
        at_field(
            "margin-infinite",
            "direction",
            "field 'direction.margin': should be a number from 0 to 1,000, got inf",
            kind="DIR",
            expect={},
            perturbed="y",
            direction={"length": "up", "margin": float("inf")},
        ),
        at_field(
            "too-many-variants",
            "perturbations",
            "makes 300 perturbed inputs",
            **inv,
            perturbations=["typos", "casing", "whitespace"],
            variants=100,
        ),
        Hostile(
            "file-variant-budget",
            budget + "".join(f"  - {{id: c{k}, input: x}}\n" for k in range(3)),
            3,
            "a file may generate at most 2,000,000",
        ),
        at_field("too-many-choices", "choices", "a list of 2 to 100", choices=[f"c{k}" for k in range(101)]),
        at_field("one-choice", "choices", "a list of 2 to 100 non-empty texts", choices=["only"]),
        at_field("duplicate-choice", "choices", "has a choice twice", expect={"label": "a"}, choices=["a", "a"]),
        at_field("empty-stop", "stop", "field 'stop': should be a non-empty text", stop=""),
        at_field("no-refusal-phrases", "refusal_phrases", "a list of 1 to 1000 non-empty texts", refusal_phrases=[]),
        at_field("empty-perturbed", "perturbed", "a list of 1 to 200", kind="INV", expect={}, perturbed=[]),
    ]


def jsonl() -> list[Hostile]:
    """JSON Lines files that are not one case object a line."""
    return [
        Hostile("jsonl-syntax", '{"id": "a", "input": }\n', 1, "not valid JSON (Expecting value", "h.jsonl"),
        Hostile("jsonl-array", '["a"]\n', 1, "each line must be one JSON object (a case), got list", "h.jsonl"),
        Hostile("jsonl-deep", "[" * 100_000 + "]" * 100_000 + "\n", 1, "not valid JSON (nested too deeply)", "h.jsonl"),
        Hostile("jsonl-duplicate", '{"id": "a", "id": "b"}\n', 1, "field 'id' appears twice", "h.jsonl"),
        Hostile("jsonl-huge-number", '{"id": "a", "seed": ' + "9" * 5000 + "}\n", 1, "not valid JSON", "h.jsonl"),
        Hostile("jsonl-defaults-not-object", '{"defaults": 5}\n', 1, "`defaults` must be an object", "h.jsonl"),
        Hostile("jsonl-no-cases", "\n// only a comment\n", 1, "the file has no cases", "h.jsonl"),
        Hostile(
            "jsonl-surrogate",
            '{"id": "a", "input": "\\ud800", "expect": {"equals": "x"}}\n',
            1,
            "field 'input': has a lone surrogate",
            "h.jsonl",
        ),
    ]


WRONG_VALUES = (True, 12345, ["a", 1], {"a": 1})  # `true` / a number / a mixed list / a mapping


def wrong_types() -> list[Hostile]:
    """For every field, the first of WRONG_VALUES it refuses, and the second one too."""
    corpus = []
    for name, (what, accepts) in FIELDS.items():
        for value in [v for v in WRONG_VALUES if not accepts(v)][:2]:
            message = f"field '{name}': should be {what}, got {value!r}"
            corpus.append(at_field(f"wrong-type-{name}-{type(value).__name__}", name, message, **{name: value}))
    return corpus


def pass_rate_rules() -> list[Hostile]:
    """A file's `pass_rate` gate rule: `report` or a mapping of drop limits and alpha, each in range."""
    body = 'cases:\n  - {id: c1, input: "x", expect: {equals: "yes"}}\n'
    return [
        Hostile("pass-rate-word", "pass_rate: sometimes\n" + body, 1, "should be `report` or a mapping of"),
        Hostile("pass-rate-bool", "pass_rate: true\n" + body, 1, "should be `report` or a mapping of"),
        Hostile("pass-rate-misspelt", "pass_rate: {max_dorp_vs_base: 0.1}\n" + body, 1, "unknown pass_rate rule"),
        Hostile("pass-rate-above-one", "pass_rate: {max_drop_vs_promoted: 2}\n" + body, 1, "from 0 to 1, got 2"),
        Hostile("pass-rate-nan", "pass_rate: {max_drop_vs_base: .nan}\n" + body, 1, "from 0 to 1, got nan"),
        Hostile("pass-rate-alpha-zero", "pass_rate: {alpha: 0}\n" + body, 1, "alpha should be above 0"),
    ]


CORPUS = (
    structure()
    + unsafe_yaml()
    + encodings()
    + code_and_patterns()
    + bounds()
    + jsonl()
    + wrong_types()
    + pass_rate_rules()
)


def test_the_corpus_is_large_and_names_each_input_once():
    assert len(CORPUS) >= 40
    assert len({h.id for h in CORPUS}) == len(CORPUS)
    assert {name for name in FIELDS} <= {h.id.split("-")[2] for h in CORPUS if h.id.startswith("wrong-type-")}


def collect(pytester: pytest.Pytester, name: str, text: str | bytes) -> tuple[pytest.RunResult, float, str]:
    """Collect one case file with the real plugin; the result, the seconds it took, and all its output."""
    folder = pytester.path / WHERE
    folder.mkdir(parents=True, exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    (folder / name).write_bytes(data)
    start = time.perf_counter()
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    seconds = time.perf_counter() - start
    return result, seconds, "\n".join(result.outlines + result.errlines)


def assert_no_crash(output: str) -> None:
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
    assert "harness/cases/" not in output and "raise " not in output, output[-3000:]


@pytest.mark.parametrize("hostile", [pytest.param(h, id=h.id) for h in CORPUS])
def test_a_hostile_case_file_is_a_located_error(pytester, hostile):
    result, seconds, output = collect(pytester, hostile.name, hostile.text)
    assert_no_crash(output)
    assert result.ret == pytest.ExitCode.INTERRUPTED, output[-3000:]
    located = f"{WHERE}/{hostile.name}:{hostile.line}: "
    assert any(line.startswith(located) and hostile.message in line for line in result.outlines), (
        f"no line starting {located!r} with {hostile.message!r} in:\n{output[-3000:]}"
    )
    assert seconds < BOUND_S


@pytest.mark.parametrize(
    "pattern", ["(a+)+$", "(x+x+)+y", "(a|aa)*b", "^(\\w+\\s?)*$"], ids=["nested", "doubled", "alternation", "words"]
)
def test_backtracking_patterns_are_accepted_and_run_in_linear_time(pytester, pattern):
    from harness.expectations import EXPECTATIONS, CaseContext, Observation

    result, seconds, output = collect(pytester, "hostile.yaml", case_file(expect={"regex": pattern}))
    assert_no_crash(output)
    assert result.ret == pytest.ExitCode.OK and f"{WHERE}/hostile.yaml::c1[tuned]" in output, output[-3000:]
    regex = EXPECTATIONS["regex"]
    start = time.perf_counter()
    problem = regex.check(Observation(text="a" * 20_000 + "x" * 20_000 + "!"), regex.prepare(pattern, CaseContext()))
    assert problem is None or problem.startswith("output does not match")
    assert seconds + (time.perf_counter() - start) < BOUND_S


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_or_a_device_named_like_a_case_file_is_never_read(pytester):
    folder = pytester.path / WHERE
    folder.mkdir(parents=True)
    os.mkfifo(folder / "pipe.yaml")  # reading it would wait for a writer for ever
    (folder / "zero.yaml").symlink_to("/dev/zero")  # reading it would never end
    start = time.perf_counter()
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert_no_crash("\n".join(result.outlines + result.errlines))
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    for name in ("pipe.yaml", "zero.yaml"):
        with pytest.raises(CaseFileError, match=f"{name}:1: is not a regular file"):
            load_cases(folder / name, pytester.path)
    assert time.perf_counter() - start < BOUND_S


def test_an_unexpected_error_is_a_collection_error_naming_the_file(pytester, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something inside the harness broke")

    monkeypatch.setattr("harness.cases.collect.build_cases", broken)
    result, _, output = collect(pytester, "fine.yaml", case_file())
    assert "INTERNALERROR" not in output and "Traceback" not in output and "takes 2 positional" not in output
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting suites/adversarial/fine.yaml*",
            "suites/adversarial/fine.yaml: the harness failed while reading this case file "
            "(RuntimeError: something inside the harness broke).",
            "*This is a harness bug*--full-trace*",
        ]
    )
    full = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", "--full-trace")
    assert "RuntimeError: something inside the harness broke" in full.stdout.str()


CUSTOM_CONFTEST = '''
from harness import custom_check


@custom_check
def mentions_zzq(output, case):
    """Passes when the output mentions the case's keyword, which it never does on the tiny models."""
    return True if case["category"] in output else f"no {case['category']!r} in {len(output)} characters"


@custom_check("always.fine")
def fine(output, case):
    return True
'''


def test_a_registered_custom_check_runs_end_to_end(pytester, tiny_dirs):
    pytester.makeconftest(CUSTOM_CONFTEST)
    text = (
        "category: zzqzzq\nmax_new_tokens: 4\ngate: report\ncases:\n"
        "  - {id: fine, input: The capital of France is, expect: {custom: always.fine}}\n"
        "  - {id: keyword, input: The capital of France is, expect: {custom: mentions_zzq}}\n"
    )
    (pytester.path / WHERE).mkdir(parents=True)
    (pytester.path / WHERE / "custom.yaml").write_text(text, encoding="utf-8")
    models = [f"--base-model={tiny_dirs['base']}", f"--tuned-model={tiny_dirs['adapter']}"]
    result = pytester.runpytest(*models, "-p", "no:cacheprovider", "-rP")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*failed:*mentions_zzq: no 'zzqzzq' in * characters*"])
    assert "Traceback" not in result.stdout.str()
