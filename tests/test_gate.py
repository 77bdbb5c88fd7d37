"""Gate rules: floors, drops against base and promoted, statistical rules, stale references."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.baselines import BaselineEntry
from harness.errors import HarnessError
from harness.gate import GateRule, Threshold, check_rule, evaluate, worse_by
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


def test_a_drop_the_data_cannot_decide_is_inconclusive_and_says_what_would_decide_it():
    """Too few items to tell: neither a pass nor a fail, and the verdict names the items needed."""
    base, tuned = result("acc", 10, n=20), result("acc", 8, n=20)
    rules = {"max_drop_vs_base": 0.05, "alpha": 0.05}
    [v] = evaluate([record("base", base, rules), record("tuned", tuned, rules)], {}, {})
    assert v.status == "INCONCLUSIVE" and not v.passed and not v.failures
    [reason] = v.inconclusive
    assert "acc vs base: drop 0.100, 90% interval of the drop [-0.080, 0.262] contains the allowed 0.050" in reason
    assert "more paired items would tell a drop of 0.050 from none at 80% power" in reason


def test_the_same_results_on_enough_items_pass_within_the_margin():
    rules = {"max_drop_vs_base": 0.05}
    [v] = evaluate([record("base", result("acc", 90), rules), record("tuned", result("acc", 90), rules)], {}, {})
    assert v.status == "PASS" and v.passed
    [test] = v.margin_tests
    assert test.method.startswith("Tango") and test.bounds[1] < 0.05 and test.p_pass < 0.05


def test_lower_is_better_metrics_drop_upwards():
    assert worse_by(12.0, 10.0, higher_is_better=False) == 2.0
    assert worse_by(0.8, 0.9, higher_is_better=True) == pytest.approx(0.1)
    rules = {"max_drop_vs_base": "10%"}
    base = MetricResult("ppl", 10.0, (9, 11), 3, {"a": 10.0, "b": 10.0, "c": 10.0}, higher_is_better=False)
    tuned = MetricResult("ppl", 12.0, (11, 13), 3, {"a": 12.0, "b": 12.0, "c": 12.0}, higher_is_better=False)
    [v] = evaluate([record("base", base, rules), record("tuned", tuned, rules)], {}, {})
    assert "ppl dropped vs base: 10.000 -> 12.000 (drop 2.000" in v.failures[0]
    assert "lies above the allowed 1.000" in v.failures[0]


def test_many_gated_metrics_are_corrected_together():
    """Holm over every gated comparison of the run: each adjusted p is at least its raw p."""
    rules = {"max_drop_vs_base": 0.0}
    records = []
    for k in range(5):
        name = f"m{k}"
        records += [record("base", result(name, 60), rules), record("tuned", result(name, 55 - k), rules)]
    verdicts = evaluate(records, {}, {})
    tests = [t for v in verdicts for t in v.margin_tests]
    assert all(t.p_fail_adjusted >= t.p_fail for t in tests)
    assert max(t.p_fail_adjusted for t in tests) > max(t.p_fail for t in tests) or len(tests) == 1


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


def test_a_zero_margin_says_what_it_takes_and_the_json_stays_valid():
    from harness.report import as_json

    rules = {"max_drop_vs_base": 0.0}
    [v] = evaluate([record("base", result("acc", 60), rules), record("tuned", result("acc", 60), rules)], {}, {})
    assert v.status == "INCONCLUSIVE"
    assert "with no drop allowed only a shown improvement passes" in v.inconclusive[0]
    import json

    document = json.loads(as_json([v]), parse_constant=lambda name: pytest.fail(f"{name} in the JSON report"))
    assert document["metrics"][0]["margin_tests"][0]["items_needed"] is None


@settings(max_examples=200, deadline=None)
@given(
    value=st.floats(allow_infinity=False),
    floor=st.one_of(st.none(), st.floats(-1e6, 1e6)),
    ceiling=st.one_of(st.none(), st.floats(-1e6, 1e6)),
)
def test_check_rule_fails_exactly_the_bounds_a_value_misses(value, floor, ceiling):
    res = MetricResult("acc", value, (value, value), 1, {"i": 1.0})
    missed = check_rule(GateRule(floor=floor, ceiling=ceiling), res).failures
    below = floor is not None and not value >= floor  # a NaN value misses every bound
    above = ceiling is not None and not value <= ceiling
    expected = [f"acc is below its floor: {value:.3f} < {floor:g}"] if below else []
    assert [m for m in missed if "below its floor" in m] == expected
    assert len([m for m in missed if "above its ceiling" in m]) == above


def test_the_recorder_the_gate_and_the_review_word_a_missed_floor_the_same():
    low = MetricResult("agreement", 0.41, (0.41, 0.41), 20, {})
    [verdict] = evaluate([record("tuned", low, {"floor": 0.667})], {}, {})
    assert (
        verdict.failures
        == check_rule(GateRule(floor=0.667), low).failures
        == ["agreement is below its floor: 0.410 < 0.667"]
    )


def test_a_nan_metric_misses_its_floor_instead_of_passing():
    nan = MetricResult("acc", math.nan, (math.nan, math.nan), 10, {})
    [verdict] = evaluate([record("tuned", nan, {"floor": 0.5})], {}, {})
    assert verdict.failures == ["acc is below its floor: nan < 0.5"]


def test_direction_is_read_at_the_rule_alpha():
    rules = {"alpha": 0.01}
    base, tuned = result("acc", 90), result("acc", 84)  # 6 lost items: McNemar p = 0.031
    [strict] = evaluate([record("base", base, rules), record("tuned", tuned, rules)], {}, {})
    [default] = evaluate([record("base", base), record("tuned", tuned)], {}, {})
    assert 0.01 < strict.vs_base.p_value < 0.05
    assert (strict.direction, default.direction) == ("same", "worse")


def test_the_seed_reaches_the_gate_bootstrap_and_nothing_else():
    rules = {"max_drop_vs_base": 0.05, "alpha": 0.05}
    sides = [record("base", result("acc", 90), rules), record("tuned", result("acc", 85), rules)]
    [first], [again], [other] = (evaluate(sides, {}, {}, n_resamples=500, seed=s) for s in (0, 0, 1))
    assert first.vs_base.ci == again.vs_base.ci and first.vs_base.ci != other.vs_base.ci
    assert first.vs_base.p_value == other.vs_base.p_value and first.status == other.status


def test_a_rule_written_as_keywords_parses_back_to_itself():
    rule = GateRule(floor=0.5, max_drop_vs_base=Threshold(0.05, relative=True), max_drop_vs_promoted=Threshold(0.02))
    assert GateRule.parse(rule.as_keywords(), "here") == rule
