"""Fine-tuning data quality: a written data specification, a dataset lint, and review-gated augmentation."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DataSpec": "harness.dataquality.spec",
    "load_spec": "harness.dataquality.spec",
    "Finding": "harness.dataquality.findings",
    "LintReport": "harness.dataquality.findings",
    "lint_dataset": "harness.dataquality.lint",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Public names, imported on first use so `harness data --help` stays fast."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
