"""The shared drift report of the monitoring suite (its options are in harness/suite_options.py).

By default it checks the stable period of the demo production logs (which passes); point it at real traffic with
    pytest suites/monitoring/ --monitor-logs logs.jsonl --monitor-reference eval.jsonl [--monitor-window 1d]
A scheduled CI job that runs this fails, and so alerts, only when a window alarms under the horizon rule: without
drift, at most --monitor-alpha (0.05) false alarms are expected per --monitor-horizon (30) windows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEMO_LOGS = Path("fixtures") / "monitoring" / "production_logs.jsonl"
DEMO_REFERENCE = [Path("fixtures") / "data" / "clauses.jsonl", Path("fixtures") / "data" / "clause_summaries.jsonl"]


def monitored_records(config: pytest.Config):
    """The log records the suite judges: the named logs, or the demo logs before their drift starts."""
    from harness.monitoring.logs import parse_timestamp, read_logs
    from harness.monitoring.windows import select_period

    root = config.rootpath
    named = config.getoption("--monitor-logs")
    records = read_logs([Path(p) for p in named] if named else [root / DEMO_LOGS])
    since, until = config.getoption("--monitor-since"), config.getoption("--monitor-until")
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

    window = config.getoption("--monitor-window")
    alpha, horizon = config.getoption("--monitor-alpha"), config.getoption("--monitor-horizon")
    return MonitorSettings(window=parse_window(window), alpha=alpha, horizon=horizon)


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
    metafunc.parametrize("window_index", [w.index for w in windows], ids=[w.id for w in windows])


@pytest.fixture(scope="session")
def drift_report(request: pytest.FixtureRequest):
    """The drift report of the selected logs, computed once for the whole suite."""
    from harness.errors import HarnessError
    from harness.monitoring.html import write_html
    from harness.monitoring.logs import read_reference
    from harness.monitoring.monitor import monitor
    from harness.monitoring.report import write_json

    config = request.config
    named = config.getoption("--monitor-reference")
    try:
        reference = read_reference([Path(p) for p in named] if named else [config.rootpath / p for p in DEMO_REFERENCE])
        report = monitor(monitored_records(config), reference, monitor_settings(config), progress=True)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    if path := config.getoption("--monitor-json"):
        write_json(report, Path(path))
    if path := config.getoption("--monitor-html"):
        write_html(report, Path(path))
    return report
