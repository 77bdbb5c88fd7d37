"""Metrics: thin wrappers over rouge-score, sacrebleu and scikit-learn, all returning MetricResult."""

from harness.metrics.result import MetricResult

__all__ = ["MetricResult"]
