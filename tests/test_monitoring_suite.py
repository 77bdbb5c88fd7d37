"""The monitoring suite as a scheduled CI job runs it: one test per window, failing on drift."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_monitoring_report import reference, traffic, write_logs

ROOT = Path(__file__).resolve().parents[1]


def test_suite_fails_on_the_drifted_window_only(tmp_path):
    ref = reference()
    ref_path = tmp_path / "ref.jsonl"
    rows = [{"input": t, "output": o} for t, o in zip(ref.texts, ref.outputs, strict=True)]
    ref_path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    logs = write_logs(tmp_path / "logs.jsonl", traffic([(60, 0.0), (60, 0.6)]))
    report = tmp_path / "drift.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/monitoring",
        "-q",
        "-p",
        "no:cacheprovider",
        "--monitor-logs",
        str(logs),
        "--monitor-reference",
        str(ref_path),
        "--monitor-json",
        str(report),
    ]
    outcome = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert outcome.returncode == 1, outcome.stdout + outcome.stderr
    assert "1 failed, 1 passed" in outcome.stdout
    assert "test_window_has_no_drift[2024-03-02]" in outcome.stdout
    assert "drift in window 2024-03-02" in outcome.stdout
    assert json.loads(report.read_text())["drifted_windows"] == ["2024-03-02"]


def test_committed_demo_logs_match_their_generator():
    from fixtures.monitoring import DEMO_LOGS
    from fixtures.monitoring.generate import generate_logs

    committed = [json.loads(line) for line in DEMO_LOGS.read_text(encoding="utf-8").splitlines()]
    assert committed == generate_logs(), "demo logs are stale: run `python -m fixtures.monitoring.generate`"
