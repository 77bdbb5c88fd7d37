"""Gate rules: floors, drops against base and promoted, statistical rules, stale references."""

from __future__ import annotations

import pytest

from harness.baselines import BaselineEntry
from harness.errors import HarnessError
from harness.gate import GateRule, Threshold, evaluate, worse_by
from harness.metrics.result import MetricResult
from harness.records import MetricRecord

IDS = [f"i{k:03d}" for k in range(100)]


def result(name, n_right, higher=True, n=100):
    scores = [1.0] * n_right + [0.0] * (n - n_right)
    per = dict(zip(IDS[:n], scores, strict=True))
    value = n_right / n
    return MetricResult(name, value, (value, value), n, per, higher_is_better=higher)


def record(role, res, rules=None, data="d1", base_fp="b1", decoding="", environment=None):
    return MetricRecord(
        "suites/s.py",
        "t",
        role,
        res,
        data_fingerprint=data,
        base_fingerprint=base_fp,
        decoding=decoding,
        rules=rules or {},
        environment=environment or {},
    )


def stored_entry(res, data="d1", base_fp="b1", decoding="", environment=None):
    return BaselineEntry(
        res, "t", "m", "fp", base_fp, data, "fixtures/data/x.jsonl", decoding, "0.1.0", "2026-01-01", environment or {}
    )


def test_a_significant_drop_beyond_the_limit_fails_with_from_and_to():
    rules = {"max_drop_vs_base": 0.05, "alpha": 0.05}
    [verdict] = evaluate([record("base", result("acc", 98), rules), record("tuned", result("acc", 60), rules)], {}, {})
    assert not verdict.passed and verdict.direction == "worse"
    assert "acc dropped vs base: 0.980 -> 0.600" in verdict.failures[0]


def test_a_drop_within_noise_passes_a_statistical_rule_but_not_a_plain_one():
    base, tuned = result("acc", 10, n=20), result("acc", 8, n=20)
    statistical = {"max_drop_vs_base": 0.01, "alpha": 0.001}
    [v] = evaluate([record("base", base, statistical), record("tuned", tuned, statistical)], {}, {})
    assert v.passed
    plain = {"max_drop_vs_base": 0.01}
    [v] = evaluate([record("base", base, plain), record("tuned", tuned, plain)], {}, {})
    assert not v.passed


def test_lower_is_better_metrics_drop_upwards():
    assert worse_by(12.0, 10.0, higher_is_better=False) == 2.0
    assert worse_by(0.8, 0.9, higher_is_better=True) == pytest.approx(0.1)
    rules = {"max_drop_vs_base": "10%"}
    base = MetricResult("ppl", 10.0, (9, 11), 3, {"a": 10.0, "b": 10.0, "c": 10.0}, higher_is_better=False)
    tuned = MetricResult("ppl", 12.0, (11, 13), 3, {"a": 12.0, "b": 12.0, "c": 12.0}, higher_is_better=False)
    [v] = evaluate([record("base", base, rules), record("tuned", tuned, rules)], {}, {})
    assert "drop 2.000 > allowed 1.000" in v.failures[0]


def test_a_lower_bound_floor_fails_a_value_above_the_floor_whose_interval_is_not():
    res = MetricResult("pass_rate", 0.75, (0.62, 0.85), 40, {}, higher_is_better=True)
    [v] = evaluate([record("tuned", res, {"floor": 0.7})], {}, {})
    assert v.passed
    [v] = evaluate([record("tuned", res, {"floor_lower_bound": 0.7})], {}, {})
    assert v.failures == ["pass_rate is not above its floor with 95% confidence: interval starts at 0.620 < 0.7"]
    [v] = evaluate([record("tuned", res, {"floor_lower_bound": 0.6})], {}, {})
    assert v.passed


def test_floor_and_config_override():
    rules = {"floor": 0.9}
    [v] = evaluate([record("tuned", result("acc", 80), rules)], {}, {})
    assert v.failures == ["acc is below its floor: 0.800 < 0.9"]
    [v] = evaluate([record("tuned", result("acc", 80), rules)], {}, {"acc": GateRule(floor=0.5)})
    assert v.passed


def test_promoted_reference_comes_from_the_store_and_gates_regressions():
    rules = {"max_drop_vs_promoted": 0.02}
    stored = {"suites/s.py": {"base": {}, "promoted": {"acc": stored_entry(result("acc", 90))}}}
    [v] = evaluate([record("tuned", result("acc", 80), rules)], stored, {})
    assert v.promoted is not None and v.promoted.value == 0.9
    assert "acc dropped vs promoted: 0.900 -> 0.800" in v.failures[0]


@pytest.mark.parametrize(
    ("entry_kwargs", "reason"),
    [
        ({"data": "OTHER"}, "recorded on different eval data"),
        ({"base_fp": "OTHER"}, "different base model"),
        ({"decoding": "max_new_tokens=99"}, "recorded with other decoding settings (max_new_tokens=99 -> none)"),
    ],
)
def test_stale_references_are_named_not_compared(entry_kwargs, reason):
    rules = {"max_drop_vs_promoted": 0.0}
    stored = {"suites/s.py": {"base": {}, "promoted": {"acc": stored_entry(result("acc", 99), **entry_kwargs)}}}
    [v] = evaluate([record("tuned", result("acc", 50), rules)], stored, {})
    assert v.promoted is None and v.passed
    assert reason in v.stale[0] and "pytest suites/s.py --promote" in v.stale[0]


def test_another_environment_is_reported_and_the_comparison_still_runs():
    from harness.report import notes

    stored_env = {"torch": "2.12.0", "threads": 2, "device": "cpu"}
    live_env = {"torch": "2.13.0", "threads": 1, "device": "cpu", "batch_size": 16}
    stored = {"suites/s.py": {"base": {}, "promoted": {"acc": stored_entry(result("acc", 99), environment=stored_env)}}}
    [v] = evaluate(
        [record("tuned", result("acc", 50), {"max_drop_vs_promoted": 0.0}, environment=live_env)], stored, {}
    )
    assert v.promoted is not None and not v.stale and not v.passed
    assert v.environment_changes == ["threads 2 -> 1", "torch 2.12.0 -> 2.13.0"]
    [line] = [n for n in notes([v, v]) if n.startswith("environment")]
    assert "(threads 2 -> 1, torch 2.12.0 -> 2.13.0)" in line  # one line, each change once


def test_the_same_environment_says_nothing():
    from harness.report import notes

    env = {"torch": "2.13.0", "threads": 2}
    stored = {"suites/s.py": {"base": {}, "promoted": {"acc": stored_entry(result("acc", 90), environment=env)}}}
    [v] = evaluate([record("tuned", result("acc", 90), environment=env)], stored, {})
    assert v.environment_changes == [] and not [n for n in notes([v]) if n.startswith("environment")]


def test_bad_rules_are_named():
    with pytest.raises(HarnessError, match="unknown gate rule 'max_dorp'"):
        GateRule.parse({"max_dorp": 1}, "here")
    with pytest.raises(HarnessError, match="'lots' is not a drop size"):
        Threshold.parse("lots", "here")
    with pytest.raises(HarnessError, match="alpha must be between 0 and 1"):
        GateRule.parse({"alpha": 5}, "here")
