"""Evaluation and regression-testing harness for fine-tuned LLMs, built on pytest.

Everything a suite needs is importable from here (`from harness import metrics, multiple_choice, MULTIPLE_CHOICE`).
Names are imported on first use, so importing the package (and the pytest plugin) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, ...]] = {
    "harness.assertions": ("assert_metric", "assert_no_regression"),
    "harness.data": ("GENERATION", "MULTIPLE_CHOICE", "TEXT", "EvalSet", "Schema", "load_eval_set"),
    "harness.expectations": ("custom_check",),
    "harness.metrics.result": ("MetricResult",),
    "harness.models.base": ("DecodingSettings", "Generation", "Loglikelihood", "Model", "ModelPair"),
    "harness.records": ("BASE", "TUNED"),
    "harness.scoring": ("Answers", "Choices", "answers", "multiple_choice", "rolling_loglikelihoods"),
}
_MODULES = {"metrics": "harness.metrics"}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "BASE",
    "GENERATION",
    "MULTIPLE_CHOICE",
    "TEXT",
    "TUNED",
    "Answers",
    "Choices",
    "DecodingSettings",
    "EvalSet",
    "Generation",
    "HarnessError",
    "Loglikelihood",
    "MetricResult",
    "Model",
    "ModelPair",
    "Schema",
    "__version__",
    "answers",
    "assert_metric",
    "assert_no_regression",
    "custom_check",
    "load_eval_set",
    "metrics",
    "multiple_choice",
    "rolling_loglikelihoods",
]

if TYPE_CHECKING:
    from harness import metrics
    from harness.assertions import assert_metric, assert_no_regression
    from harness.data import GENERATION, MULTIPLE_CHOICE, TEXT, EvalSet, Schema, load_eval_set
    from harness.expectations import custom_check
    from harness.metrics.result import MetricResult
    from harness.models.base import DecodingSettings, Generation, Loglikelihood, Model, ModelPair
    from harness.records import BASE, TUNED
    from harness.scoring import Answers, Choices, answers, multiple_choice, rolling_loglikelihoods


def __getattr__(name: str) -> Any:
    """Import an exported name's module on first use."""
    if name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _MODULE_OF:
        value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    else:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
