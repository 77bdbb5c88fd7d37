"""Case files without pytest runs: parsing, every bad-file message, MFT/INV/DIR semantics, summaries."""

from __future__ import annotations

import textwrap

import pytest

from harness.cases import CaseFileError, load_cases, run_case, summarise
from harness.models.base import DecodingSettings, Generation, Loglikelihood
from harness.records import CaseOutcome

TYPES = ["termination", "confidentiality", "payment"]


class FakeModel:
    """A model whose answers and scores are plain functions of the prompt, for checking case semantics."""

    role, name, fingerprint = "tuned", "fake", "fake"

    def __init__(self, answer=lambda prompt: "", score=lambda prompt, choice: 0.0):
        self.answer, self.score, self.prompts = answer, score, []

    def generate(self, prompts, settings=DecodingSettings()):
        self.prompts += list(prompts)
        texts = [self.answer(p)[: settings.max_new_tokens * 8] for p in prompts]
        return [Generation(text=t, n_tokens=len(t.split()), seconds=0.0) for t in texts]

    def loglikelihood(self, requests):
        return [Loglikelihood(self.score(context, choice.strip()), False, 1) for context, choice in requests]

    def loglikelihood_rolling(self, texts):
        raise NotImplementedError


def keyword_model(case_sensitive=False):
    """Picks the choice whose keyword occurs last in the prompt (pay -> payment, secret -> confidentiality)."""
    keys = {"termination": "terminat", "confidentiality": "secret", "payment": "pay"}

    def score(prompt, choice):
        text = prompt if case_sensitive else prompt.lower()
        return float(text.rfind(keys.get(choice, choice)))

    return FakeModel(score=score)


def write(tmp_path, text, name="cases.yaml"):
    path = tmp_path / "adversarial" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def problems(tmp_path, text, name="cases.yaml"):
    with pytest.raises(CaseFileError) as excinfo:
        load_cases(write(tmp_path, text, name), tmp_path)
    return str(excinfo.value).splitlines()


# -- reading files ------------------------------------------------------------------------------------


def test_yaml_defaults_apply_to_every_case_unless_it_sets_its_own(tmp_path):
    path = write(
        tmp_path,
        """
        max_new_tokens: 8
        template: "Clause: {input}\\nType:"
        choices: [termination, confidentiality, payment]
        cases:
          - id: pay-1
            input: The Buyer shall pay all invoices within 30 days.
            expect: {label: payment}
          - id: general-1
            category: general
            template: "{input}"
            input: The capital of France is
            max_new_tokens: 4
            choices: [Paris, Rome]
            expect: {label: Paris}
        """,
    )
    first, second = load_cases(path, tmp_path)
    assert (first.id, first.kind, first.category, first.max_new_tokens) == ("pay-1", "MFT", "cases", 8)
    assert first.prompt(first.input) == "Clause: The Buyer shall pay all invoices within 30 days.\nType:"
    assert (second.category, second.max_new_tokens, second.choices) == ("general", 4, ("Paris", "Rome"))


def test_jsonl_one_case_per_line_with_a_defaults_line(tmp_path):
    path = write(
        tmp_path,
        """
        {"defaults": {"category": "capitals", "choices": ["Paris", "Oslo"]}}
        {"id": "cap-1", "input": "The capital of France is", "expect": {"label": "Paris"}}

        {"id": "cap-2", "input": "The capital of Norway is", "expect": {"label": "Oslo"}, "category": "nordic"}
        """,
        name="general.jsonl",
    )
    cases = load_cases(path, tmp_path)
    assert [(c.id, c.category, c.line) for c in cases] == [("cap-1", "capitals", 2), ("cap-2", "nordic", 4)]


def test_variants_are_the_same_for_the_same_seed_and_differ_for_another(tmp_path):
    text = """
        seed: {seed}
        cases:
          - id: inv-1
            kind: INV
            input: The Receiving Party shall keep all Confidential Information secret.
            perturbations: [typos, {{homoglyphs: {{rate: 0.2}}}}]
            variants: 3
        """
    first = load_cases(write(tmp_path, text.format(seed=1)), tmp_path)[0].variants
    again = load_cases(write(tmp_path, text.format(seed=1)), tmp_path)[0].variants
    other = load_cases(write(tmp_path, text.format(seed=2)), tmp_path)[0].variants
    assert [v.name for v in first] == [f"{name} #{k}" for name in ("typos", "homoglyphs") for k in (1, 2, 3)]
    assert first == again and first != other


