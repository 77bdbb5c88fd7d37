"""Seeded simulations of the monitor's statistical claims: false alarms over a horizon, calibrated effects.

Each simulation draws data with no drift (or a known drift) and checks the property the README states. The
bounds are binomial: with these seeds the outcome is fixed, and a broken procedure lands far outside them.
"""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pytest
from scipy.stats import binom
from test_monitoring_report import LABELS, NEW_WORDS, T0, WORDS, sentence

from harness.monitoring import drift
from harness.monitoring.logs import LogRecord, Reference
from harness.monitoring.monitor import MonitorSettings, monitor
from harness.monitoring.windows import parse_window


def _upper(trials: int, rate: float, tail: float = 0.001) -> int:
    """The count of events that `trials` draws at `rate` exceed only with probability `tail`."""
    return int(binom.ppf(1 - tail, trials, rate))


def test_classifier_p_values_are_uniform_without_drift():
    p_values = []
    for seed in range(200):
        rng = random.Random(seed)
        ref = [sentence(rng, WORDS) for _ in range(60)]
        window = [sentence(rng, WORDS) for _ in range(40)]
        p_values.append(drift.domain_classifier(ref, window, seed=seed).p_value)
    p = np.array(p_values)
    for level in (0.05, 0.2, 0.5):
        rejected = int(np.sum(p <= level))
        assert int(binom.ppf(0.001, 200, level)) <= rejected <= _upper(200, level), (level, rejected)


def _labels(rng: np.random.Generator, shares: np.ndarray, n: int) -> list[str]:
    return [f"label-{k}" for k in rng.choice(len(shares), n, p=shares)]


@pytest.mark.parametrize("bins", [3, 38])
def test_psi_above_chance_reads_stable_on_clean_windows_at_any_label_count_and_size(bins):
    shares = np.random.default_rng(bins).dirichlet(np.full(bins, 2.0))
    raw, above = {}, {}
    for n in (50, 200):
        tests = []
        for seed in range(30):
            rng = np.random.default_rng(seed)
            ref, window = _labels(rng, shares, 500), _labels(rng, shares, n)
            tests.append(drift.label_shift(ref, window, permutations=499, seed=seed, stop_above=1.0))
        raw[n] = np.mean([t.details["psi"] for t in tests])
        above[n] = [t.effect for t in tests]
        assert np.mean(above[n]) < 0.02  # chance is taken out: about 0 whatever n and the number of labels
        assert sum(t.effect > 0 for t in tests) <= _upper(30, 0.05)  # beyond the null's 95th percentile: ~5%
        assert not any(t.band == "major" for t in tests)
    if bins == 38:
        assert raw[50] > 0.3 and raw[200] > 0.15  # the plain PSI of clean windows would read moderate to major


def test_psi_above_chance_sees_a_label_collapse_with_many_labels():
    shares = np.random.default_rng(38).dirichlet(np.full(38, 2.0))
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        ref, window = _labels(rng, shares, 500), _labels(rng, shares, 200)
        collapsed = ["label-0"] * 50 + window[50:]  # a quarter of the answers collapse onto one label
        result = drift.label_shift(ref, collapsed, permutations=999, seed=seed)
        assert result.band in ("moderate", "major") and result.p_value < 0.01


def _points(reference, window):
    return np.array(reference, dtype=float), np.array(window, dtype=float)


@pytest.mark.parametrize("share", [0.0, 0.2, 0.5])
def test_mmd_new_share_is_a_lower_bound_on_the_share_of_new_traffic(share):
    for seed in range(5):
        rng = np.random.default_rng(seed)
        new = int(100 * share)
        window = np.vstack([rng.normal(size=(new, 5)) + 10, rng.normal(size=(100 - new, 5))])
        result = drift.embedding_mmd(rng.normal(size=(150, 5)).tolist(), window.tolist(), embed=_points, seed=seed)
        if share:
            assert share / 2 <= result.effect <= share and result.p_value == pytest.approx(1 / 5000)
        else:  # noise alone: a small share, and no significance
            assert result.effect < 0.1 and result.p_value > 0.01


def _run(seed: int, windows: int = 30, size: int = 50) -> list[LogRecord]:
    rng = random.Random(seed)
    records = []
    for day in range(windows):
        for k in range(size):
            label = rng.choice(LABELS)
            moment = T0 + timedelta(days=day, minutes=k)
            records.append(LogRecord(f"{day}-{k}", moment, sentence(rng, WORDS), label, "f", len(records) + 1, label))
    return records


def _reference(seed: int) -> Reference:
    rng = random.Random(10_000 + seed)
    texts = tuple(sentence(rng, WORDS) for _ in range(100))
    labels = tuple(rng.choice(LABELS) for _ in range(100))
    return Reference(texts, labels, labels, ("ref.jsonl:1",))


def test_false_alarms_over_a_horizon_of_30_windows_stay_under_alpha():
    """20 runs of 30 windows without drift: the horizon rule alarms in at most ~5% of runs (here: none);
    judging each window at 0.05 instead would alarm in most runs."""
    runs, alarmed, per_window_rule = 20, 0, 0
    for seed in range(runs):
        report = monitor(
            _run(seed), _reference(seed), MonitorSettings(window=parse_window("1d"), min_samples=40, seed=seed)
        )
        assert report.expected_false_alarms == pytest.approx(0.05)
        alarmed += bool(report.drifted)
        per_window_rule += any(
            t.p_adjusted <= 0.05 and (t.effect_floor is None or t.effect >= t.effect_floor)
            for w in report.windows
            for t in w.tests
            if t.enough_data
        )
    assert alarmed <= _upper(runs, 0.05)
    assert per_window_rule >= runs // 4  # the per-window level, spent 30 times, is no control over a month


def test_a_quarter_of_new_traffic_alarms_in_its_first_window():
    records = _run(0, windows=3, size=200)
    rng = random.Random(99)
    drifted = [
        LogRecord(r.id, r.timestamp, sentence(rng, NEW_WORDS), r.output, r.file, r.line, r.label)
        if r.timestamp.day == 3 and int(r.id.split("-")[1]) % 4 == 0
        else r
        for r in records
    ]  # a quarter of day 3 is a new kind of input
    reference = _reference(0)
    report = monitor(drifted, reference, MonitorSettings(window=parse_window("1d"), min_samples=40))
    assert [w.verdict for w in report.windows] == ["no drift", "no drift", "drift"]


def test_the_detectable_share_is_detected_about_half_the_time():
    """New inputs a classifier can separate, planted at the reported share, half its size and twice it."""
    level = 0.05 / 30 / 3
    rng = random.Random(0)
    probe = drift.domain_classifier(
        [sentence(rng, WORDS) for _ in range(300)], [sentence(rng, WORDS) for _ in range(200)]
    )
    share = drift.detectable_share([probe], level)
    detected = {}
    for factor in (0.5, 1.0, 2.0):
        hits = 0
        for seed in range(20):
            rng = random.Random(seed)
            new = round(200 * min(1.0, share * factor))
            window = [sentence(rng, NEW_WORDS) for _ in range(new)] + [sentence(rng, WORDS) for _ in range(200 - new)]
            ref = [sentence(rng, WORDS) for _ in range(300)]
            hits += drift.domain_classifier(ref, window, seed=seed).p_value <= level
        detected[factor] = hits
    assert detected[0.5] <= 4 and 4 <= detected[1.0] <= 16 and detected[2.0] >= 18, (share, detected)
