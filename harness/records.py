"""What a test run measured, as plain records that travel from xdist workers to the controller."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from harness.metrics.result import MetricResult
from harness.rules import GateRule

Role = Literal["base", "tuned"]
"""Which model of the pair a result was measured on."""
Reference = Literal["base", "promoted"]
"""What the tuned model is compared with: the base model, or the last promoted model's stored results."""
BASE: Role = "base"
TUNED: Role = "tuned"
PROMOTED: Reference = "promoted"
ROLES: tuple[Role, ...] = (BASE, TUNED)
REFERENCES: tuple[Reference, ...] = ("base", PROMOTED)


def result_to_dict(result: MetricResult) -> dict[str, Any]:
    """A JSON-safe dict of a MetricResult (keys sorted, per-item ids sorted)."""
    return {
        "name": result.name,
        "value": float(result.value),
        "ci": [float(result.ci[0]), float(result.ci[1])],
        "n": int(result.n),
        "per_item": {k: float(result.per_item[k]) for k in sorted(result.per_item)},
        "higher_is_better": bool(result.higher_is_better),
        "unit": result.unit,
        "details": _json_safe(dict(result.details)),
    }


def result_from_dict(data: dict[str, Any]) -> MetricResult:
    return MetricResult(
        name=data["name"],
        value=float(data["value"]),
        ci=(float(data["ci"][0]), float(data["ci"][1])),
        n=int(data["n"]),
        per_item=dict(data["per_item"]),
        higher_is_better=bool(data["higher_is_better"]),
        unit=data.get("unit", ""),
        details=data.get("details", {}),
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


@dataclass(frozen=True)
class MetricRecord:
    """One metric measured by one test on one model role, with the gate rules the test attached."""

    suite: str  # the test module's path relative to rootdir, e.g. "suites/test_general.py"
    test: str  # test function name without parameters
    role: str
    result: MetricResult
    model: str = ""
    model_fingerprint: str = ""
    base_fingerprint: str = ""
    data_fingerprint: str = ""
    data_path: str = ""
    decoding: str = ""
    rules: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)  # harness.environment.describe()
    clusters: dict[str, str] = field(default_factory=dict)  # item id -> cluster, from the eval set's `cluster`

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.suite, self.result.name, self.role)

    @cached_property
    def rule(self) -> GateRule:
        """The test's `rules`, parsed (the one place they are: the recorder checks it, the gate merges it)."""
        return GateRule.parse(self.rules, f"{self.suite}::{self.test}: record_metric({self.result.name!r})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "test": self.test,
            "role": self.role,
            "model": self.model,
            "model_fingerprint": self.model_fingerprint,
            "base_fingerprint": self.base_fingerprint,
            "data_fingerprint": self.data_fingerprint,
            "data_path": self.data_path,
            "decoding": self.decoding,
            "rules": _json_safe(self.rules),
            "environment": _json_safe(self.environment),
            "clusters": dict(self.clusters),
            "result": result_to_dict(self.result),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricRecord:
        return cls(
            suite=data["suite"],
            test=data["test"],
            role=data["role"],
            result=result_from_dict(data["result"]),
            model=data.get("model", ""),
            model_fingerprint=data.get("model_fingerprint", ""),
            base_fingerprint=data.get("base_fingerprint", ""),
            data_fingerprint=data.get("data_fingerprint", ""),
            data_path=data.get("data_path", ""),
            decoding=data.get("decoding", ""),
            rules=dict(data.get("rules", {})),
            environment=dict(data.get("environment", {})),
            clusters=dict(data.get("clusters", {})),
        )


@dataclass(frozen=True)
class Unmeasured:
    """A test that records metrics failed before recording one for this role (e.g. its eval file is malformed)."""

    suite: str
    test: str
    role: str
    reason: str  # the error, in one line


@dataclass(frozen=True)
class CaseOutcome:
    """Whether one adversarial/behavioural case passed on one model role."""

    group: str  # the case file, relative to rootdir, e.g. "suites/adversarial/citations.yaml"
    case_id: str
    role: str
    passed: bool
    category: str = ""
    detail: str = ""  # why it failed, in one line

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "case_id": self.case_id,
            "role": self.role,
            "passed": self.passed,
            "category": self.category,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseOutcome:
        return cls(**data)


@dataclass(frozen=True)
class OutputRecord:
    """One model answer from a run, kept so that people can review it (and compare base with tuned)."""

    eval_set: str
    item_id: str
    role: str
    prompt: str
    output: str
    reference: str = ""
    category: str = ""
    suite: str = ""
    model: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.eval_set, self.item_id, self.role)

    def to_dict(self) -> dict[str, Any]:
        return {
            "eval_set": self.eval_set,
            "item_id": self.item_id,
            "role": self.role,
            "prompt": self.prompt,
            "output": self.output,
            "reference": self.reference,
            "category": self.category,
            "suite": self.suite,
            "model": self.model,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputRecord:
        return cls(**data)
