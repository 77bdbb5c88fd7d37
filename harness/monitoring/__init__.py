"""Post-deployment monitoring: drift between production logs and the reference, and feedback into regression cases."""

from harness.monitoring.drift import DriftTest
from harness.monitoring.feedback import approve, feedback_candidates, write_candidates
from harness.monitoring.logs import Feedback, LogRecord, Reference, read_logs, read_reference
from harness.monitoring.monitor import MonitorReport, MonitorSettings, WindowResult, monitor
from harness.monitoring.windows import Window, WindowSpec, parse_window, split_windows

__all__ = [
    "DriftTest",
    "Feedback",
    "LogRecord",
    "MonitorReport",
    "MonitorSettings",
    "Reference",
    "Window",
    "WindowResult",
    "WindowSpec",
    "approve",
    "feedback_candidates",
    "monitor",
    "parse_window",
    "read_logs",
    "read_reference",
    "split_windows",
    "write_candidates",
]
