"""The pytest plugin end to end, on tiny models, through pytester."""

from __future__ import annotations

import pytest

SUITE = """
from harness import MetricResult

IDS = [f"item-{k:02d}" for k in range(40)]


def result(name, scores, higher=True):
    per_item = dict(zip(IDS, scores))
    value = sum(scores) / len(scores)
    return MetricResult(name, value, (value - 0.1, value + 0.1), len(scores), per_item, higher_is_better=higher)


def test_roles(model):
    assert model.role in ("base", "tuned")
    assert model.generate(["The capital of"])[0].text is not None


def test_accuracy(model, record_metric):
    scores = [1.0] * 36 + [0.0] * 4 if model.role == "base" else [1.0] * 10 + [0.0] * 30
    record_metric(result("general_accuracy", scores))


def test_same(model, record_metric):
    record_metric(result("steady_metric", [1.0, 0.0] * 20))
"""


@pytest.fixture
def run(pytester: pytest.Pytester, run_on_tiny):
    """run(*args): pytest on the tiny models in a directory of its own (the rootdir)."""
    pytester.makeini("[pytest]\n")
    return run_on_tiny


def test_each_model_test_runs_as_base_and_tuned(pytester, run):
    pytester.makepyfile(test_suite=SUITE)
    result = run("-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*test_roles?base? PASSED*", "*test_roles?tuned? PASSED*"])


def test_summary_table_says_better_worse_or_same(pytester, run):
    pytester.makepyfile(test_suite=SUITE)
    result = run()
    result.stdout.fnmatch_lines(
        [
            "*promotion gate: tuned vs base and promoted*",
            "suite*metric*base*promoted*tuned*delta vs base*verdict*",
            "test_suite.py*general_accuracy*0.900 [[]0.800, 1.000]*0.250*-0.650 [[]*p<0.0001*reported (worse)",
            "test_suite.py*steady_metric*0.500*0.500*+0.000*p=1*reported (same)",
        ]
    )


def test_summary_is_the_same_under_xdist(pytester, run):
    pytester.makepyfile(test_suite=SUITE)
    serial = run().stdout.lines
    parallel = run("-n", "2").stdout.lines

    def table(lines):
        start = next(i for i, line in enumerate(lines) if "promotion gate" in line)
        return [line for line in lines[start + 1 :] if "test_suite.py" in line]

    assert table(serial) and table(serial) == table(parallel)


def test_floor_fails_the_tuned_model_only_in_one_line(pytester, run):
    pytester.makepyfile(
        test_floor=SUITE
        + """
def test_floor(model, record_metric):
    record_metric(result("clause_accuracy", [0.0] * 40), floor=0.5)
"""
    )
    result = run("test_floor.py::test_floor")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*clause_accuracy is below its floor: 0.000 < 0.5*"])


def test_a_missing_model_directory_fails_cleanly(pytester, tiny_dirs, tmp_path):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(
        "--base-model", str(tiny_dirs["base"]), "--tuned-model", str(tmp_path / "missing"), "-k", "roles"
    )
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*HarnessError: --tuned-model *missing: no such directory*"])
    assert "loading.py" not in result.stdout.str()


def test_unknown_pyproject_key_is_a_usage_error(pytester):
    pytester.makepyprojecttoml("[tool.harness]\nbase_modle = 'x'\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown key 'base_modle' in [[]tool.harness[]]*"])


def test_pyproject_table_sets_the_models(pytester, tiny_dirs):
    pytester.makepyprojecttoml(
        f"[tool.harness]\nbase_model = '{tiny_dirs['base']}'\ntuned_model = '{tiny_dirs['adapter']}'\nbatch_size = 2\n"
    )
    pytester.makepyfile(
        test_cfg="def test_cfg(model_pair):\n"
        "    assert model_pair.shares_weights and model_pair.tuned.batch_size == 2\n"
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_rerun_says_every_answer_came_from_the_cache(pytester, run, workers):
    pytester.makepyfile(test_suite=SUITE)
    cache = ["--cache-dir", str(pytester.path / "cache")]
    run(*cache, *workers).stdout.fnmatch_lines(["model calls: base 1 answers (0 from the cache)*"])
    rerun = run(*cache, *workers)
    rerun.stdout.fnmatch_lines(
        ["model calls: base 1 answers (1 from the cache) in * s; tuned 1 answers (1 from the cache) in * s"]
    )


def test_every_suite_option_is_known_without_naming_its_directory(pytester):
    """`pytest suites/ --require-review` must not be 'unrecognized arguments': the plugin declares them all."""
    pytester.makeini("[pytest]\n")
    result = pytester.runpytest("--help", f"--rootdir={pytester.path}")
    for option in (
        "--require-review",
        "--review-db",
        "--data-spec",
        "--train-data",
        "--monitor-logs",
        "--monitor-html",
    ):
        result.stdout.fnmatch_lines([f"*{option}*"])


def _session(tmp_path, shard=None):
    from harness.config import HarnessConfig
    from harness.session import HarnessSession

    return HarnessSession(HarnessConfig(rootdir=tmp_path, cache_dir=tmp_path / ".harness"), shard=shard)


def test_a_worker_payload_survives_json_and_merges_into_the_controller(tmp_path):
    import json

    from harness.metrics.result import MetricResult
    from harness.records import CaseOutcome, MetricRecord, OutputRecord

    worker = _session(tmp_path)
    result = MetricResult("acc", 0.5, (0.25, 0.75), 2, {"a": 1.0, "b": 0.0}, details={"labels": ["x"]})
    worker.record(MetricRecord("suites/s.py", "t", "tuned", result, rules={"floor": 0.1}, clusters={"a": "c1"}))
    worker.record_case(CaseOutcome("suites/adversarial/c.yaml", "case-1", "base", False, detail="expected x"))
    worker.record_output(OutputRecord("clauses", "a", "tuned", "prompt", "answer"))
    controller = _session(tmp_path)
    controller.merge_worker(json.loads(json.dumps(worker.worker_payload())))
    assert controller.records == worker.records and controller.records[0].rule.floor == 0.1
    assert controller.case_outcomes == worker.case_outcomes and controller.outputs == worker.outputs


def test_a_shard_exits_zero_on_failed_assertions_but_not_on_errors(tmp_path):
    from harness.config import RunFlags
    from harness.report import Reason
    from harness.shards import Shard

    shard = _session(tmp_path, Shard(0, 2))
    shard.problems.append(Reason("test failed", "suites/s.py::t[tuned]", "AssertionError: acc 0.4 < 0.5"))
    assert shard.finish(pytest.ExitCode.TESTS_FAILED, RunFlags()) == pytest.ExitCode.OK
    assert any("this is not a verdict" in line.text for line in shard.messages)
    shard.problems.append(Reason("test failed", "suites/s.py::u[tuned]", "HarnessError: the server refused"))
    assert shard.finish(pytest.ExitCode.TESTS_FAILED, RunFlags()) == pytest.ExitCode.TESTS_FAILED
    broken = _session(tmp_path, Shard(1, 2))
    broken.problems.append(Reason("collection error", "suites/s.py", "SyntaxError"))
    assert broken.finish(pytest.ExitCode.TESTS_FAILED, RunFlags()) == pytest.ExitCode.TESTS_FAILED
