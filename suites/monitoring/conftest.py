"""Options and the shared drift report of the monitoring suite.

By default it checks the stable period of the demo production logs (which passes); point it at real traffic with
    pytest suites/monitoring/ --monitor-logs logs.jsonl --monitor-reference eval.jsonl [--monitor-window 1d]
A scheduled CI job that runs this fails, and so alerts, when a window drifts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEMO_LOGS = Path("fixtures") / "monitoring" / "production_logs.jsonl"
DEMO_REFERENCE = [Path("fixtures") / "data" / "clauses.jsonl", Path("fixtures") / "data" / "clause_summaries.jsonl"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-monitor", "production drift (suites/monitoring)")
    group.addoption(
        "--monitor-logs",
        metavar="PATH",
        action="append",
        help="production log JSONL; repeatable (default: the demo logs' stable period)",
    )
    group.addoption(
        "--monitor-reference",
        metavar="PATH",
        action="append",
        help="reference inputs (eval sets or trusted logs); repeatable (default: the demo eval sets)",
    )
    group.addoption("--monitor-window", default="1d", metavar="N|SPAN", help="window: a count or a span (default 1d)")
    group.addoption("--monitor-since", metavar="ISO_TIME", help="only records at or after this time")
    group.addoption("--monitor-until", metavar="ISO_TIME", help="only records before this time")
    group.addoption("--monitor-alpha", type=float, default=0.05, help="family-wise error per window (default 0.05)")
    group.addoption("--monitor-json", metavar="PATH", help="also write the drift report as JSON")
    group.addoption("--monitor-html", metavar="PATH", help="also write the drift report as an HTML page")


def _option(config: pytest.Config, name: str):
    """An option of this suite (None when the suite's conftest was not loaded at start-up, e.g. `pytest suites/`)."""
    return config.getoption(name, default=None)


def monitored_records(config: pytest.Config):
    """The log records the suite judges: the named logs, or the demo logs before their drift starts."""
    from harness.monitoring.logs import parse_timestamp, read_logs
    from harness.monitoring.windows import select_period

    root = config.rootpath
    named = _option(config, "--monitor-logs")
    records = read_logs([Path(p) for p in named] if named else [root / DEMO_LOGS])
    since, until = _option(config, "--monitor-since"), _option(config, "--monitor-until")
    if not named and not until:
        from fixtures.monitoring import DRIFT_START

        return select_period(records, None, DRIFT_START)
    return select_period(
        records,
        parse_timestamp(since, "--monitor-since") if since else None,
        parse_timestamp(until, "--monitor-until") if until else None,
    )


def monitor_settings(config: pytest.Config):
    from harness.monitoring.monitor import MonitorSettings
    from harness.monitoring.windows import parse_window

    window = _option(config, "--monitor-window") or "1d"
    alpha = _option(config, "--monitor-alpha") or 0.05
    return MonitorSettings(window=parse_window(window), alpha=alpha)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One `test_window_has_no_drift` item per window, named by its start."""
    if "window_index" not in metafunc.fixturenames:
        return
    from harness.errors import HarnessError
    from harness.monitoring.windows import split_windows

    try:
        windows = split_windows(monitored_records(metafunc.config), monitor_settings(metafunc.config).window)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    metafunc.parametrize("window_index", [w.index for w in windows], ids=[w.label for w in windows])


@pytest.fixture(scope="session")
def drift_report(request: pytest.FixtureRequest):
    """The drift report of the selected logs, computed once for the whole suite."""
    from harness.errors import HarnessError
    from harness.monitoring.html import write_html
    from harness.monitoring.logs import read_reference
    from harness.monitoring.monitor import monitor
    from harness.monitoring.report import write_json

    config = request.config
    named = _option(config, "--monitor-reference")
    try:
        reference = read_reference([Path(p) for p in named] if named else [config.rootpath / p for p in DEMO_REFERENCE])
        report = monitor(monitored_records(config), reference, monitor_settings(config))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    if path := _option(config, "--monitor-json"):
        write_json(report, Path(path))
    if path := _option(config, "--monitor-html"):
        write_html(report, Path(path))
    return report
