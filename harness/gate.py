"""The promotion gate: per-metric rules checked against the base model and the last promoted model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.baselines import BaselineEntry
from harness.environment import differences
from harness.errors import HarnessError
from harness.metrics.result import MetricResult
from harness.noninferiority import FAIL, INCONCLUSIVE, PASS, MarginTest, adjust, margin_test
from harness.records import BASE, PROMOTED, TUNED, MetricRecord, Reference, Unmeasured
from harness.rules import DEFAULT_ALPHA, RULE_KEYS, GateRule, RuleCheck, Threshold, check_rule, worse_by

if TYPE_CHECKING:
    from harness.stats import PairedComparison

__all__ = [  # the rules are re-exported: a gate is read together with its rules
    "DEFAULT_ALPHA",
    "RULE_KEYS",
    "GateRule",
    "RuleCheck",
    "Threshold",
    "Verdict",
    "check_rule",
    "evaluate",
    "worse_by",
]


@dataclass
class Verdict:
    """One metric of one suite: its three results, the paired comparisons, and the gate's decision."""

    suite: str
    metric: str
    tuned: MetricResult | None
    base: MetricResult | None
    promoted: MetricResult | None
    rule: GateRule
    vs_base: PairedComparison | None = None
    vs_promoted: PairedComparison | None = None
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

    def test_against(self, reference: Reference) -> MarginTest | None:
        return next((t for t in self.margin_tests if t.reference == reference), None)

    @property
    def direction(self) -> str:
        """better / worse / same vs base (the paired test at the rule's alpha, 0.05 by default)."""
        if self.tuned is None or self.base is None:
            return "-"
        c = self.vs_base
        delta = c.delta if c is not None else self.tuned.value - self.base.value
        if delta == 0 or (c is not None and c.p_value >= self.rule.level):
            return "same"
        improved = delta > 0 if self.tuned.higher_is_better else delta < 0
        return "better" if improved else "worse"


def _paired(
    verdict: Verdict, label: Reference, candidate: MetricResult, reference: MetricResult, n_resamples: int, seed: int
) -> PairedComparison | None:
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
        return paired_comparison(candidate, reference, n_resamples=n_resamples, seed=seed)
    except HarnessError as exc:
        verdict.notes.append(f"{verdict.metric} vs {label}: no paired test ({str(exc).splitlines()[0]})")
        return None


def _margin_test(
    verdict: Verdict, label: Reference, reference: MetricResult, limit: Threshold, n_resamples: int, seed: int
) -> None:
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
            alpha=verdict.rule.level,
            clusters=verdict.clusters or None,
            n_resamples=n_resamples,
            seed=seed,
        )
    except HarnessError as exc:
        verdict.inconclusive.append(f"{verdict.metric} vs {label}: cannot be tested ({str(exc).splitlines()[0]})")
        return
    verdict.margin_tests.append(test)


def _decide(verdict: Verdict) -> None:
    """Check the floors and ceiling, and turn the (multiplicity-adjusted) margin tests into failures and
    INCONCLUSIVE reasons."""
    assert verdict.tuned is not None
    check = check_rule(verdict.rule, verdict.tuned, verdict.margin_tests, _references(verdict))
    verdict.failures += check.failures
    verdict.inconclusive += check.undecided


def _references(verdict: Verdict) -> dict[str, MetricResult]:
    return {k: r for k, r in ((BASE, verdict.base), (PROMOTED, verdict.promoted)) if r is not None}


def evaluate(
    records: Sequence[MetricRecord],
    stored: Mapping[str, Mapping[str, Mapping[str, BaselineEntry]]],
    config_rules: Mapping[str, GateRule],
    *,
    correction: str = "holm",
    n_resamples: int = 10_000,
    bounds: bool = True,
    seed: int = 0,
) -> list[Verdict]:
    """Gate verdicts for every (suite, metric) measured in this run, in a fixed order.

    Every gated drop is a non-inferiority test (harness.noninferiority); the FAIL p-values of all of the
    run's gated comparisons are corrected together (`correction`: holm or bh), so a run with many gated
    metrics does not fail by chance more often than alpha. `bounds=False` leaves floors and ceilings out;
    `seed` seeds every bootstrap (the config's `seed`).
    """
    by_key: dict[tuple[str, str], dict[str, MetricRecord]] = {}
    for record in records:
        by_key.setdefault((record.suite, record.result.name), {})[record.role] = record
    verdicts = []
    for (suite, metric), sides in sorted(by_key.items()):
        tuned_record, base_record = sides.get(TUNED), sides.get(BASE)
        rule = (tuned_record or base_record).rule  # type: ignore[union-attr]
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
            _judge(verdict, n_resamples, seed)
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
    refresh = {BASE: f"pytest {verdict.suite} --update-baselines", PROMOTED: f"pytest {verdict.suite} --promote"}
    for kind in (BASE, PROMOTED):
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
        if kind == PROMOTED:
            verdict.promoted = entry.result
        elif verdict.base is None:
            verdict.base = entry.result
            verdict.base_from_store = True


def _judge(verdict: Verdict, n_resamples: int, seed: int) -> None:
    tuned, rule = verdict.tuned, verdict.rule
    assert tuned is not None
    if verdict.base is not None:
        verdict.vs_base = _paired(verdict, BASE, tuned, verdict.base, n_resamples, seed)
    if verdict.promoted is not None:
        verdict.vs_promoted = _paired(verdict, PROMOTED, tuned, verdict.promoted, n_resamples, seed)
    if rule.max_drop_vs_base is not None and verdict.base is not None:
        _margin_test(verdict, BASE, verdict.base, rule.max_drop_vs_base, n_resamples, seed)
    if rule.max_drop_vs_promoted is not None and verdict.promoted is not None:
        _margin_test(verdict, PROMOTED, verdict.promoted, rule.max_drop_vs_promoted, n_resamples, seed)


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
