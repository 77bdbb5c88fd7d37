"""The promotion workflow end to end through pytester: pass, fail, stale, promote, xdist."""

from __future__ import annotations

import json
import re

import pytest

SUITE = """
import json
from pathlib import Path

from harness import MetricResult
from harness.data import TEXT, load_eval_set


def test_skill(model, record_metric):
    config = json.loads(Path("scores.json").read_text())
    items = load_eval_set("items.jsonl", TEXT)
    right = config[model.role]
    scores = [1.0 if k < right else 0.0 for k in range(len(items))]
    value = sum(scores) / len(scores)
    result = MetricResult("skill", value, (value, value), len(scores), dict(zip(items.ids, scores)))
    record_metric(result, eval_set=items, max_drop_vs_base=0.05, max_drop_vs_promoted=0.05, alpha=0.05)
"""


@pytest.fixture
def project(pytester, run_on_tiny):
    pytester.makeini("[pytest]\n")  # makes the test directory the rootdir
    pytester.makepyfile(test_suite=SUITE)
    items = "\n".join(json.dumps({"id": f"item-{k:03d}", "text": f"text {k}"}) for k in range(60))
    (pytester.path / "items.jsonl").write_text(items + "\n")

    def run(base: int, tuned: int, *args: str) -> pytest.RunResult:
        (pytester.path / "scores.json").write_text(json.dumps({"base": base, "tuned": tuned}))
        return run_on_tiny(*args, subprocess="-n" in args)

    return run


def baseline(pytester) -> dict:
    return json.loads((pytester.path / "baselines" / "test_suite.json").read_text())


def test_passing_run_exits_zero_and_shows_the_table(project):
    result = project(55, 56)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*promotion gate*", "*test_suite.py*skill*0.917*0.933*Tango: within p=0.02*PASS (same)*", "verdict: PROMOTE"]
    )


def test_forgetting_fails_the_run_without_a_traceback(project):
    result = project(58, 20, "--harness-json", "gate.json", "--harness-markdown", "gate.md", "--junitxml", "j.xml")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*FAIL skill dropped vs base: 0.967 -> 0.333*lies above the allowed 0.050; Tango score test*",
            "verdict: DO NOT PROMOTE: 1 gated metric(s) failed",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    report = json.loads(open("gate.json").read())
    assert report["passed"] is False and report["metrics"][0]["failures"]
    assert report["verdict"] == "DO NOT PROMOTE"
    [test] = report["metrics"][0]["margin_tests"]
    assert test["verdict"] == "FAIL" and test["bounds"][0] > test["margin"] and test["method"].startswith("Tango")
    assert "**1 metric(s) failed the gate**" in open("gate.md").read()
    import xml.dom.minidom

    xml.dom.minidom.parse("j.xml")


def test_promote_then_regress_against_promoted(project, pytester):
    assert project(30, 50, "--promote").ret == 0
    stored = baseline(pytester)
    assert stored["promoted"]["skill"]["result"]["value"] == pytest.approx(50 / 60, abs=1e-6)
    assert stored["base"] == {}
    result = project(30, 35)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAIL skill dropped vs promoted: 0.833 -> 0.583*"])


def test_a_drop_the_items_cannot_tell_is_inconclusive_exit_6_unless_allowed(project, pytester):
    """58 vs 55 right of 60: a drop of 0.05 may or may not be there; the run says so and does not promote."""
    result = project(58, 55, "--promote", "--harness-json", "gate.json")
    assert result.ret == 6
    result.stdout.fnmatch_lines(
        [
            "INCONCLUSIVE skill vs base: drop 0.050, 90% interval of the drop*contains the allowed 0.050; "
            "about * more paired items would tell a drop of 0.050 from none at 80% power",
            "not promoted: the run's verdict is INCONCLUSIVE*",
            "verdict: INCONCLUSIVE: 1 gated metric(s) inconclusive",
            "*2 passed, 1 inconclusive*",
        ]
    )
    assert json.loads(open("gate.json").read())["verdict"] == "INCONCLUSIVE"
    assert not (pytester.path / "baselines" / "test_suite.json").exists()
    allowed = project(58, 55, "--allow-inconclusive")
    assert allowed.ret == 0
    allowed.stdout.fnmatch_lines(
        ["verdict: INCONCLUSIVE: 1 gated metric(s) inconclusive (allowed by --allow-inconclusive)"]
    )


