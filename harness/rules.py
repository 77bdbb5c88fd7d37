"""Gate rules: what a metric must satisfy (floors, ceiling, allowed drops), parsed once and checked in one place.

`check_rule` is the one check: the recorder fails a test with its messages at once, the gate lists them
as failures and INCONCLUSIVE reasons, the review gate decides with it and `assert_no_regression` raises them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.metrics.result import MetricResult
    from harness.noninferiority import MarginTest

DEFAULT_ALPHA = 0.05  # of every gated drop's non-inferiority test, unless the rule sets alpha
RULE_KEYS = ("floor", "floor_lower_bound", "ceiling", "max_drop", "max_drop_vs_base", "max_drop_vs_promoted", "alpha")


@dataclass(frozen=True)
class Threshold:
    """An allowed drop: absolute (0.02) or relative to the reference ("5%")."""

    amount: float
    relative: bool = False

    @classmethod
    def parse(cls, value: Any, where: str) -> Threshold:
        amount: float | None = None
        relative = isinstance(value, str) and value.strip().endswith("%")
        if relative:
            try:
                amount = float(value.strip()[:-1]) / 100.0
            except ValueError:
                amount = None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            amount = float(value)
        if amount is None or not math.isfinite(amount) or amount < 0:
            raise HarnessError(
                f"{where}: {value!r} is not a drop size",
                hint="use a finite number >= 0 such as 0.02, or a percentage such as '5%'",
            )
        return cls(amount, relative=relative)

    def allowed(self, reference: float) -> float:
        return self.amount * abs(reference) if self.relative else self.amount

    def keyword(self) -> float | str:
        """The value as written in a rule: 0.02, or "5%"."""
        return str(self) if self.relative else self.amount

    def __str__(self) -> str:
        return f"{self.amount * 100:g}%" if self.relative else f"{self.amount:g}"


@dataclass(frozen=True)
class GateRule:
    """What a tuned model's metric must satisfy. `alpha` makes drop limits statistical."""

    floor: float | None = None
    floor_lower_bound: float | None = None  # the lower end of the 95% CI must reach it (higher-is-better metrics)
    ceiling: float | None = None
    max_drop_vs_base: Threshold | None = None
    max_drop_vs_promoted: Threshold | None = None
    alpha: float | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], where: str) -> GateRule:
        unknown = sorted(set(raw) - set(RULE_KEYS))
        if unknown:
            raise HarnessError(f"{where}: unknown gate rule {unknown[0]!r}", hint=f"use one of: {', '.join(RULE_KEYS)}")
        vs_base = raw.get("max_drop_vs_base", raw.get("max_drop"))
        values: dict[str, Any] = {
            "max_drop_vs_base": None if vs_base is None else Threshold.parse(vs_base, f"{where} max_drop_vs_base"),
            "max_drop_vs_promoted": None
            if raw.get("max_drop_vs_promoted") is None
            else Threshold.parse(raw["max_drop_vs_promoted"], f"{where} max_drop_vs_promoted"),
        }
        for key in ("floor", "floor_lower_bound", "ceiling", "alpha"):
            value = raw.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            ):
                raise HarnessError(
                    f"{where}: {key} must be a finite number, got {value!r}",
                    hint="a NaN or infinite bound would switch the rule off; write the number you mean",
                )
            values[key] = None if value is None else float(value)
        if values["alpha"] is not None and not 0 < values["alpha"] < 1:
            raise HarnessError(f"{where}: alpha must be between 0 and 1, got {values['alpha']}")
        return cls(**values)

    @property
    def gates(self) -> bool:
        """Whether the rule checks anything: a floor, a ceiling or an allowed drop (alpha alone checks nothing)."""
        limits = (self.floor, self.floor_lower_bound, self.ceiling, self.max_drop_vs_base, self.max_drop_vs_promoted)
        return any(limit is not None for limit in limits)

    @property
    def level(self) -> float:
        """The significance level of this rule's tests: its alpha, else DEFAULT_ALPHA."""
        return DEFAULT_ALPHA if self.alpha is None else self.alpha

    def as_keywords(self) -> dict[str, Any]:
        """The rule as `record_metric` keywords (and [tool.harness.gate] keys): parsing them gives it back."""
        values = {key: getattr(self, key) for key in RULE_KEYS if key != "max_drop" and getattr(self, key) is not None}
        return {k: v.keyword() if isinstance(v, Threshold) else v for k, v in values.items()}

    def drops_only(self) -> GateRule:
        """This rule without its floors and ceilings (an A/A run asks about noise, not about the model)."""
        return GateRule(
            max_drop_vs_base=self.max_drop_vs_base, max_drop_vs_promoted=self.max_drop_vs_promoted, alpha=self.alpha
        )

    def merged(self, override: GateRule) -> GateRule:
        """This rule with every field the override sets replaced (pyproject.toml overrides the test)."""
        return GateRule(
            **{
                k: getattr(override, k) if getattr(override, k) is not None else getattr(self, k)
                for k in self.__dataclass_fields__
            }
        )


