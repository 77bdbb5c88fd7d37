"""Evaluation and regression-testing harness for fine-tuned LLMs, built on pytest."""

from typing import Any

from harness.errors import HarnessError
from harness.metrics.result import MetricResult

__version__ = "0.1.0"

__all__ = ["HarnessError", "MetricResult", "__version__", "custom_check"]


def __getattr__(name: str) -> Any:
    """`custom_check` is imported on first use, so importing the plugin stays light."""
    if name == "custom_check":
        from harness.expectations import custom_check

        return custom_check
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