def test_promote_is_refused_after_a_failing_run_unless_forced(project, pytester):
    result = project(58, 10, "--promote")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*not promoted: the run's verdict is DO NOT PROMOTE*--force*"])
    assert not (pytester.path / "baselines" / "test_suite.json").exists()
    assert project(58, 10, "--promote", "--force").ret == 1
    assert baseline(pytester)["promoted"]["skill"]["result"]["value"] == pytest.approx(10 / 60, abs=1e-6)


def test_changed_eval_data_makes_the_baseline_stale_with_the_refresh_command(project, pytester):
    assert project(30, 50, "--promote").ret == 0
    lines = (pytester.path / "items.jsonl").read_text().splitlines()
    (pytester.path / "items.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    result = project(30, 10)
    result.stdout.fnmatch_lines(
        [
            "*stale: stored promoted baseline of skill is stale: recorded on different eval data*"
            "`pytest test_suite.py --promote`*"
        ]
    )


def test_update_baselines_and_reuse_base(project, pytester):
    assert project(40, 45, "--update-baselines").ret == 0
    assert baseline(pytester)["base"]["skill"]["result"]["value"] == pytest.approx(40 / 60, abs=1e-6)
    result = project(0, 45, "--reuse-base", "-v")
    result.stdout.fnmatch_lines(["*test_skill?base? SKIPPED*", "*skill*0.667*(stored)*0.750*"])


def test_an_a_a_run_measures_the_noise_of_the_stack(pytester, tiny_dirs):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_lm="""
from harness.data import TEXT, load_eval_set
from harness.metrics import perplexity
from harness.scoring import rolling_loglikelihoods


def test_perplexity(model, record_metric):
    items = load_eval_set("items.jsonl", TEXT)
    result = perplexity(rolling_loglikelihoods(model, items["text"]), items["text"], items.ids, name="ppl")
    record_metric(result, eval_set=items, max_drop_vs_base="10%")
"""
    )
    rows = [json.dumps({"id": f"t{k}", "text": f"The capital of France is Paris. {k}"}) for k in range(30)]
    (pytester.path / "items.jsonl").write_text("\n".join(rows) + "\n")
    result = pytester.runpytest(
        "--base-model",
        str(tiny_dirs["base"]),
        "--tuned-model",
        "same-as-base",
        "-p",
        "no:cacheprovider",
        f"--rootdir={pytester.path}",
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["A/A noise floor, |tuned - base| with the base against itself: ppl * (margin *)", "verdict: PROMOTE"]
    )


def test_clustered_items_are_resampled_by_cluster(pytester, run_on_tiny):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=SUITE)
    rows = [json.dumps({"id": f"item-{k:03d}", "text": f"text {k}", "cluster": f"doc-{k // 6}"}) for k in range(60)]
    (pytester.path / "items.jsonl").write_text("\n".join(rows) + "\n")
    (pytester.path / "scores.json").write_text(json.dumps({"base": 50, "tuned": 50}))
    result = run_on_tiny(
        "--harness-json",
        "gate.json",
    )
    report = json.loads((pytester.path / "gate.json").read_text())
    [test] = report["metrics"][0]["margin_tests"]
    assert test["method"] == "studentized cluster bootstrap of the mean (10 clusters)", result.stdout.str()
    assert test["n"] == 10


def test_xdist_writes_the_same_baselines_but_for_the_thread_count(project, pytester):
    """The numbers are identical serial or under xdist; only the recorded environment says 2 threads vs 1."""

    def without_threads(text: str) -> str:
        return re.sub(r'"threads": \d+', '"threads": N', text)

    assert project(40, 45, "--update-baselines", "--promote").ret == 0
    serial = (pytester.path / "baselines" / "test_suite.json").read_text()
    (pytester.path / "baselines" / "test_suite.json").unlink()
    assert project(40, 45, "--update-baselines", "--promote", "-n", "2").ret == 0
    parallel = (pytester.path / "baselines" / "test_suite.json").read_text()
    assert without_threads(parallel) == without_threads(serial)
