"""Benchmark: the gate's verdicts against known truth, by simulation through the real gate code.

Run: python bench/bench_gate_statistics.py [--replications 1000] [--resamples 2000]

Each replication draws paired per-item scores for a base and a tuned model whose true drop is known,
wraps them as MetricRecords and calls harness.gate.evaluate with `max_drop_vs_base = MARGIN, alpha = 0.05`,
exactly as a suite's record_metric would. Two kinds of per-item scores:

- binary (0/1, e.g. accuracy): per item the two models disagree with probability P_DISAGREE + drop, and
  the disagreements favour the base by `drop` (a paired-proportions model);
- continuous (e.g. sentence ROUGE): tuned = base - drop + skewed noise (a gamma-shaped error, SD 0.2).

Cells: n in {50, 100, 300, 1000}, true drop in {0, margin, MDE, 2 x margin}, where MDE is the drop the gate
states it FAILs with 80% power (MarginTest.minimum_detectable_drop for the simulation's true parameters).
Measured: the share of runs that FAIL, PASS or are INCONCLUSIVE; coverage of the 95% interval (the same
procedure at alpha = 0.025 per side); and with 20 gated metrics at a true drop equal to the margin, the
share of runs in which any metric FAILs after the Holm correction.

Targets: false-FAIL at drop = margin <= alpha; false-PASS at drop = 2 x margin <= alpha; coverage in
[0.93, 0.97]; FAIL rate at the stated MDE >= 0.8; run-level false-FAIL with 20 metrics <= alpha.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.gate import evaluate  # noqa: E402
from harness.metrics.result import MetricResult  # noqa: E402
from harness.noninferiority import FAIL, PASS, TANGO, MarginTest, margin_test  # noqa: E402
from harness.records import MetricRecord  # noqa: E402

MARGIN = 0.05
ALPHA = 0.05
P_DISAGREE = 0.10  # share of items on which the two models disagree when neither is better
NOISE_SD = 0.20
SIZES = (50, 100, 300, 1000)


def true_sd(kind: str, drop: float) -> float:
    """SD of the per-item drop under the simulation model."""
    if kind == "binary":
        discordant = P_DISAGREE + drop
        return math.sqrt(discordant - drop * drop)
    return NOISE_SD


def stated_mde(kind: str, n: int) -> float:
    """The drop the harness states it FAILs with 80% power, for the simulation's true parameters."""
    if kind == "binary":
        test = MarginTest("base", 0.0, (0, 0), MARGIN, ALPHA, 1, 1, TANGO, n, 0.0, better_rate=P_DISAGREE / 2)
    else:
        test = MarginTest("base", 0.0, (0, 0), MARGIN, ALPHA, 1, 1, "bootstrap", n, true_sd(kind, MARGIN))
    return test.minimum_detectable_drop