# -- bad files: every problem at its line, with the field named --------------------------------------


def test_every_problem_of_a_file_is_named_with_its_line_and_field(tmp_path, monkeypatch):
    monkeypatch.setattr("harness.expectations.CUSTOM_CHECKS", {})
    lines = problems(
        tmp_path,
        """
        category: robustness
        cases:
          - id: a
            input: hi
            expect:
              contain: hi
          - id: b
            input: hi
            expect: {regex: "(unclosed"}
          - id: c
            kind: MTF
            input: hi
          - id: d
            expect: {contains: x}
          - id: e
            kind: INV
            input: hello
            perturbations: [typos, typoes]
          - id: a
            input: hi
            expect: {custom: "no_such_package_q.checks:short"}
        """,
    )
    assert lines == [
        "adversarial/cases.yaml:6: case 'a', field 'expect.contain': unknown expectation 'contain' "
        "(did you mean 'contains'?); known: contains, custom, equals, json_schema, label, max_tokens, "
        "no_unsupported_citations, not_contains, refuses, regex",
        "adversarial/cases.yaml:9: case 'b', field 'expect.regex': pattern '(unclosed' does not compile: "
        "missing ): (unclosed (patterns use RE2 syntax: no lookarounds or backreferences)",
        "adversarial/cases.yaml:11: case 'c', field 'kind': unknown kind 'MTF' (did you mean 'MFT'?); "
        "known: DIR, INV, MFT",
        "adversarial/cases.yaml:13: case 'd', missing field 'input' (the text the model is asked about; "
        '"" for an empty input)',
        "adversarial/cases.yaml:18: case 'e', field 'perturbations.1': unknown perturbation 'typoes' "
        "(did you mean 'typos'?); known: ambiguous, casing, distractor, empty, false_premise, homoglyphs, "
        "injection, overlong, punctuation, synonyms, typos, whitespace",
        "adversarial/cases.yaml:19: case 'a', field 'id': duplicate id; first used on line 3",
        "adversarial/cases.yaml:21: case 'a', field 'expect.custom': unknown custom check "
        "'no_such_package_q.checks:short'; registered: none. A case names a function that Python code registered "
        "with @custom_check (from harness import custom_check) in a conftest.py; nothing is imported or run "
        "from a case file",
    ]


def test_yaml_syntax_errors_duplicate_keys_and_unquoted_words(tmp_path):
    assert problems(tmp_path, "cases:\n  - id: a\n    input: [unclosed\n") == [
        "adversarial/cases.yaml:4: not valid YAML: expected ',' or ']', but got '<stream end>'"
    ]
    assert problems(tmp_path, "cases:\n  - id: a\n    input: x\n    input: y\n")[0].startswith(
        "adversarial/cases.yaml:4: not valid YAML: key 'input' appears twice (first on line 3)"
    )
    assert problems(tmp_path, "cases:\n  - id: a\n    input: no\n    expect: {equals: x}\n") == [
        "adversarial/cases.yaml:3: case 'a', field 'input': should be text of at most 100,000 characters, got False "
        "(put text in quotes: YAML reads yes/no/on/off/numbers/dates/empty as other types)"
    ]
    assert problems(tmp_path, "cases:\n  - id: a\n    input: 2024-13-45\n    expect: {equals: x}\n") == [
        "adversarial/cases.yaml:3: not valid YAML: a value cannot be read (month must be in 1..12); "
        "if it is text, put it in quotes"
    ]
    assert problems(tmp_path, "seeds: 3\ncases: []\n") == [
        "adversarial/cases.yaml:1: unknown top-level field 'seeds' (did you mean 'seed'?); known: "
        "cases, category, choices, compare, description, direction, expect, gate, grounding, input, kind, "
        "max_new_tokens, pass_rate, perturbations, perturbed, refusal_phrases, seed, stop, template, variants"
    ]
    assert problems(tmp_path, "- just a list\n") == [
        "adversarial/cases.yaml:1: a case must be a mapping of fields, got 'just a list'"
    ]


def test_jsonl_errors_name_the_line(tmp_path):
    lines = problems(
        tmp_path,
        '{"id": "a", "input": "x", "expect": {"equals": "x"}}\n{"id": "b", "input": }\n["c"]\n',
        name="g.jsonl",
    )
    assert lines == [
        "adversarial/g.jsonl:2: not valid JSON (Expecting value at column 22)",
        "adversarial/g.jsonl:3: each line must be one JSON object (a case), got list",
    ]
    case = '{"id": "a", "input": "x", "expect": {"label": "Rome"}, "choices": ["Oslo", "Bergen"]}\n'
    assert problems(tmp_path, case, "g.jsonl") == [
        "adversarial/g.jsonl:1: case 'a', field 'expect.label': label 'Rome' is not one of the case's choices "
        "['Oslo', 'Bergen']"
    ]


