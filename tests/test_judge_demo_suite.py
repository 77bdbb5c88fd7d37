"""The judged suite on the demo models without --judge-model: demo:judge grades, and its rows sit next to ROUGE."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CRITERIA = ("accuracy", "factual_correctness", "coherence", "tone", "guideline_adherence")


def test_a_demo_run_without_a_judge_model_is_judged_by_the_scripted_judge(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    suites = pytester.path / "suites"
    suites.mkdir()
    for name in ("conftest.py", "test_judged_answers.py", "test_clause_summaries.py"):
        shutil.copy(ROOT / "suites" / name, suites / name)
    data = pytester.path / "data"
    data.mkdir()
    lines = (ROOT / "fixtures" / "data" / "clause_summaries.jsonl").read_text().splitlines()[:12]
    (data / "clause_summaries.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(pytester.path / "cache"))
    report = pytester.path / "verdicts.json"
    result = pytester.runpytest(
        "suites",
        f"--eval-data={data}",
        f"--judge-rubric={ROOT / 'fixtures' / 'review' / 'rubric.yaml'}",  # the copied suite has no fixtures/
        "--threads=1",
        "-p",
        "no:cacheprovider",
        f"--rootdir={pytester.path}",
        f"--harness-json={report}",
        "--allow-inconclusive",  # 12 items are too few to tell; the rows are what this checks
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == outcomes.get("errors", 0) == 0, result.stdout.str()[-3000:]
    rows = json.loads(report.read_text())["metrics"]
    names = {row["metric"] for row in rows}
    assert {f"judged_pass_{c}" for c in CRITERIA} | {"judged_win_rate", "summary_rougeL"} <= names
    judged = [row for row in rows if row["metric"] == "judged_pass_accuracy"]
    assert judged and all(row["base"] is not None and row["tuned"] is not None for row in judged)
    result.stdout.fnmatch_lines(["*demo:judge, the demo's scripted judge*"])
    result.stdout.fnmatch_lines(["*summary_rougeL*"])
    result.stdout.fnmatch_lines(["*judged_pass_factual_correctness*"])
