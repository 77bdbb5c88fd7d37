"""demo:judge, the scripted judge of the offline demo: its rules per rubric criterion, the log-likelihood path it
goes through, pairwise picks that ignore the side, determinism, its fingerprint, and reading prompts back."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.demo import default_judge
from harness.demo.judge import NAME, DemoJudge
from harness.errors import HarnessError
from harness.judge import Judge, check_not_self
from harness.judge.assess import position_bias
from harness.judge.grader import LOGLIKELIHOOD
from harness.judge.prompts import (
    SECOND_HEADER,
    criterion_prompt,
    pairwise_prompt,
    parse_criterion_prompt,
    parse_pairwise_prompt,
)
from harness.models.cache import ResponseCache
from harness.models.loading import load_model, load_pair
from harness.review.rubric import load_rubric, parse_rubric

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = load_rubric(ROOT / "fixtures" / "review" / "rubric.yaml")
CLAUSE = (
    "Clause: The Licensee shall reimburse the Licensor for reasonable travel expenses within 15 days of "
    "receiving an invoice.\nSummary:"
)
REFERENCE = "The Licensee shall reimburse travel expenses within 15 days."
GOOD = "The Licensee shall reimburse the Licensor for travel expenses within 15 days."
INVENTED = "The Licensee shall reimburse travel expenses within 30 days in the courts of Chicago."
TWO_SENTENCES = "The Licensee shall reimburse travel expenses. It has 15 days."
CASUAL = "So basically you pay the Licensor back for travel within 15 days."
ADVICE = "The Licensee should reimburse travel expenses within 15 days."
CUT_OFF = "The Licensee shall reimburse travel"
GATED = [c for c in RUBRIC.criteria if c.gated]


def grades(answer: str, judge: Judge | None = None) -> dict[str, str]:
    judge = judge or Judge(DemoJudge(), RUBRIC)
    return {c.name: judge.grade(c, [CLAUSE], [REFERENCE], [answer])[0].label for c in GATED}


def passed(answer: str) -> dict[str, bool]:
    return {c.name: c.passes(grade) for c, grade in zip(GATED, grades(answer).values(), strict=True)}


def test_a_good_summary_passes_every_criterion():
    assert all(passed(GOOD).values()), grades(GOOD)
    assert grades(REFERENCE)["accuracy"] == "5" and grades(REFERENCE)["coherence"] == "5"


@pytest.mark.parametrize(
    ("answer", "failing"),
    [
        (INVENTED, {"accuracy", "factual_correctness"}),
        (TWO_SENTENCES, {"coherence", "guideline_adherence"}),
        (CASUAL, {"tone", "factual_correctness", "accuracy"}),
        (ADVICE, {"tone", "guideline_adherence"}),
        (CUT_OFF, {"coherence", "guideline_adherence", "accuracy"}),
    ],
    ids=["invented-fact", "two-sentences", "casual", "advice", "cut-off"],
)
def test_a_flawed_summary_fails_the_criteria_its_flaw_breaks(answer, failing):
    verdicts = passed(answer)
    assert {name for name, ok in verdicts.items() if not ok} == failing, grades(answer)


def test_the_rules_name_the_flaw_in_the_grade():
    assert grades(INVENTED)["accuracy"] == "2"  # "a key party, amount or period is wrong"
    assert grades(CASUAL)["tone"] == "too_casual" and grades(ADVICE)["tone"] == "inappropriate"
    assert grades(CUT_OFF)["coherence"] == "1" and grades(TWO_SENTENCES)["coherence"] == "2"


def test_it_is_graded_through_the_log_likelihood_of_each_option():
    model = DemoJudge()
    judge = Judge(model, RUBRIC)
    assert judge.method == LOGLIKELIHOOD
    accuracy = RUBRIC.criterion("accuracy")
    (grade,) = judge.grade(accuracy, [CLAUSE], [REFERENCE], [INVENTED])
    assert len(grade.logprobs) == len(accuracy.options) == 5
    assert grade.logprobs[accuracy.options.index("2")] == pytest.approx(math.log(0.9))
    assert sum(math.exp(lp) for lp in grade.logprobs) == pytest.approx(1.0)
    prompt = criterion_prompt(RUBRIC, accuracy, CLAUSE, REFERENCE, INVENTED)
    scored = model.loglikelihood([(prompt, " 2"), (prompt, " 5")])
    assert scored[0].is_greedy and not scored[1].is_greedy and scored[0].logprob > scored[1].logprob
    assert model.generate([prompt])[0].text == " 2"


def test_it_is_deterministic_and_has_its_own_stable_fingerprint():
    answers = [GOOD, INVENTED, TWO_SENTENCES, CASUAL, ADVICE, CUT_OFF]
    first = [grades(a, Judge(DemoJudge(), RUBRIC)) for a in answers]
    second = [grades(a, Judge(load_model(NAME, role="judge", option="--judge-model"), RUBRIC)) for a in answers]
    assert first == second
    assert DemoJudge().fingerprint == DemoJudge().fingerprint and DemoJudge().fingerprint.startswith("demo-judge:")


def test_it_is_not_a_demo_model_so_self_judging_is_not_refused():
    pair = load_pair("demo:base", "demo:clauses-replay")
    judge = load_model(NAME, role="judge", option="--judge-model")
    assert judge.fingerprint not in {pair.base.fingerprint, pair.tuned.fingerprint}
    assert check_not_self(judge, {"base": pair.base, "tuned": pair.tuned}, allow_self_judge=False) == []


def test_pairwise_picks_the_better_answer_whichever_side_it_is_shown_on():
    judge = Judge(DemoJudge(), RUBRIC)
    base = [INVENTED, GOOD, CASUAL, GOOD]
    tuned = [GOOD, TWO_SENTENCES, REFERENCE, GOOD]
    preferences = judge.compare([CLAUSE] * 4, [REFERENCE] * 4, base, tuned)
    assert [p.winner for p in preferences] == ["tuned", "base", "tuned", None]  # identical answers: no winner
    assert position_bias(preferences[:3])["first_position_share"] == 0.5


def test_equal_standing_is_decided_by_the_texts_not_the_side():
    from harness.demo.judge_rules import Material, standing

    judge = Judge(DemoJudge(), RUBRIC)
    a, b = REFERENCE, "t" + REFERENCE[1:]  # the same words: equal on every rule and on ROUGE-L
    assert standing(Material(CLAUSE, REFERENCE, a)) == standing(Material(CLAUSE, REFERENCE, b))
    (one,) = judge.compare([CLAUSE], [REFERENCE], [a], [b])
    (other,) = judge.compare([CLAUSE], [REFERENCE], [b], [a])
    assert one.winner == "base" and other.winner == "tuned"  # the alphabetically first text, on either side


def test_the_cache_serves_its_grades_the_second_time(tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite")
    first = Judge(DemoJudge(), RUBRIC, cache=cache)
    before = grades(INVENTED, first)
    again = Judge(DemoJudge(), RUBRIC, cache=cache)
    assert grades(INVENTED, again) == before and again.model.misses == 0 and again.model.hits > 0


def test_what_it_cannot_grade_is_a_clear_error():
    judge = DemoJudge()
    with pytest.raises(HarnessError, match="only answers the harness's judge prompts|not a judge prompt"):
        judge.loglikelihood([("Clause: pay.\nSummary:", " The")])
    with pytest.raises(HarnessError, match="perplexity"):
        judge.loglikelihood_rolling(["text"])
    other = parse_rubric("name: x\ncriteria:\n  - name: brevity\n    kind: pass_fail\n")
    with pytest.raises(HarnessError, match="no rule for the rubric criterion 'brevity'"):
        Judge(judge, other).grade(other.criteria[0], [CLAUSE], [REFERENCE], [GOOD])
    with pytest.raises(HarnessError, match="scripted judge, not a model with weights"):
        load_pair("demo:judge", "demo:clauses")


def test_only_a_run_on_the_demo_models_gets_the_scripted_judge_by_default(tmp_path):
    assert default_judge("demo:base") == NAME
    assert default_judge(str(tmp_path / "my-model")) is None
    assert default_judge("openai+http://127.0.0.1:8000/v1?model=m") is None


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
markers = st.sampled_from(["\n\nCriterion: x\n", "\n\nAnswer to grade:\n", "\nGrade:", "\n\nReference answer:\n"])
answers = st.lists(st.one_of(texts, markers), max_size=5).map("".join)


@settings(max_examples=150, deadline=None)
@given(task=texts, reference=texts, answer=answers, criterion=st.sampled_from(GATED))
def test_a_criterion_prompt_reads_back_into_its_parts(task, reference, answer, criterion):
    if any(m in task + reference for m in ("\n\nReference answer:\n", "\n\nAnswer to grade:\n")):
        return  # eval-set text holding the layout's own markers is not what this reads back
    request = parse_criterion_prompt(criterion_prompt(RUBRIC, criterion, task, reference, answer))
    assert (request.task, request.answer, request.criterion) == (task.strip(), answer.strip(), criterion.name)
    assert request.reference == reference.strip() and request.options == criterion.options


@settings(max_examples=150, deadline=None)
@given(task=texts, first=texts, second=answers)
def test_a_pairwise_prompt_reads_back_into_its_parts(task, first, second):
    if "\n\nReference answer:\n" in task or "\n\nAnswer A:\n" in task or f"\n\n{SECOND_HEADER}\n" in first:
        return
    request = parse_pairwise_prompt(pairwise_prompt(RUBRIC, task, REFERENCE, first, second))
    assert (request.task, request.reference, request.first, request.second) == (
        task.strip(),
        REFERENCE,
        first.strip(),
        second.strip(),
    )
