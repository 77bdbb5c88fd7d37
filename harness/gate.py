"""The promotion gate: per-metric rules checked against the base model and the last promoted model."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.baselines import BaselineEntry
from harness.environment import differences
from harness.errors import HarnessError
from harness.metrics.result import MetricResult
from harness.noninferiority import FAIL, INCONCLUSIVE, PASS, MarginTest, adjust, margin_test
from harness.records import BASE, TUNED, MetricRecord, Unmeasured

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


def below_lower_bound_floor(metric: str, lower: float, floor: float) -> str:
    return f"{metric} is not above its floor with 95% confidence: interval starts at {lower:.3f} < {floor:g}"


def worse_by(candidate: float, reference: float, higher_is_better: bool) -> float:
    """How much worse the candidate is than the reference (negative = better)."""
    return reference - candidate if higher_is_better else candidate - reference


@dataclass
class Verdict:
    """One metric of one suite: its three results, the paired comparisons, and the gate's decision."""

    suite: str
    metric: str
    tuned: MetricResult | None
    base: MetricResult | None
    promoted: MetricResult | None
    rule: GateRule
    vs_base: Any = None  # harness.stats.PairedComparison
    vs_promoted: Any = None
    base_from_store: bool = False
    failures: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    environment_changes: list[str] = field(default_factory=list)  # stored reference vs this run, e.g. torch
    not_measured: str = ""  # why the tuned (or base) result is missing: the failing test's error
    notes: list[str] = field(default_factory=list)  # e.g. why a paired test could not run
    margin_tests: list[MarginTest] = field(default_factory=list)  # one per gated drop rule
    inconclusive: list[str] = field(default_factory=list)  # why a gated drop could not be decided
    clusters: Mapping[str, str] = field(default_factory=dict)  # item id -> cluster, when the eval set has them

    @property
    def passed(self) -> bool:
        """No failure (an INCONCLUSIVE verdict has not passed either: see `status`)."""
        return not self.failures and not self.inconclusive

    @property
    def status(self) -> str:
        """FAIL, INCONCLUSIVE or PASS."""
        return FAIL if self.failures else INCONCLUSIVE if self.inconclusive else PASS

    def test_against(self, reference: str) -> MarginTest | None:
        return next((t for t in self.margin_tests if t.reference == reference), None)

    @property
    def direction(self) -> str:
        """better / worse / same vs base (the paired test at the rule's alpha, 0.05 by default)."""
        if self.tuned is None or self.base is None:
            return "-"
        c = self.vs_base
        delta = c.delta if c is not None else self.tuned.value - self.base.value
        if delta == 0 or (c is not None and c.p_value >= (self.rule.alpha or DEFAULT_ALPHA)):
            return "same"
        improved = delta > 0 if self.tuned.higher_is_better else delta < 0
        return "better" if improved else "worse"


def _paired(
    verdict: Verdict, label: str, candidate: MetricResult, reference: MetricResult, n_resamples: int = 10_000
) -> Any:
    """The paired comparison, or None with the reason noted on the verdict (never dropped silently)."""
    from harness.stats import paired_comparison

    if not candidate.per_item or not reference.per_item:
        verdict.notes.append(f"{verdict.metric} vs {label}: no paired test (no per-item scores)")
        return None
    if set(candidate.per_item) != set(reference.per_item):
        shared = len(set(candidate.per_item) & set(reference.per_item))
        verdict.notes.append(
            f"{verdict.metric} vs {label}: no paired test, the items differ ({len(candidate.per_item)} in this run, "
            f"{len(reference.per_item)} in the {label} result, {shared} in both)"
        )
        return None
    try:
        return paired_comparison(candidate, reference, n_resamples=n_resamples)
    except HarnessError as exc:
        verdict.notes.append(f"{verdict.metric} vs {label}: no paired test ({str(exc).splitlines()[0]})")
        return None


def _margin_test(verdict: Verdict, label: str, reference: MetricResult, limit: Threshold, n_resamples: int) -> None:
    """A non-inferiority test of the drop against `reference`, or an INCONCLUSIVE reason when none can run."""
    tuned = verdict.tuned
    assert tuned is not None
    margin = limit.allowed(reference.value)
    comparison = verdict.vs_base if label == BASE else verdict.vs_promoted
    if comparison is None:  # _paired has noted why (no per-item scores, other items)
        drop = worse_by(tuned.value, reference.value, tuned.higher_is_better)
        verdict.inconclusive.append(
            f"{verdict.metric} vs {label}: drop {drop:.3f} against an allowed {margin:.3f} cannot be tested "
            "without per-item scores on the same items"
        )
        return
    try:
        test = margin_test(
            tuned,
            reference,
            margin,
            reference_name=label,
            alpha=verdict.rule.alpha or DEFAULT_ALPHA,
            clusters=verdict.clusters or None,
            n_resamples=n_resamples,
        )
    except HarnessError as exc:
        verdict.inconclusive.append(f"{verdict.metric} vs {label}: cannot be tested ({str(exc).splitlines()[0]})")
        return
    verdict.margin_tests.append(test)


