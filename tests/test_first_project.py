"""A new user's own project works on the first try: the README's suite, an adapter without --base-model,
a malformed eval file listed as not measured, and a failing gate that pytest's closing line admits."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def readme_suite() -> str:
    """The first Python block under "## Writing a suite" in README.md, as a user would copy it."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Writing a suite") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md has no Python example under 'Writing a suite'"
    return match.group(1)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """An empty directory of the user's own, with the demo clause set as its eval data."""
    pytester.makeini("[pytest]\n")
    (pytester.path / "fixtures" / "data").mkdir(parents=True)
    shutil.copy(REPO / "fixtures" / "data" / "clauses.jsonl", pytester.path / "fixtures" / "data")
    return pytester


def test_the_readme_suite_runs_as_written_on_the_demo_models(project: pytest.Pytester) -> None:
    (project.path / "test_my_skill.py").write_text(readme_suite(), encoding="utf-8")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", f"--rootdir={project.path}")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["harness: base demo:base, tuned demo:clauses-replay", "*clause_accuracy*PASS (better)*"]
    )


SUITE = """
from harness.metrics.result import MetricResult


def test_skill(model, record_metric):
    record_metric(MetricResult("skill", 0.5, (0.4, 0.6), 2, {"a": 1.0, "b": 0.0}))
"""


def test_an_adapter_without_base_model_uses_the_base_its_config_names(pytester, tiny_dirs) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--tuned-model", str(tiny_dirs["adapter"]), "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    named = json.loads((tiny_dirs["adapter"] / "adapter_config.json").read_text())["base_model_name_or_path"]
    base = str(Path(named).resolve())
    result.stdout.fnmatch_lines(
        [
            f"harness: base {base} (named in the adapter's adapter_config.json), tuned {tiny_dirs['adapter']}",
            f"base model: {base} (named in the adapter's adapter_config.json)",
        ]
    )


def test_a_full_model_without_base_model_asks_for_one(pytester, tiny_dirs) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--tuned-model", str(tiny_dirs["base"]), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is not an adapter that names its base, and no --base-model was given*"])
    assert "Traceback" not in result.stderr.str()


def test_an_adapter_naming_a_missing_base_says_so(pytester, tiny_dirs, tmp_path) -> None:
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_dirs["adapter"], adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "some-org/some-model"
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--tuned-model", str(adapter), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*names base 'some-org/some-model', which is not a local model directory*"])


MALFORMED_SUITE = """
import pytest

from harness import metrics
from harness.data import MULTIPLE_CHOICE


@pytest.fixture(scope="session")
def probes(eval_set):
    return eval_set("probes", MULTIPLE_CHOICE)


def test_probe_accuracy(model, probes, record_metric):
    answers = [row["answer"] for row in probes]
    record_metric(metrics.accuracy(["a"] * len(probes), answers, probes.ids, name="probe_accuracy"))


def test_other(model, record_metric):
    record_metric(metrics.accuracy(["a", "b"], ["a", "b"], ["x", "y"], name="other_accuracy"))
"""


def test_a_malformed_eval_file_is_listed_as_not_measured(pytester, run_on_tiny) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=MALFORMED_SUITE)
    data = pytester.path / "fixtures" / "data"
    data.mkdir(parents=True)
    (data / "probes.jsonl").write_text(
        '{"id": "p1", "prompt": "Q", "choices": ["a", "b"], "answer": "a"}\n{"id": "p2", "prompt": "Q"}\n'
    )
    result = run_on_tiny()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*test_suite.py*other_accuracy*reported (same)",
            "*test_suite.py*test_probe_accuracy*FAIL (not measured)",
            "FAIL test_probe_accuracy was not measured on the base model: HarnessError: *probes.jsonl*line 2*",
            "FAIL test_probe_accuracy was not measured on the tuned model: HarnessError: *probes.jsonl*line 2*",
            "*2 errors*1 failed the gate*",
        ]
    )


GATED_SUITE = """
from harness.metrics.result import MetricResult


def test_skill(model, record_metric):
    right = 40 if model.role == "base" else 10
    scores = {f"i{k:02d}": float(k < right) for k in range(50)}
    value = right / 50
    record_metric(MetricResult("skill", value, (value, value), 50, scores), max_drop_vs_base=0.05, alpha=0.05)
"""


def test_a_failing_gate_shows_in_pytests_closing_line(pytester, run_on_tiny) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(test_suite=GATED_SUITE)
    result = run_on_tiny()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert re.search(r"=+ 2 passed, 1 failed the gate in [\d.]+s", result.stdout.str()), result.stdout.str()[-2000:]
