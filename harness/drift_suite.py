"""The monitoring suite's work: which log records it judges, one test per window, and why a window fails.

The suite's conftest names its default traffic (`DriftDefaults`) and calls `parametrize_windows` and
`drift_report`; its test calls `check_window`. The options are declared in harness/suite_options.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.monitoring.logs import LogRecord
    from harness.monitoring.monitor import MonitorReport, MonitorSettings


@dataclass(frozen=True)
class DriftDefaults:
    """What the suite checks when no --monitor-logs / --monitor-reference is given (relative to the rootdir)."""

    logs: Path
    reference: Sequence[Path]
    until: datetime | None = None
    """Without --monitor-logs and --monitor-until: only the default logs' records before this time."""


def monitored_records(config: pytest.Config, defaults: DriftDefaults) -> list[LogRecord]:
    """The log records the suite judges: the named logs, or the default logs up to `defaults.until`."""
    from harness.monitoring.logs import parse_timestamp, read_logs
    from harness.monitoring.windows import select_period

    named = config.getoption("--monitor-logs")
    records = read_logs([Path(p) for p in named] if named else [config.rootpath / defaults.logs])
    since, until = config.getoption("--monitor-since"), config.getoption("--monitor-until")
    if not named and not until:
        return select_period(records, None, defaults.until)
    return select_period(
        records,
        parse_timestamp(since, "--monitor-since") if since else None,
        parse_timestamp(until, "--monitor-until") if until else None,
    )


def monitor_settings(config: pytest.Config) -> MonitorSettings:
    """Window, alpha and horizon from the options."""
    from harness.monitoring.monitor import MonitorSettings
    from harness.monitoring.windows import parse_window

    window = config.getoption("--monitor-window")
    alpha, horizon = config.getoption("--monitor-alpha"), config.getoption("--monitor-horizon")
    return MonitorSettings(window=parse_window(window), alpha=alpha, horizon=horizon)


def parametrize_windows(metafunc: pytest.Metafunc, defaults: DriftDefaults) -> None:
    """One item per window of a test that takes `window_index`, named by the window's start."""
    if "window_index" not in metafunc.fixturenames:
        return
    from harness.monitoring.windows import split_windows

    try:
        windows = split_windows(monitored_records(metafunc.config, defaults), monitor_settings(metafunc.config).window)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    metafunc.parametrize("window_index", [w.index for w in windows], ids=[w.id for w in windows])


def drift_report(config: pytest.Config, defaults: DriftDefaults) -> MonitorReport:
    """The drift report of the selected logs against the reference; written as JSON / HTML when asked."""
    from harness.monitoring.html import write_html
    from harness.monitoring.logs import read_reference
    from harness.monitoring.monitor import monitor
    from harness.monitoring.report import write_json

    named = config.getoption("--monitor-reference")
    paths = [Path(p) for p in named] if named else [config.rootpath / p for p in defaults.reference]
    try:
        records, reference = monitored_records(config, defaults), read_reference(paths)
        report = monitor(records, reference, monitor_settings(config), progress=True)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    if path := config.getoption("--monitor-json"):
        write_json(report, Path(path))
    if path := config.getoption("--monitor-html"):
        write_html(report, Path(path))
    return report


def check_window(report: MonitorReport, index: int) -> None:
    """Skip a window with too few requests; fail one that drifted, naming its tests, words and examples."""
    __tracebackhide__ = True
    from harness.monitoring.monitor import DRIFT, NOT_ENOUGH
    from harness.monitoring.report import TEST_TITLES

    result = report.windows[index]
    if result.verdict == NOT_ENOUGH:
        pytest.skip(f"not enough data: {result.note}")
    for test in result.tests:
        if test.enough_data:
            print(f"{TEST_TITLES[test.name]}: {test.effect_name} {test.effect:.3f}, adjusted p {test.p_adjusted:.3g}")
    if result.verdict == DRIFT:
        flagged = [t for t in result.tests if t.flagged]
        lines = [f"drift in window {result.window.id} ({len(result.window)} requests, {report.settings.rule}):"]
        lines += [
            f"  {TEST_TITLES[t.name]}: {t.effect_name} {t.effect:.3f} (floor {t.effect_floor}), "
            f"p {t.p_value:.3g}, adjusted {t.p_adjusted:.3g}"
            for t in flagged
        ]
        lines.append("  words marking the window: " + ", ".join(w for w, _ in result.window_words[:8]))
        lines += [f"  e.g. {r.where}: {' '.join(r.input.split())[:120]}" for r in result.examples[:3]]
        pytest.fail("\n".join(lines), pytrace=False)