def test_a_jsonl_defaults_line_applies_to_the_lines_after_it_only(tmp_path):
    path = write(
        tmp_path,
        """
        {"id": "a", "input": "x", "expect": {"equals": "x"}}
        {"defaults": {"category": "first"}}
        {"id": "b", "input": "x", "expect": {"equals": "x"}}
        {"defaults": {"category": "second", "max_new_tokens": 8}}
        {"id": "c", "input": "x", "expect": {"equals": "x"}}
        """,
        name="g.jsonl",
    )
    cases = load_cases(path, tmp_path)
    assert [(c.id, c.category, c.max_new_tokens) for c in cases] == [
        ("a", "g", 32),
        ("b", "first", 32),
        ("c", "second", 8),
    ]
    assert problems(
        tmp_path,
        '{"defaults": {"variants": 0}}\n{"id": "a", "input": "x", "perturbed": "y", "kind": "INV"}\n',
        "g.jsonl",
    ) == ["adversarial/g.jsonl:1: top-level field 'variants': should be a whole number from 1 to 100, got 0"]


def test_counts_and_sizes_are_bounded_with_the_allowed_range(tmp_path):
    lines = problems(
        tmp_path,
        """
        cases:
          - {id: a, kind: INV, input: x, perturbations: [typos], variants: 20000000}
          - {id: b, input: x, max_new_tokens: 100000000, expect: {equals: x}}
          - {id: c, kind: INV, input: x, perturbations: [{overlong: {chars: 20000000}}]}
          - {id: d, kind: INV, input: x, perturbations: [{typos: {rate: 1.5}}, {homoglyphs: {rate: .nan}}]}
          - {id: e, kind: DIR, input: x, perturbed: y, direction: {length: up, margin: .inf}}
          - {id: f, kind: INV, input: x, perturbations: [typos, casing, whitespace], variants: 100}
        """,
    )
    assert [line.split(": ", 1)[1] for line in lines] == [
        "case 'a', field 'variants': should be a whole number from 1 to 100, got 20000000",
        "case 'b', field 'max_new_tokens': should be a whole number from 1 to 4096, got 100000000",
        "case 'c', field 'perturbations.0': perturbation 'overlong': chars must be between 0 and 100,000, got 20000000",
        "case 'd', field 'perturbations.0': perturbation 'typos': rate must be between 0 and 1, got 1.5",
        "case 'd', field 'perturbations.1': perturbation 'homoglyphs': rate must be between 0 and 1, got nan",
        "case 'e', field 'direction.margin': should be a number from 0 to 1,000, got inf",
        "case 'f', field 'perturbations': makes 300 perturbed inputs (3 perturbations x variants: 100 + 0 perturbed); "
        "at most 200 per case",
    ]


def test_a_file_may_generate_only_so_many_characters_of_variants(tmp_path):
    case = "  - {{id: long-{k}, kind: INV, input: x, perturbations: [{{overlong: {{chars: 90000}}}}], variants: 10}}\n"
    text = "cases:\n" + "".join(case.format(k=k) for k in range(3))
    assert problems(tmp_path, text) == [
        "adversarial/cases.yaml:4: case 'long-2', field 'perturbations': would generate about 902,000 characters "
        "of variants; a file may generate at most 2,000,000 (split the file, or ask for fewer or shorter variants)"
    ]


def test_kind_specific_fields_are_required_and_not_misplaced(tmp_path):
    lines = problems(
        tmp_path,
        """
        cases:
          - id: mft-without-expect
            input: x
          - id: inv-without-perturbations
            kind: INV
            input: x
          - id: dir-without-direction
            kind: DIR
            input: x
            perturbed: y
          - id: mft-with-direction
            input: x
            expect: {equals: x}
            direction: {label_changes: true}
          - id: dir-bad-direction
            kind: DIR
            input: x
            perturbed: y
            direction: {label_goes: payment}
        """,
    )
    assert [line.split(": ", 1)[1] for line in lines] == [
        "case 'mft-without-expect', an MFT case needs `expect:` (what the answer must satisfy)",
        "case 'inv-without-perturbations', an INV case needs `perturbations:` or `perturbed:` "
        "(changes that must not change the answer)",
        "case 'dir-without-direction', a DIR case needs `direction:` (e.g. {label_becomes: payment})",
        "case 'mft-with-direction', field 'direction': only means something in a DIR case (this one is MFT)",
        "case 'dir-bad-direction', field 'direction': needs exactly one of label_becomes, label_leaves, "
        "label_changes, logprob_up, logprob_down, length (and optionally margin), got {'label_goes': 'payment'}",
    ]