def _decide(verdict: Verdict) -> None:
    """Turn the (multiplicity-adjusted) margin tests into failures and INCONCLUSIVE reasons."""
    tuned = verdict.tuned
    assert tuned is not None
    for test in verdict.margin_tests:
        reference = verdict.base if test.reference == BASE else verdict.promoted
        assert reference is not None
        confidence = f"{1 - 2 * test.alpha:.0%}"
        interval = f"{confidence} interval of the drop [{test.bounds[0]:.3f}, {test.bounds[1]:.3f}]"
        if test.verdict == FAIL:
            verdict.failures.append(
                f"{verdict.metric} dropped vs {test.reference}: {reference.value:.3f} -> {tuned.value:.3f} "
                f"(drop {test.drop:.3f}, {interval} lies above the allowed {test.margin:.3f}; "
                f"{test.method}, p={test.p_fail:.2g}, adjusted {test.p_fail_adjusted:.2g} < {test.alpha:g})"
            )
        elif test.verdict == INCONCLUSIVE:
            if test.margin > 0:
                more = max(0, test.items_needed() - test.n)
                decide = (
                    f"about {more:,} more paired items would tell a drop of {test.margin:.3f} from none at 80% power"
                )
            else:
                decide = "with no drop allowed only a shown improvement passes; allow a drop (max_drop_vs_...)"
            verdict.inconclusive.append(
                f"{verdict.metric} vs {test.reference}: drop {test.drop:.3f}, {interval} contains the allowed "
                f"{test.margin:.3f}; {decide}"
            )


def evaluate(
    records: Sequence[MetricRecord],
    stored: Mapping[str, Mapping[str, Mapping[str, BaselineEntry]]],
    config_rules: Mapping[str, GateRule],
    *,
    correction: str = "holm",
    n_resamples: int = 10_000,
    bounds: bool = True,
) -> list[Verdict]:
    """Gate verdicts for every (suite, metric) measured in this run, in a fixed order.

    Every gated drop is a non-inferiority test (harness.noninferiority); the FAIL p-values of all of the
    run's gated comparisons are corrected together (`correction`: holm or bh), so a run with many gated
    metrics does not fail by chance more often than alpha. `bounds=False` leaves floors and ceilings out.
    """
    by_key: dict[tuple[str, str], dict[str, MetricRecord]] = {}
    for record in records:
        by_key.setdefault((record.suite, record.result.name), {})[record.role] = record
    verdicts = []
    for (suite, metric), sides in sorted(by_key.items()):
        tuned_record, base_record = sides.get(TUNED), sides.get(BASE)
        test_rules = (tuned_record or base_record).rules  # type: ignore[union-attr]
        rule = GateRule.parse(test_rules, f"{suite}: record_metric({metric!r})")
        if metric in config_rules:
            rule = rule.merged(config_rules[metric])
        if not bounds:
            rule = rule.drops_only()
        refs = stored.get(suite, {})
        verdict = Verdict(
            suite,
            metric,
            tuned_record.result if tuned_record else None,
            base_record.result if base_record else None,
            None,
            rule,
        )
        if tuned_record is not None:
            verdict.clusters = dict(tuned_record.clusters)
            _attach_stored(verdict, tuned_record, refs)
            _judge(verdict, n_resamples)
        verdicts.append(verdict)
    tests = [t for v in verdicts for t in v.margin_tests]
    adjusted = iter(adjust(tests, correction))
    for verdict in verdicts:
        verdict.margin_tests = [next(adjusted) for _ in verdict.margin_tests]
        if verdict.tuned is not None:
            _decide(verdict)
    return verdicts


