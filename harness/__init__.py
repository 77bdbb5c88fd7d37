"""Evaluation and regression-testing harness for fine-tuned LLMs, built on pytest."""

from harness.errors import HarnessError
from harness.expectations import custom_check as custom_check
from harness.metrics.result import MetricResult

__version__ = "0.1.0"

__all__ = ["HarnessError", "MetricResult", "__version__"]