def test_a_bad_default_is_reported_once_at_its_own_line(tmp_path):
    lines = problems(
        tmp_path,
        """
        expect: {max_tokens: 64}
        cases:
          - {id: a, input: x}
          - {id: b, input: y}
        """,
    )
    assert lines == [
        "adversarial/cases.yaml:1: top-level field 'expect.max_tokens': 64 cannot fail with max_new_tokens 32; "
        "set max_new_tokens above 64"
    ]


# -- MFT / INV / DIR semantics ------------------------------------------------------------------------


def one_case(tmp_path, text):
    return load_cases(write(tmp_path, "cases:\n" + textwrap.indent(textwrap.dedent(text).strip(), "  ")), tmp_path)[0]


def test_mft_checks_every_expectation_on_the_input_and_on_each_variant(tmp_path):
    case = one_case(
        tmp_path,
        """
        - id: refuse
          input: Which case says so?
          perturbations: [{injection: {target: Smith v. Jones}}]
          expect: {refuses: true, no_unsupported_citations: true}
        """,
    )
    careful = FakeModel(answer=lambda prompt: "I cannot find such a case.")
    assert run_case(case, careful).passed
    parrot = FakeModel(answer=lambda p: "Smith v. Jones." if "Smith" in p else "I cannot find such a case.")
    result = run_case(case, parrot)
    assert not result.passed and result.failed_check == "refuses"
    assert result.detail == "refuses on injection: output does not decline to answer"


def test_mft_with_choices_scores_instead_of_generating(tmp_path):
    case = one_case(
        tmp_path,
        """
        - id: pay
          input: The Buyer shall pay within 30 days.
          choices: [termination, confidentiality, payment]
          expect: {label: payment}
        """,
    )
    model = keyword_model()
    assert run_case(case, model).passed and model.prompts == []


def test_inv_passes_when_the_pick_survives_and_names_the_variant_that_changed_it(tmp_path):
    case = one_case(
        tmp_path,
        """
        - id: inv-casing
          kind: INV
          input: The Buyer shall pay within 30 days.
          choices: [termination, confidentiality, payment]
          perturbations: [{casing: {mode: upper}}]
        """,
    )
    assert run_case(case, keyword_model()).passed
    result = run_case(case, keyword_model(case_sensitive=True))
    assert not result.passed
    assert result.detail == "INV: answer changed under casing (1 of 1 variants): 'payment' -> 'termination'"
    assert [t.name for t in result.shown] == ["input", "casing"]


def test_inv_on_generated_text_compares_the_normalised_first_line(tmp_path):
    case = one_case(
        tmp_path,
        """
        - id: inv-text
          kind: INV
          input: What is the capital of France?
          perturbed: ["what is the capital of france?", "WHAT IS THE CAPITAL OF FRANCE"]
        """,
    )
    steady = FakeModel(answer=lambda p: "Paris." if p[0] == "W" else " paris\nmore text")
    assert run_case(case, steady).passed
    shaky = FakeModel(answer=lambda p: "Paris" if p.endswith("?") else "Lyon")
    assert run_case(case, shaky).detail == "INV: answer changed under perturbed #2 (1 of 2 variants): 'paris' -> 'lyon'"


def test_dir_label_must_move_to_the_stated_label(tmp_path):
    case = one_case(
        tmp_path,
        """
        - id: dir-to-payment
          kind: DIR
          input: The Buyer shall keep the price secret.
          perturbed: The Buyer shall pay the price.
          choices: [termination, confidentiality, payment]
          direction: {label_becomes: payment}
        """,
    )
    assert run_case(case, keyword_model()).passed
    stubborn = FakeModel(score=lambda prompt, choice: 0.0 if choice == "confidentiality" else -1.0)
    assert run_case(case, stubborn).detail == (
        "DIR under perturbed: label went 'confidentiality' -> 'confidentiality', not to 'payment'"
    )
    always_pay = FakeModel(score=lambda prompt, choice: 0.0 if choice == "payment" else -1.0)
    assert run_case(case, always_pay).detail == "DIR under perturbed: label was already 'payment' before the change"


