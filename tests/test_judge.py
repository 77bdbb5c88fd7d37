"""The judge: grades by log-likelihood of each option, both-order pairwise, ERROR on unparsable server
answers, refusal to judge a model under evaluation, and the response cache."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.judge import ERROR, Grade, Judge, Preference, SelfJudging, check_not_self
from harness.judge.assess import RunAnswers, assess_criterion, assess_pairwise, position_bias
from harness.judge.constrained import choice_payload, parse_choice
from harness.judge.grader import CONSTRAINED, LOGLIKELIHOOD
from harness.judge.prompts import criterion_prompt
from harness.models.base import Loglikelihood
from harness.models.cache import ResponseCache
from harness.models.loading import LoadOptions, load_model
from harness.review.rubric import parse_rubric

SERVER = Path(__file__).with_name("openai_test_server.py")
RUBRIC = parse_rubric(
    """
name: short
instructions: Grade the summary.
criteria:
  - name: accuracy
    question: Is it right?
    kind: scale
    min: 1
    max: 3
    pass_at: 2
    anchors: {1: Wrong., 2: Mostly right., 3: Right.}
  - name: tone
    kind: labels
    labels: [neutral, casual]
    pass_labels: [neutral]
  - name: factual
    kind: pass_fail
"""
)


class ScriptedJudge:
    """A Model whose log-likelihoods are set by a rule (to check the judge's arithmetic, not a model's taste)."""

    role, name, fingerprint = "judge", "scripted", "scripted-judge"

    def __init__(self, score) -> None:
        self.score = score
        self.requests: list[tuple[str, str]] = []

    def generate(self, prompts, settings=None):
        raise AssertionError("a log-likelihood judge never generates")

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        self.requests += list(requests)
        return [Loglikelihood(float(self.score(context, continuation)), False, 1) for context, continuation in requests]

    def loglikelihood_rolling(self, texts):
        raise AssertionError("not used")


def prefers_good(context: str, continuation: str) -> float:
    """Picks the answer (A or B) whose text says GOOD: a consistent judge."""
    a = context.split("Answer A:\n", 1)[1].split("\n", 1)[0]
    better = "A" if "GOOD" in a else "B"
    return 0.0 if continuation.strip() == better else -5.0


@pytest.fixture(scope="module")
def judge_dir(tiny_dirs):
    from tiny_models import build_model

    return build_model(tiny_dirs["root"] / "judge", seed=7, context=512)


@pytest.fixture(scope="module")
def tiny_judge(judge_dir):
    return load_model(str(judge_dir), LoadOptions(batch_size=4), role="judge", option="--judge-model")


def test_grade_is_the_option_with_the_highest_loglikelihood(tiny_judge):
    judge = Judge(tiny_judge, RUBRIC)
    assert judge.method == LOGLIKELIHOOD
    criterion = RUBRIC.criterion("tone")
    prompts, refs, answers = ["Clause: pay in 30 days."] * 2, ["Pay in 30 days."] * 2, ["Pay in 30 days.", "lol pay"]
    grades = judge.grade(criterion, prompts, refs, answers)
    for grade, answer in zip(grades, answers, strict=True):
        request = criterion_prompt(RUBRIC, criterion, prompts[0], refs[0], answer)
        expected = tiny_judge.loglikelihood([(request, " " + option) for option in criterion.options])
        logprobs = [e.logprob for e in expected]
        assert grade.logprobs == pytest.approx(logprobs)
        assert grade.option == criterion.options[logprobs.index(max(logprobs))]


def test_scripted_preference_picks_that_option_on_every_kind_of_criterion():
    for name, wanted in (("accuracy", "3"), ("tone", "casual"), ("factual", "fail")):
        criterion = RUBRIC.criterion(name)
        judge = Judge(ScriptedJudge(lambda _c, option, w=wanted: 0.0 if option.strip() == w else -3.0), RUBRIC)
        grades = judge.grade(criterion, ["p", "q"], ["r", "r"], ["x", "y"])
        assert [g.option for g in grades] == [wanted, wanted]
        assert len(judge.model.requests) == 2 * len(criterion.options)


def test_the_prompt_carries_the_rubric_anchors_and_the_answer():
    text = criterion_prompt(RUBRIC, RUBRIC.criterion("accuracy"), "The clause.", "The ref.", "The summary.")
    for part in ("Is it right?", "- 1: Wrong.", "- 3: Right.", "The clause.", "The ref.", "The summary.", "Grade:"):
        assert part in text


def test_pairwise_asks_both_orders_and_counts_only_consistent_preferences():
    model = ScriptedJudge(prefers_good)
    judge = Judge(model, RUBRIC)
    base, tuned = ["GOOD b1", "b2", "GOOD b3"], ["t1", "GOOD t2", "GOOD t3"]
    preferences = judge.compare(["p1", "p2", "p3"], ["r"] * 3, base, tuned)
    shown_first = [context.split("Answer A:\n", 1)[1].split("\n", 1)[0] for context, _ in model.requests[::2]]
    assert sorted(shown_first) == sorted(base + tuned)  # every pair asked with each answer first
    # item 3: both GOOD, so the scripted judge picks B in both orders: position, not preference
    assert [p.winner for p in preferences] == ["base", "tuned", None]
    run = RunAnswers("s", ["1", "2", "3"], ["p1", "p2", "p3"], ["r"] * 3, base, tuned)
    result = assess_pairwise(run, preferences, None, judge_name="scripted", min_win_rate=None)
    win = result.named("judged_win_rate")
    assert win.result.value == 0.5 and win.result.n == 2 and win.rules == {}
    assert win.result.details["inconsistent"] == 1


def test_position_bias_is_measured():
    always_a = [Preference(Grade("A"), Grade("A")) for _ in range(20)]
    assert all(p.winner is None for p in always_a)
    bias = position_bias(always_a)
    assert bias["first_position_share"] == 1.0 and bias["p_value"] < 1e-6
    fair = [Preference(Grade("B"), Grade("A")), Preference(Grade("A"), Grade("B"))] * 10
    assert position_bias(fair)["first_position_share"] == 0.5 and position_bias(fair)["p_value"] == 1.0


@pytest.mark.parametrize(
    ("text", "chat", "expected"),
    [
        ("2", False, "2"),
        (" neutral\n", False, "neutral"),
        ("2.", False, ERROR),
        ("I think 2", False, ERROR),
        ("", False, ERROR),
        ('{"grade": "2"}', True, "2"),
        ('{"grade": "4"}', True, ERROR),
        ('{"grade": 2}', True, ERROR),
        ("2", True, ERROR),
        ("[1, 2]", True, ERROR),
    ],
)
def test_an_answer_that_is_not_an_option_is_an_error_never_a_grade(text, chat, expected):
    grade = parse_choice(text, ("1", "2", "3", "neutral"), chat)
    assert grade.label == expected
    if expected == ERROR:
        assert "not one of" in grade.error


def test_constrained_requests_carry_the_options():
    path, payload = choice_payload("m", "prompt", ("pass", "fail"), chat=False)
    assert path == "/completions" and payload["structured_outputs"] == {"choice": ["pass", "fail"]}
    path, payload = choice_payload("m", "prompt", ("pass", "fail"), chat=True)
    schema = payload["response_format"]["json_schema"]["schema"]
    assert path == "/chat/completions" and schema["properties"]["grade"]["enum"] == ["pass", "fail"]


def test_all_errors_on_a_criterion_is_an_error_naming_the_judge_problem():
    run = RunAnswers("s", ["1", "2"], ["p", "q"], ["r", "r"], ["a", "b"], ["c", "d"])
    broken = [Grade(None, "the judge answered 'lol', not one of 1, 2, 3")] * 2
    with pytest.raises(HarnessError, match="no usable 'accuracy' grade.*lol"):
        assess_criterion(
            RUBRIC.criterion("accuracy"), run, {"base": broken, "tuned": broken}, None, judge_name="j", max_drop=0.05,
            alpha=0.05,
        )  # fmt: skip


def test_an_item_with_an_error_on_either_side_is_dropped_and_counted():
    run = RunAnswers("s", ["1", "2", "3"], ["p"] * 3, ["r"] * 3, ["a", "b", "c"], ["d", "e", "f"])
    base = [Grade("3"), Grade(None, "bad"), Grade("1")]
    tuned = [Grade("3"), Grade("3"), Grade("3")]
    out = assess_criterion(
        RUBRIC.criterion("accuracy"), run, {"base": base, "tuned": tuned}, None, judge_name="j", max_drop=0.05,
        alpha=0.05,
    )  # fmt: skip
    tuned_result = out.named("judged_pass_accuracy").result
    assert set(tuned_result.per_item) == {"1", "3"}
    assert out.named("judged_pass_accuracy", "base").result.value == 0.5
    assert tuned_result.details["errors"]["base"] == 1 and tuned_result.details["items_dropped_for_errors"] == 1


def test_the_judge_may_not_be_a_model_it_grades(tiny_dirs, tiny_pair, tiny_judge):
    same = load_model(str(tiny_dirs["base"]), LoadOptions(), role="judge", option="--judge-model")
    evaluated = {"base": tiny_pair.base, "tuned": tiny_pair.tuned}
    with pytest.raises(SelfJudging, match="(?s)is the base model under evaluation.*--allow-self-judge"):
        check_not_self(same, evaluated, allow_self_judge=False)
    adapter = load_model(str(tiny_dirs["adapter"]), LoadOptions(), role="judge", option="--judge-model")
    with pytest.raises(SelfJudging, match="is the tuned model"):
        check_not_self(adapter, evaluated, allow_self_judge=False)
    notes = check_not_self(same, evaluated, allow_self_judge=True)
    assert "--allow-self-judge" in notes[0]
    assert check_not_self(tiny_judge, evaluated, allow_self_judge=False) == []


def test_judge_answers_come_from_the_cache_the_second_time(tiny_judge, tmp_path):
    cache = ResponseCache(tmp_path / "responses.sqlite")
    criterion = RUBRIC.criterion("accuracy")
    first = Judge(tiny_judge, RUBRIC, cache=cache)
    grades = first.grade(criterion, ["p1", "p2"], ["r", "r"], ["a", "b"])
    assert first.model.misses == 6 and first.model.hits == 0
    again = Judge(tiny_judge, RUBRIC, cache=cache)
    assert again.grade(criterion, ["p1", "p2"], ["r", "r"], ["a", "b"]) == grades
    assert again.model.hits == 6 and again.model.misses == 0


@pytest.fixture(scope="module")
def server_without_logprobs(judge_dir):
    process = subprocess.Popen(
        [sys.executable, str(SERVER), str(judge_dir), "--no-logprobs"], stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()
    assert "TEST SERVER listening on" in line, line
    yield line.split()[-1]
    process.terminate()
    process.wait(10)


def _requests(url: str) -> int:
    import json

    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        return json.loads(response.read())["requests"]


def test_a_server_without_logprobs_is_asked_for_a_choice_and_free_text_is_an_error(server_without_logprobs, tmp_path):
    url = server_without_logprobs
    model = load_model(f"openai+{url}?model=test-model", LoadOptions(), role="judge", option="--judge-model")
    cache = ResponseCache(tmp_path / "responses.sqlite")
    judge = Judge(model, RUBRIC, cache=cache)
    assert judge.method == CONSTRAINED
    # The test server ignores the constraint (as a server without structured output would): its free text
    # is never read as a grade.
    grades = judge.grade(RUBRIC.criterion("factual"), ["p1", "p2"], ["r", "r"], ["a", "b"])
    assert all(not g.ok and "not one of pass, fail" in g.error for g in grades)
    asked = _requests(url)
    assert Judge(model, RUBRIC, cache=cache).grade(RUBRIC.criterion("factual"), ["p1", "p2"], ["r", "r"], ["a", "b"])
    assert _requests(url) == asked  # the second time from the cache


def test_a_server_with_logprobs_is_judged_by_loglikelihood_like_the_local_model(judge_dir, tiny_judge, tmp_path):
    process = subprocess.Popen([sys.executable, str(SERVER), str(judge_dir)], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "TEST SERVER listening on" in line, line
        url = line.split()[-1]
        model = load_model(f"openai+{url}?model=test-model", LoadOptions(), role="judge", option="--judge-model")
        judge = Judge(model, RUBRIC, cache=ResponseCache(tmp_path / "responses.sqlite"))
        assert judge.method == LOGLIKELIHOOD
        criterion = RUBRIC.criterion("accuracy")
        served = judge.grade(criterion, ["p1", "p2"], ["r", "r"], ["a", "b"])
        local = Judge(tiny_judge, RUBRIC).grade(criterion, ["p1", "p2"], ["r", "r"], ["a", "b"])
        assert [g.option for g in served] == [g.option for g in local]
        assert [g.logprobs for g in served] == [pytest.approx(g.logprobs, abs=1e-3) for g in local]
        assert judge.model.misses == 6
    finally:
        process.terminate()
        process.wait(10)