def worse_by(candidate: float, reference: float, higher_is_better: bool) -> float:
    """How much worse the candidate is than the reference (negative = better)."""
    return reference - candidate if higher_is_better else candidate - reference


@dataclass(frozen=True)
class RuleCheck:
    """What a result misses of its rule: failures (a bound missed, a drop beyond its margin) and undecided drops."""

    failures: list[str] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.failures or self.undecided)

    def lines(self) -> list[str]:
        return self.failures + self.undecided


def check_rule(
    rule: GateRule,
    result: MetricResult,
    tests: Sequence[MarginTest] = (),
    references: Mapping[str, MetricResult] | None = None,
) -> RuleCheck:
    """Check `result` against the rule's floor, floor_lower_bound and ceiling, and decide its drop limits from
    their non-inferiority `tests` (harness.noninferiority; multiplicity-adjusted when the run adjusted them).

    `references` maps each test's reference name to the reference's result. A NaN value misses every bound.
    """
    from harness.noninferiority import FAIL, INCONCLUSIVE

    check = RuleCheck()
    name = result.name
    if rule.floor is not None and not result.value >= rule.floor:
        check.failures.append(f"{name} is below its floor: {result.value:.3f} < {rule.floor:g}")
    if rule.floor_lower_bound is not None and not result.ci[0] >= rule.floor_lower_bound:
        check.failures.append(
            f"{name} is not above its floor with 95% confidence: interval starts at {result.ci[0]:.3f} "
            f"< {rule.floor_lower_bound:g}"
        )
    if rule.ceiling is not None and not result.value <= rule.ceiling:
        check.failures.append(f"{name} is above its ceiling: {result.value:.3f} > {rule.ceiling:g}")
    for test in tests:
        interval = f"{1 - 2 * test.alpha:.0%} interval of the drop [{test.bounds[0]:.3f}, {test.bounds[1]:.3f}]"
        if test.verdict == FAIL:
            reference = (references or {}).get(test.reference)
            values = f"{reference.value:.3f} -> {result.value:.3f} " if reference is not None else ""
            p = f"p={test.p_fail:.2g}"
            if not math.isnan(test.p_fail_adjusted):
                p += f", adjusted {test.p_fail_adjusted:.2g}"
            check.failures.append(
                f"{name} dropped vs {test.reference}: {values}(drop {test.drop:.3f}, {interval} lies above the "
                f"allowed {test.margin:.3f}; {test.method}, {p} < {test.alpha:g})"
            )
        elif test.verdict == INCONCLUSIVE:
            if test.margin > 0:
                more = max(0, test.items_needed() - test.n)
                decide = (
                    f"about {more:,} more paired items would tell a drop of {test.margin:.3f} from none at 80% power"
                )
            else:
                decide = "with no drop allowed only a shown improvement passes; allow a drop (max_drop_vs_...)"
            check.undecided.append(
                f"{name} vs {test.reference}: drop {test.drop:.3f}, {interval} contains the allowed "
                f"{test.margin:.3f}; {decide}"
            )
    return check
