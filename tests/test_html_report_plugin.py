"""Through pytest: the headline names every reason for the exit status, and --harness-json / --harness-html
keep what the page needs (per-item scores, both models' answers) on every run, not only with --promote."""

from __future__ import annotations

import json

import pytest

SUITE = """
import json
from pathlib import Path
from types import SimpleNamespace

from harness import MetricResult
from harness.data import GENERATION, load_eval_set


def test_skill(model, record_metric):
    right = json.loads(Path("scores.json").read_text())[model.role]
    items = load_eval_set("items.jsonl", GENERATION)
    scores = [1.0 if k < right else 0.0 for k in range(len(items))]
    value = sum(scores) / len(scores)
    result = MetricResult("skill", value, (value, value), len(scores), dict(zip(items.ids, scores)))
    texts = [("<script>alert(1)</script>" if model.role == "tuned" else "fine") for _ in items.ids]
    outputs = SimpleNamespace(ids=items.ids, texts=texts, references=items["reference"])
    record_metric(result, eval_set=items, outputs=outputs, max_drop_vs_base=0.05, alpha=0.05)


def test_must_pass_case():
    assert json.loads(Path("scores.json").read_text()).get("case", True), "the tuned model broke the case"
"""


@pytest.fixture
def project(pytester, run_on_tiny):
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=SUITE)
    rows = [{"id": f"item-{k:03d}", "prompt": f"prompt {k}", "reference": f"ref {k}"} for k in range(60)]
    (pytester.path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    def run(scores: dict, *args: str) -> pytest.RunResult:
        (pytester.path / "scores.json").write_text(json.dumps(scores))
        return run_on_tiny("--harness-json", "gate.json", "--harness-html", "gate.html", *args, subprocess="-n" in args)

    return run


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_every_reason_for_the_exit_is_under_the_headline(project, pytester, workers):
    pytester.makepyfile(test_broken="import no_such_module_anywhere\n")
    result = project({"base": 58, "tuned": 20, "case": False}, "--continue-on-collection-errors", *workers)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "verdict: DO NOT PROMOTE: *",
            "  - collection error: test_broken.py: *No module named 'no_such_module_anywhere'*",
            "  - test failed: test_suite.py::test_must_pass_case: AssertionError: the tuned model broke the case*",
            "  - gated metric: test_suite.py::skill: skill dropped vs base: 0.967 -> 0.333*",
        ]
    )
    report = json.loads((pytester.path / "gate.json").read_text())
    assert report["verdict"] == "DO NOT PROMOTE"
    assert [r["kind"] for r in report["reasons"]] == ["collection error", "test failed", "gated metric"]
    (skill,) = report["metrics"]
    assert len(skill["tuned"]["per_item"]) == 60 and len(skill["base"]["per_item"]) == 60
    item = report["items"]["items.jsonl"]["item-000"]
    assert item["answers"] == {"base": "fine", "tuned": "<script>alert(1)</script>"}
    page = (pytester.path / "gate.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_a_collection_error_that_stops_the_run_is_named_under_the_headline(project, pytester):
    pytester.makepyfile(test_broken="import no_such_module_anywhere\n")
    result = project({"base": 58, "tuned": 20})
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "verdict: DO NOT PROMOTE*",
            "  - collection error: test_broken.py: *No module named 'no_such_module_anywhere'*",
        ]
    )


def test_a_failed_test_alone_is_named_when_every_gated_metric_passes(project):
    result = project({"base": 55, "tuned": 56, "case": False})
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*test_suite.py*skill*PASS*",
            "verdict: DO NOT PROMOTE: 1 test(s) failed or errored*",
            "  - test failed: test_suite.py::test_must_pass_case: AssertionError: the tuned model broke the case*",
        ]
    )


def test_a_passing_run_promotes_and_writes_the_page(project, pytester):
    result = project({"base": 55, "tuned": 56})
    assert result.ret == 0
    result.stdout.fnmatch_lines(["verdict: PROMOTE", "*"])
    assert "  - " not in result.stdout.str().split("verdict: PROMOTE")[1]
    page = (pytester.path / "gate.html").read_text()
    assert 'data-verdict="PROMOTE"' in page
