"""The shared drift report of the monitoring suite (its options are in harness/suite_options.py).

By default it checks the stable period of the demo production logs (which passes); point it at real traffic with
    pytest suites/monitoring/ --monitor-logs logs.jsonl --monitor-reference eval.jsonl [--monitor-window 1d]
A scheduled CI job that runs this fails, and so alerts, only when a window alarms under the horizon rule: without
drift, at most --monitor-alpha (0.05) false alarms are expected per --monitor-horizon (30) windows.
"""

from pathlib import Path

import pytest

from fixtures.monitoring import DRIFT_START
from harness.drift_suite import DriftDefaults, drift_report, parametrize_windows

DEMO = DriftDefaults(
    logs=Path("fixtures") / "monitoring" / "production_logs.jsonl",
    reference=[Path("fixtures") / "data" / "clauses.jsonl", Path("fixtures") / "data" / "clause_summaries.jsonl"],
    until=DRIFT_START,  # the demo logs' stable period
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_windows(metafunc, DEMO)


@pytest.fixture(scope="session", name="drift_report")
def drift_report_fixture(request: pytest.FixtureRequest):
    """The drift report of the selected logs, computed once for the whole suite."""
    return drift_report(request.config, DEMO)