def draw(kind: str, n: int, drop: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-item (base, tuned) scores with a true mean drop of `drop`."""
    if kind == "binary":
        base = (rng.random(n) < 0.7).astype(float)
        u = rng.random(n)
        worse = u < (P_DISAGREE + drop) / 2 + drop / 2  # base right, tuned wrong
        better = (u >= (P_DISAGREE + drop) / 2 + drop / 2) & (u < P_DISAGREE + drop)
        base = np.where(worse, 1.0, np.where(better, 0.0, base))
        tuned = np.where(worse, 0.0, np.where(better, 1.0, base))
        return base, tuned
    base = rng.beta(2, 3, n)
    noise = (rng.gamma(2.0, 1.0, n) - 2.0) / math.sqrt(2.0) * NOISE_SD  # skewed, mean 0, SD NOISE_SD
    return base, base - drop + noise


def records(name: str, base: np.ndarray, tuned: np.ndarray) -> list[MetricRecord]:
    ids = [f"i{k:04d}" for k in range(len(base))]
    rules = {"max_drop_vs_base": MARGIN, "alpha": ALPHA}
    out = []
    for role, scores in (("base", base), ("tuned", tuned)):
        value = float(scores.mean())
        result = MetricResult(name, value, (value, value), len(scores), dict(zip(ids, scores.tolist(), strict=True)))
        out.append(MetricRecord("suites/sim.py", "t", role, result, rules=rules))
    return out


def cell(kind: str, n: int, drop: float, reps: int, resamples: int, seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    counts = {FAIL: 0, PASS: 0, "INCONCLUSIVE": 0}
    covered = 0
    for _ in range(reps):
        base, tuned = draw(kind, n, drop, rng)
        [verdict] = evaluate(records("m", base, tuned), {}, {}, n_resamples=resamples)
        counts[verdict.status] += 1
        wide = margin_test(
            records("m", base, tuned)[1].result,
            records("m", base, tuned)[0].result,
            MARGIN,
            reference_name="base",
            alpha=0.025,
            n_resamples=resamples,
        )
        covered += wide.bounds[0] <= drop <= wide.bounds[1]
    return {k: v / reps for k, v in counts.items()} | {"coverage": covered / reps}


def run_level(kind: str, n: int, metrics: int, reps: int, resamples: int, seed: int) -> float:
    """Share of runs with `metrics` gated metrics, each at a true drop equal to the margin, that FAIL."""
    rng = np.random.default_rng(seed)
    failed = 0
    for _ in range(reps):
        recs = []
        for k in range(metrics):
            recs += records(f"m{k:02d}", *draw(kind, n, MARGIN, rng))
        verdicts = evaluate(recs, {}, {}, n_resamples=resamples)
        failed += any(v.status == FAIL for v in verdicts)
    return failed / reps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples per test")
    args = parser.parse_args()
    reps = args.replications
    started = time.perf_counter()
    rows = []
    met_all = True
    print(f"margin {MARGIN}, alpha {ALPHA}, {reps} replications per cell, {args.resamples} bootstrap resamples")
    print(f"{'scores':<11} {'n':>5} {'true drop':>14} {'FAIL':>6} {'PASS':>6} {'INCONC':>6} {'cover95':>7}  check")
    for kind in ("binary", "continuous"):
        for n in SIZES:
            mde = stated_mde(kind, n)
            for label, drop in (("0", 0.0), ("margin", MARGIN), (f"MDE {mde:.3f}", mde), ("2 x margin", 2 * MARGIN)):
                seed = zlib.crc32(f"{kind}|{n}|{label}".encode())
                result = cell(kind, n, drop, reps, args.resamples, seed)
                checks = [0.93 <= result["coverage"] <= 0.97]
                note = f"coverage {'ok' if checks[0] else 'OFF'}"
                if label == "margin":
                    checks.append(result[FAIL] <= ALPHA)
                    note += f"; false FAIL {'<=' if checks[-1] else '>'} alpha"
                if label == "2 x margin":
                    checks.append(result[PASS] <= ALPHA)
                    note += f"; false PASS {'<=' if checks[-1] else '>'} alpha"
                if label.startswith("MDE"):
                    checks.append(result[FAIL] >= 0.8)
                    note += f"; power {'>=' if checks[-1] else '<'} 0.8"
                met_all &= all(checks)
                rows.append((kind, n, label, result))
                print(
                    f"{kind:<11} {n:>5} {label:>14} {result[FAIL]:>6.3f} {result[PASS]:>6.3f} "
                    f"{result['INCONCLUSIVE']:>6.3f} {result['coverage']:>7.3f}  {note}",
                    flush=True,
                )
    for kind in ("binary", "continuous"):
        rate = run_level(kind, 300, 20, reps, args.resamples, seed=7)
        ok = rate <= ALPHA
        met_all &= ok
        print(
            f"20 gated {kind} metrics, n=300, each at drop = margin: run-level false FAIL {rate:.3f} "
            f"({'<=' if ok else '>'} alpha, Holm)",
            flush=True,
        )
    print(f"all targets met: {'yes' if met_all else 'NO'} ({time.perf_counter() - started:.0f} s)")
    return 0 if met_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