def _attach_stored(verdict: Verdict, tuned: MetricRecord, refs: Mapping[str, Mapping[str, BaselineEntry]]) -> None:
    """Use stored references that were measured on the same data and base model; name the stale ones."""
    refresh = {BASE: f"pytest {verdict.suite} --update-baselines", "promoted": f"pytest {verdict.suite} --promote"}
    for kind in (BASE, "promoted"):
        entry = refs.get(kind, {}).get(verdict.metric)
        if entry is None:
            continue
        problem = ""
        if entry.data_fingerprint and tuned.data_fingerprint and entry.data_fingerprint != tuned.data_fingerprint:
            problem = f"recorded on different eval data ({entry.data_path or 'eval set changed'})"
        elif entry.base_fingerprint and tuned.base_fingerprint and entry.base_fingerprint != tuned.base_fingerprint:
            problem = "recorded against a different base model"
        elif entry.decoding != tuned.decoding:
            problem = (
                f"recorded with other decoding settings ({entry.decoding or 'none'} -> {tuned.decoding or 'none'})"
            )
        if problem:
            verdict.stale.append(
                f"stored {kind} baseline of {verdict.metric} is stale: {problem}; refresh with `{refresh[kind]}`"
            )
            continue
        verdict.environment_changes += differences(entry.environment, tuned.environment)
        if kind == "promoted":
            verdict.promoted = entry.result
        elif verdict.base is None:
            verdict.base = entry.result
            verdict.base_from_store = True


def _judge(verdict: Verdict, n_resamples: int) -> None:
    tuned, rule = verdict.tuned, verdict.rule
    assert tuned is not None
    if verdict.base is not None:
        verdict.vs_base = _paired(verdict, "base", tuned, verdict.base, n_resamples)
    if verdict.promoted is not None:
        verdict.vs_promoted = _paired(verdict, "promoted", tuned, verdict.promoted, n_resamples)
    if rule.floor is not None and tuned.value < rule.floor:
        verdict.failures.append(f"{verdict.metric} is below its floor: {tuned.value:.3f} < {rule.floor:g}")
    if rule.floor_lower_bound is not None and tuned.ci[0] < rule.floor_lower_bound:
        verdict.failures.append(below_lower_bound_floor(verdict.metric, tuned.ci[0], rule.floor_lower_bound))
    if rule.ceiling is not None and tuned.value > rule.ceiling:
        verdict.failures.append(f"{verdict.metric} is above its ceiling: {tuned.value:.3f} > {rule.ceiling:g}")
    if rule.max_drop_vs_base is not None and verdict.base is not None:
        _margin_test(verdict, BASE, verdict.base, rule.max_drop_vs_base, n_resamples)
    if rule.max_drop_vs_promoted is not None and verdict.promoted is not None:
        _margin_test(verdict, "promoted", verdict.promoted, rule.max_drop_vs_promoted, n_resamples)


def add_unmeasured(
    verdicts: list[Verdict],
    unmeasured: Sequence[Unmeasured],
    stored: Mapping[str, Mapping[str, Mapping[str, BaselineEntry]]],
    records: Sequence[MetricRecord],
) -> list[Verdict]:
    """A failing verdict for every metric a failed test did not record: the metrics its stored baselines name
    (or the test's own name when none is stored), with the reason. Nothing the gate cannot see passes."""
    recorded = {(r.suite, r.test, r.role) for r in records}
    by_key = {(v.suite, v.metric): v for v in verdicts}
    for miss in sorted(set(unmeasured), key=lambda u: (u.suite, u.test, u.role)):
        if (miss.suite, miss.test, miss.role) in recorded:
            continue  # it recorded its metric and failed afterwards (e.g. on a floor): that is measured
        refs = stored.get(miss.suite, {})
        metrics = sorted({name for ref in refs.values() for name, e in ref.items() if e.test == miss.test})
        for metric in metrics or [miss.test]:
            verdict = by_key.get((miss.suite, metric))
            if verdict is None:
                verdict = by_key[(miss.suite, metric)] = Verdict(miss.suite, metric, None, None, None, GateRule())
                verdicts.append(verdict)
            verdict.not_measured = verdict.not_measured or miss.reason
            verdict.failures.append(f"{metric} was not measured on the {miss.role} model: {miss.reason}")
    verdicts.sort(key=lambda v: (v.suite, v.metric))
    return verdicts


def check_gate_tables(config_rules: Mapping[str, GateRule], known_metrics: set[str], where: str) -> None:
    """A [tool.harness.gate.NAME] table must name a metric this run measured or the baselines hold."""
    unknown = sorted(set(config_rules) - known_metrics)
    if unknown:
        raise HarnessError(
            f"{where}: [tool.harness.gate.{unknown[0]}] names no metric this project measures",
            hint=f"check the spelling; measured metrics: {', '.join(sorted(known_metrics)) or 'none'}",
        )
