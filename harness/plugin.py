"""The pytest plugin: options, typed fixtures and one-line hooks; the run's work is the session's
(harness.session). Heavy modules are imported when first needed."""

from __future__ import annotations

from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import options
from harness.errors import HarnessError
from harness.records import BASE, ROLES, TUNED
from harness.session import PAYLOAD_KEY, HarnessSession, get_session, session_key, unmeasured_property

if TYPE_CHECKING:
    from harness.data import EvalSet, Schema
    from harness.models.base import Model, ModelPair
    from harness.recorder import MetricRecorder


def pytest_addoption(parser: pytest.Parser) -> None:
    """The harness's options, and the review, data-quality and monitoring suites' options."""
    from harness.suite_options import add_suite_options

    add_suite_options(parser)
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the config once; on the controller (or a serial run) the session also watches the run."""
    config.addinivalue_line("markers", "harness_roles(*roles): run a `model` test only on these roles")
    try:
        harness = HarnessSession.start(config.rootpath, options.cli_values(config), options.shard(config))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[session_key] = harness
    if not hasattr(config, "workerinput"):
        options.check_report_paths(config)
        harness.clean_interrupted_writes()
        config.pluginmanager.register(harness, "harness-session")


def pytest_report_header(config: pytest.Config) -> str:
    return "harness: " + get_session(config).config.models_line()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Case files (YAML / JSONL) inside a directory named `adversarial` become test items, no Python needed."""
    if file_path.suffix in (".yaml", ".yml", ".jsonl") and "adversarial" in file_path.parent.parts:
        from harness.cases import collect_case_file

        return collect_case_file(file_path, parent)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `model` runs once per role, with ids [base] and [tuned]."""
    if "model" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("harness_roles")
        roles = [r for r in ROLES if marker is None or r in marker.args]
        metafunc.parametrize("model", roles, ids=roles, indirect=True, scope="function")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --shard, only this share's cases; with --reuse-base, no [base] run whose stored results hold."""
    from harness.collection import select

    select(items, config, get_session(config), reuse_base=options.run_flags(config).reuse_base)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Show a HarnessError as its message (file, line, fix), not a traceback from inside the harness; mark a
    failed test that records metrics, so that the gate can list what it did not measure."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(HarnessError):
        report.longrepr = f"HarnessError: {call.excinfo.value}"
    if report.failed and call.excinfo is not None and "record_metric" in getattr(item, "fixturenames", ()):
        report.user_properties.append(unmeasured_property(item, call.excinfo))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A worker hands its records to the controller; the controller (or a serial run) runs the gate once."""
    harness = get_session(session.config)
    if (workeroutput := getattr(session.config, "workeroutput", None)) is not None:
        workeroutput[PAYLOAD_KEY] = harness.worker_payload()
    else:
        session.exitstatus = harness.finish(session.exitstatus, options.run_flags(session.config))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The case table, the gate's table and the run's verdict with every reason, each line in its colour."""
    from harness.terminal import summary

    if not hasattr(config, "workerinput"):
        for title, lines in summary(get_session(config), terminalreporter.stats, options.run_flags(config)).items():
            terminalreporter.section(title)
            for line in lines:
                terminalreporter.write_line(line.text, **line.style())


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def harness_session(request: pytest.FixtureRequest) -> HarnessSession:
    """This process's harness state (config, models, records)."""
    return get_session(request.config)


@pytest.fixture(scope="session")
def model_pair(harness_session: HarnessSession) -> ModelPair:
    """Base and tuned models, loaded once per process; an adapter pair shares one copy of the weights."""
    return harness_session.model_pair()


@pytest.fixture(scope="session")
def base_model(model_pair: ModelPair) -> Model:
    """The base model (for an adapter pair: the same weights with the adapter switched off)."""
    return model_pair.base


@pytest.fixture(scope="session")
def tuned_model(model_pair: ModelPair) -> Model:
    """The fine-tuned model."""
    return model_pair.tuned


@pytest.fixture
def model(request: pytest.FixtureRequest, model_pair: ModelPair) -> Model:
    """The base or the tuned model: a test taking `model` runs once for each ([base] / [tuned])."""
    return model_pair.by_role(request.param)


@pytest.fixture(scope="session")
def eval_set(harness_session: HarnessSession) -> Callable[[str, Schema], EvalSet]:
    """Load an eval set by name from --eval-data (any of .jsonl/.csv/.parquet), validated against a schema."""
    return harness_session.eval_set


@pytest.fixture
def record_metric(request: pytest.FixtureRequest, harness_session: HarnessSession) -> MetricRecorder:
    """Record a MetricResult for the summary table (and the gate): `record_metric(result, floor=0.5)`.

    The role comes from the test's `model` parameter, or pass role="base"/"tuned" explicitly.
    `floor` (or `ceiling` for lower-is-better metrics) fails the test at once when the tuned model misses it;
    `floor_lower_bound` does the same for the lower end of the 95% interval.
    """
    from harness.recorder import MetricRecorder

    return MetricRecorder(request.node, harness_session)


__all__ = ["BASE", "TUNED"]
