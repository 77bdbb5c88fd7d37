"""suites/test_judged_answers.py run by pytest on the tiny models: skipped without a judge, judged rows in
the report with one, and the refusal of a judge that is a model under evaluation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def judged_suite(pytester: pytest.Pytester, tiny_dirs):
    """The judged-answers suite and its conftest in the pytester directory, with 8 clause summaries."""
    from tiny_models import build_model

    suites = pytester.path / "suites"
    suites.mkdir()
    for name in ("conftest.py", "test_judged_answers.py"):
        shutil.copy(ROOT / "suites" / name, suites / name)
    data = pytester.path / "data"
    data.mkdir()
    lines = (ROOT / "fixtures" / "data" / "clause_summaries.jsonl").read_text().splitlines()[:8]
    (data / "clause_summaries.jsonl").write_text("\n".join(lines) + "\n")
    judge = tiny_dirs["root"] / "suite-judge"
    if not judge.exists():
        build_model(judge, seed=11, context=512)
    rubric = ROOT / "fixtures" / "review" / "rubric.yaml"
    return ["suites", f"--eval-data={data}", f"--judge-rubric={rubric}", "--threads=1"], judge


def test_without_a_judge_the_suite_is_skipped_with_the_reason(judged_suite, run_on_tiny):
    args, _ = judged_suite
    result = run_on_tiny(*args, "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*no judge model: pass --judge-model*"])


def test_with_a_judge_the_judged_rows_are_recorded_for_both_models(judged_suite, run_on_tiny, pytester):
    args, judge = judged_suite
    report = pytester.path / "verdicts.json"
    result = run_on_tiny(*args, f"--judge-model={judge}", f"--harness-json={report}")
    result.assert_outcomes(passed=2)
    metrics = json.loads(report.read_text())
    text = json.dumps(metrics)
    for criterion in ("accuracy", "factual_correctness", "coherence", "tone", "guideline_adherence"):
        assert f"judged_pass_{criterion}" in text
    result.stdout.fnmatch_lines(["*judged_pass_accuracy*", "*judged the same in both orders*"])


def test_a_judge_that_is_the_base_model_is_refused(judged_suite, run_on_tiny, tiny_dirs):
    args, _ = judged_suite
    result = run_on_tiny(*args, f"--judge-model={tiny_dirs['base']}")
    assert result.ret != 0 and result.parseoutcomes()["errors"] == 2
    result.stdout.fnmatch_lines(["*SelfJudging*is the base model under evaluation*"])
    allowed = run_on_tiny(*args, f"--judge-model={tiny_dirs['base']}", "--allow-self-judge")
    allowed.assert_outcomes(passed=2)
    allowed.stdout.fnmatch_lines(["*--allow-self-judge*favour*"])
