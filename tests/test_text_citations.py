"""One definition of a citation: case files and the hallucination metric judge the same answer the same way."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from harness import metrics
from harness.expectations import EXPECTATIONS, CaseContext, Observation
from harness.text.citations import find_citations, unsupported_citations

reproducible = settings(derandomize=True, deadline=None, max_examples=60)

CITATIONS = [
    "Smith v. Jones",
    "Acme Corp. v. Beta Holdings LLC",
    "17 U.S.C. § 107",
    "Cal. Civ. Code § 1668",
    "Section 12.3(b)",
    "§ 4",
    "https://example.com/ruling",
    "www.example.com/case",
]
FILLER = ["See", "Under", "as held in", "and", "the clause is void.", "The capital of France is Paris.", ";", ","]


def case_file_verdict(answer: str, grounding: list[str]) -> bool:
    """True when a case's `no_unsupported_citations: {allow_input: true}` fails the answer."""
    kind = EXPECTATIONS["no_unsupported_citations"]
    argument = kind.prepare({"allow_input": True}, CaseContext(input="\n".join(grounding)))
    return kind.check(Observation(text=answer), argument) is not None


def metric_verdict(answer: str, grounding: list[str]) -> bool:
    result = metrics.hallucination_rate([answer], ["\n".join(grounding)], ["a"], n_resamples=10)
    return result.value == 1.0


def test_a_named_code_and_a_bare_url_are_whole_citations():
    text = "See Cal. Civ. Code § 1668 for the rule; see www.example.com/case."
    assert [(c.kind, c.text) for c in find_citations(text)] == [
        ("url", "www.example.com/case"),
        ("statute", "Cal. Civ. Code § 1668"),
    ]
    assert unsupported_citations(text, ["Cal. Civ. Code § 1668.", "www.example.com/case"]) == []
    assert [c.text for c in unsupported_citations(text, ["Cal. Civ. Code § 1667"])] == [
        "www.example.com/case",
        "Cal. Civ. Code § 1668",
    ]


def test_the_metric_and_a_case_file_flag_the_same_examples_from_the_review():
    answer = "See Cal. Civ. Code § 1668; see www.example.com/case."
    for grounding in (
        ["Cal. Civ. Code § 1668"],
        ["www.example.com/case"],
        ["Cal. Civ. Code § 1668 www.example.com/case"],
    ):
        assert case_file_verdict(answer, grounding) == metric_verdict(answer, grounding)
    assert metric_verdict(answer, ["Cal. Civ. Code § 1668"]) and not metric_verdict(answer, [answer])


@reproducible
@given(
    answer=st.lists(st.sampled_from(CITATIONS + FILLER), max_size=8),
    grounding=st.lists(st.sampled_from(CITATIONS + FILLER), max_size=6),
)
def test_case_files_and_the_metric_agree_on_every_answer(answer, grounding):
    text, sources = " ".join(answer), [" ".join(grounding)]
    assert case_file_verdict(text, sources) == metric_verdict(text, sources)
    if not any(c in answer for c in CITATIONS):
        assert not metric_verdict(text, sources)


@reproducible
@given(cited=st.lists(st.sampled_from(CITATIONS), min_size=1, max_size=4, unique=True))
def test_every_citation_in_the_grounding_is_supported_and_none_without_it(cited):
    answer = "As held in " + ", and ".join(cited) + "."
    assert unsupported_citations(answer, [" ".join(cited)]) == []
    assert metrics.hallucination_rate([answer], [set(cited)], ["a"], n_resamples=10).value == 0.0
    assert len(unsupported_citations(answer, [])) == len(cited)


def test_custom_patterns_compare_what_they_match():
    patterns = [re.compile(r"\[\d+\]")]
    assert [c.text for c in find_citations("cites [12] and [7].", patterns)] == ["[12]", "[7]"]
    assert [c.text for c in unsupported_citations("cites [12] and [7].", ["see [12]"], patterns)] == ["[7]"]