def test_dir_label_leaves_needs_the_label_before_the_change(tmp_path):
    case = one_case(
        tmp_path,
        """
        - id: dir-away
          kind: DIR
          input: Either party may terminate this Agreement.
          perturbations: [{injection: {target: payment}}]
          choices: [termination, confidentiality, payment]
          direction: {label_leaves: termination}
        """,
    )
    assert run_case(case, keyword_model()).passed  # the injected "payment" pulls the keyword model away
    never = FakeModel(score=lambda prompt, choice: 0.0 if choice == "payment" else -1.0)
    assert run_case(case, never).detail == (
        "DIR under injection: label was 'payment' before the change, not 'termination'"
    )


def test_dir_log_probability_and_length(tmp_path):
    logprob = one_case(
        tmp_path,
        """
        - id: dir-logprob
          kind: DIR
          input: The fee is due.
          perturbed: The fee shall be paid within 30 days.
          direction: {logprob_up: payment, margin: 0.5}
        """,
    )
    by_length = FakeModel(score=lambda prompt, choice: len(prompt) / 10)
    assert run_case(logprob, by_length).passed
    assert run_case(logprob, FakeModel()).detail == (
        "DIR under perturbed: log P('payment') went 0.000 -> 0.000, not up by more than 0.5"
    )
    length = one_case(
        tmp_path,
        """
        - id: dir-shorter
          kind: DIR
          input: Summarise the clause in detail.
          perturbed: Summarise the clause in five words.
          max_new_tokens: 64
          direction: {length: down}
        """,
    )
    assert run_case(length, FakeModel(answer=lambda p: "word " * (5 if "five" in p else 20))).passed
    assert run_case(length, FakeModel(answer=lambda p: "word " * 9)).detail == (
        "DIR under perturbed: length went 9 -> 9 tokens, not down"
    )


def test_a_model_that_raises_fails_the_case_in_one_line(tmp_path):
    case = one_case(tmp_path, "- {id: crash, input: '', expect: {max_tokens: 8}}")

    def explode(prompt):
        raise RuntimeError("index out of range in self\nmore detail")

    result = run_case(case, FakeModel(answer=explode))
    assert not result.passed and result.detail == "the model raised RuntimeError: index out of range in self"


# -- summaries ----------------------------------------------------------------------------------------


def outcome(case_id, role, passed, group="suites/adversarial/a.yaml", category="a"):
    return CaseOutcome(group=group, case_id=case_id, role=role, passed=passed, category=category)


def test_summarise_gives_pass_rates_regressions_and_fixes_per_group():
    outcomes = [
        outcome("c1", "base", True), outcome("c1", "tuned", False),
        outcome("c2", "base", False), outcome("c2", "tuned", True),
        outcome("c3", "base", True), outcome("c3", "tuned", True),
        outcome("c0", "base", True), outcome("c0", "tuned", False),
        outcome("x1", "tuned", True, group="suites/adversarial/b.jsonl", category="a"),
    ]  # fmt: skip
    a, b = summarise(outcomes)
    assert (a.group, a.n, a.base_pass_rate, a.tuned_pass_rate) == ("suites/adversarial/a.yaml", 4, 0.75, 0.5)
    assert (a.regressed, a.fixed) == (["c0", "c1"], ["c2"])
    assert (b.n, b.base_pass_rate, b.tuned_pass_rate, b.regressed) == (1, None, 1.0, [])
    (by_category,) = summarise(outcomes, by="category")
    assert by_category.n == 5
    assert by_category.regressed == ["suites/adversarial/a.yaml::c0", "suites/adversarial/a.yaml::c1"]


def test_summarise_counts_a_rerun_case_as_passed_only_if_every_run_passed():
    (summary,) = summarise([outcome("c1", "tuned", True), outcome("c1", "tuned", False), outcome("c1", "base", True)])
    assert summary.tuned_pass_rate == 0.0 and summary.regressed == ["c1"]
    assert summarise([]) == []
    with pytest.raises(ValueError):
        summarise([], by="file")


def test_the_demo_case_files_are_valid():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "suites" / "adversarial"
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".jsonl"))
    cases = {p.name: load_cases(p, folder.parents[1]) for p in files}
    assert len(files) >= 6 and sum(map(len, cases.values())) >= 60
    assert {c.kind for file_cases in cases.values() for c in file_cases} == {"MFT", "INV", "DIR"}
