"""Benchmark: the gate's verdicts against known truth, by simulation through the real gate code.

Run: python bench/bench_gate_statistics.py [--replications 2000] [--resamples 2000] [--markdown]

Each replication draws paired per-item scores for a base and a tuned model whose true drop is known,
wraps them as MetricRecords and calls harness.gate.evaluate with `max_drop_vs_base = MARGIN, alpha = 0.05`,
exactly as a suite's record_metric would. Two kinds of per-item scores:

- binary (0/1, e.g. accuracy): per item the two models disagree with probability P_DISAGREE + drop, and
  the disagreements favour the base by `drop` (a paired-proportions model);
- continuous (e.g. sentence ROUGE): tuned = base - drop + skewed noise (a gamma-shaped error, SD 0.2).

Cells: n in {50, 100, 300, 1000}, true drop in {0, margin, MDE, 2 x margin}, where MDE is the drop the gate
states it FAILs with 80% power (MarginTest.minimum_detectable_drop, see stated_mde).
Each replication seeds the gate's bootstrap with its own number (the config's `seed`), so the rates are
those of the procedure, not of one fixed set of resamples. Measured: the share of runs that FAIL, PASS or are
INCONCLUSIVE; coverage of the 95% interval (the same
procedure at alpha = 0.025 per side); and with 20 gated metrics at a true drop equal to the margin, the
share of runs in which any metric FAILs after the Holm correction.

Targets: false-FAIL at drop = margin <= alpha; false-PASS at drop = 2 x margin <= alpha; coverage in
[0.93, 0.97]; FAIL rate at the stated MDE >= 0.8; run-level false-FAIL with 20 metrics <= alpha. Each is
marked ok, "ok (MC)" when it misses by less than two Monte Carlo standard errors of the simulated rate
(what an exact procedure does half the time at its boundary), or OFF.
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


def stated_mde(kind: str, n: int, resamples: int) -> float:
    """The drop the harness states it FAILs with 80% power.

    0/1 items: Tango's power at the simulation's true discordance. Continuous items: the studentized
    bootstrap states it from each run's own draws, so this is its median over 200 runs at a drop equal to
    the margin, as a user would read it off the report.
    """
    if kind == "binary":
        test = MarginTest("base", 0.0, (0, 0), MARGIN, ALPHA, 1, 1, TANGO, n, 0.0, better_rate=P_DISAGREE / 2)
        return test.minimum_detectable_drop
    rng = np.random.default_rng(zlib.crc32(f"pilot|{n}".encode()))
    stated = []
    for run in range(200):
        tuned, base = (r.result for r in records("m", *draw(kind, n, MARGIN, rng))[::-1])
        test = margin_test(tuned, base, MARGIN, reference_name="base", n_resamples=resamples, seed=run)
        stated.append(test.minimum_detectable_drop)
    return float(np.median(stated))


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
    for run in range(reps):
        recs = records("m", *draw(kind, n, drop, rng))
        [verdict] = evaluate(recs, {}, {}, n_resamples=resamples, seed=run)
        counts[verdict.status] += 1
        wide = margin_test(
            recs[1].result, recs[0].result, MARGIN, reference_name="base", alpha=0.025, n_resamples=resamples, seed=run
        )
        covered += wide.bounds[0] <= drop <= wide.bounds[1]
    return {k: v / reps for k, v in counts.items()} | {"coverage": covered / reps}


def run_level(kind: str, n: int, metrics: int, reps: int, resamples: int, seed: int) -> float:
    """Share of runs with `metrics` gated metrics, each at a true drop equal to the margin, that FAIL."""
    rng = np.random.default_rng(seed)
    failed = 0
    for run in range(reps):
        recs = []
        for k in range(metrics):
            recs += records(f"m{k:02d}", *draw(kind, n, MARGIN, rng))
        verdicts = evaluate(recs, {}, {}, n_resamples=resamples, seed=run)
        failed += any(v.status == FAIL for v in verdicts)
    return failed / reps


def judged(rate: float, reps: int, low: float, high: float) -> str:
    """'ok' inside [low, high]; 'ok (MC)' outside by less than two Monte Carlo standard errors; else 'OFF'.

    A procedure that is exact at the boundary (a FAIL rate of exactly alpha at the margin) lands above it in
    half of all simulations; two standard errors of the simulated rate tell that from a real miss.
    """
    if low <= rate <= high:
        return "ok"
    target = low if rate < low else high
    slack = 2 * math.sqrt(max(target * (1 - target), 1e-12) / reps)
    return "ok (MC)" if low - slack <= rate <= high + slack else "OFF"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=2000)
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples per test")
    parser.add_argument("--kinds", default="binary,continuous", help="comma-separated: binary, continuous")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated numbers of items")
    parser.add_argument(
        "--drops",
        default="0,margin,mde,2xmargin",
        help="comma-separated true drops to simulate: 0, margin, mde, 2xmargin",
    )
    parser.add_argument("--no-run-level", action="store_true", help="leave out the 20-metric run-level simulation")
    parser.add_argument("--markdown", action="store_true", help="print the table as the README's markdown")
    args = parser.parse_args()
    reps = args.replications
    kinds = args.kinds.split(",")
    started = time.perf_counter()
    verdicts: list[str] = []
    print(f"margin {MARGIN}, alpha {ALPHA}, {reps} replications per cell, {args.resamples} bootstrap resamples")
    if args.markdown:
        print("| scores | n | true drop | FAIL | PASS | INCONCLUSIVE | 95% coverage | targets |")
        print("|---|---|---|---|---|---|---|---|")
    else:
        print(f"{'scores':<11} {'n':>5} {'true drop':>14} {'FAIL':>6} {'PASS':>6} {'INCONC':>6} {'cover95':>7}  check")
    for kind in kinds:
        for n in map(int, args.sizes.split(",")):
            mde = stated_mde(kind, n, args.resamples) if "mde" in args.drops else math.nan
            true_drops = {"0": ("0", 0.0), "margin": ("margin", MARGIN), "mde": (f"MDE {mde:.3f}", mde)}
            true_drops["2xmargin"] = ("2 x margin", 2 * MARGIN)
            for label, drop in (true_drops[name] for name in args.drops.split(",")):
                seed = zlib.crc32(f"{kind}|{n}|{label}".encode())
                result = cell(kind, n, drop, reps, args.resamples, seed)
                checks = [("coverage", judged(result["coverage"], reps, 0.93, 0.97))]
                if label == "margin":
                    checks.append(("false FAIL <= alpha", judged(result[FAIL], reps, 0.0, ALPHA)))
                if label == "2 x margin":
                    checks.append(("false PASS <= alpha", judged(result[PASS], reps, 0.0, ALPHA)))
                if label.startswith("MDE"):
                    checks.append(("power >= 0.8", judged(result[FAIL], reps, 0.8, 1.0)))
                verdicts += [v for _, v in checks]
                note = "; ".join(f"{what} {v}" for what, v in checks)
                cells = [kind, n, label, result[FAIL], result[PASS], result["INCONCLUSIVE"], result["coverage"], note]
                if args.markdown:
                    print(
                        "| " + " | ".join(f"{c:.3f}" if isinstance(c, float) else str(c) for c in cells) + " |",
                        flush=True,
                    )
                else:
                    print(
                        f"{kind:<11} {n:>5} {label:>14} {result[FAIL]:>6.3f} {result[PASS]:>6.3f} "
                        f"{result['INCONCLUSIVE']:>6.3f} {result['coverage']:>7.3f}  {note}",
                        flush=True,
                    )
    for kind in [] if args.no_run_level else kinds:
        rate = run_level(kind, 300, 20, reps // 2, args.resamples, seed=7)
        verdict = judged(rate, reps // 2, 0.0, ALPHA)
        verdicts.append(verdict)
        print(
            f"- 20 gated {kind} metrics, n=300, each at a true drop equal to the margin ({reps // 2} runs): "
            f"run-level false FAIL {rate:.3f} (<= alpha after Holm: {verdict})",
            flush=True,
        )
    strict, within = verdicts.count("ok"), verdicts.count("ok (MC)")
    print(
        f"targets: {strict} of {len(verdicts)} met, {within} more within Monte Carlo error, "
        f"{len(verdicts) - strict - within} missed ({time.perf_counter() - started:.0f} s)"
    )
    return 0 if strict + within == len(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
