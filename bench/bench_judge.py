"""Benchmark: the judge's calibrated (PPI) intervals against known truth, by simulation.

Run: python bench/bench_judge.py [--replications 500] [--judged 2000]

Each replication draws the true pass/fail of 2,000 answers of a base (pass rate 0.70) and a tuned model
(0.65), a synthetic judge with known sensitivity and false-pass rate grading every answer, and a random
subset of n answers (n in 50, 100, 200, 300) that reviewers rate (their rating is the truth). Measured, per
judge and n, through harness.judge.calibration exactly as the suite calls it:

- coverage of the 95% interval of the tuned pass rate: judge alone (CLT on the judge's grades), human
  sample alone (CLT), calibrated (PPI);
- the calibrated interval's width over the human-only one (below 1: the judge is worth having);
- coverage of the calibrated base-vs-tuned difference: PPI on per-item differences, and the normal
  interval of the paired per-item pseudo-outcomes the gate's paired tests resample.

Target: calibrated coverage in [0.93, 0.97] in every cell; the judge-alone coverage shows what a biased
judge does without calibration.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.judge.calibration import human_mean, judge_mean, ppi_mean, pseudo_outcomes  # noqa: E402

JUDGES = {  # name: (P(judge passes | truly passes), P(judge passes | truly fails))
    "accurate": (0.95, 0.05),
    "lenient (biased)": (0.95, 0.35),
    "noisy": (0.75, 0.25),
}
REVIEWED = (50, 100, 200, 300)
P_BASE, P_TUNED = 0.70, 0.65
Z = float(norm.ppf(0.975))


def covers(ci: tuple[float, float], truth: float) -> bool:
    return ci[0] <= truth <= ci[1]


def replicate(rng: np.random.Generator, judged: int, reviewed: int, judge: tuple[float, float]) -> dict[str, float]:
    """One simulated run: which intervals cover the truth, and the calibrated/human width ratio."""
    sensitivity, false_pass = judge
    # Paired truth: the tuned answer fails where the base fails, and on some more items.
    base = (rng.random(judged) < P_BASE).astype(float)
    tuned = base * (rng.random(judged) < P_TUNED / P_BASE)

    def grade(truth: np.ndarray) -> np.ndarray:
        draws = rng.random(truth.size)
        return np.where(truth == 1, draws < sensitivity, draws < false_pass).astype(float)

    judged_base, judged_tuned = grade(base), grade(tuned)
    rated = rng.choice(judged, size=reviewed, replace=False)
    calibrated = ppi_mean(tuned[rated], judged_tuned[rated], judged_tuned)
    human = human_mean(tuned[rated])
    difference = ppi_mean((tuned - base)[rated], (judged_tuned - judged_base)[rated], judged_tuned - judged_base)
    human_all = {name: np.full(judged, np.nan) for name in ("base", "tuned")}
    human_all["base"][rated], human_all["tuned"][rated] = base[rated], tuned[rated]
    paired = pseudo_outcomes(judged_tuned, human_all["tuned"]) - pseudo_outcomes(judged_base, human_all["base"])
    half = Z * paired.std(ddof=1) / np.sqrt(judged)
    true_difference = P_TUNED - P_BASE
    return {
        "judge": covers(judge_mean(judged_tuned).ci, P_TUNED),
        "human": covers(human.ci, P_TUNED),
        "ppi": covers(calibrated.ci, P_TUNED),
        "width": (calibrated.ci[1] - calibrated.ci[0]) / (human.ci[1] - human.ci[0]),
        "difference": covers(difference.ci, true_difference),
        "paired": covers((paired.mean() - half, paired.mean() + half), true_difference),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replications", type=int, default=500)
    parser.add_argument("--judged", type=int, default=2000)
    args = parser.parse_args()
    started = time.process_time()
    print(f"{args.judged} judged answers, {args.replications} replications per cell, 95% intervals\n")
    header = (
        f"{'judge':<18} {'reviewed':>8} {'judge-only cov':>14} {'human-only cov':>14} {'PPI cov':>8} "
        f"{'PPI/human width':>15} {'PPI diff cov':>12} {'paired pseudo cov':>17}"
    )
    print(header)
    print("-" * len(header))
    worst = 1.0
    for offset, (name, judge) in enumerate(JUDGES.items()):
        for reviewed in REVIEWED:
            rng = np.random.default_rng(1000 * offset + reviewed)
            runs = [replicate(rng, args.judged, reviewed, judge) for _ in range(args.replications)]
            mean = {key: float(np.mean([run[key] for run in runs])) for key in runs[0]}
            worst = min(worst, mean["ppi"])
            print(
                f"{name:<18} {reviewed:>8} {mean['judge']:>14.3f} {mean['human']:>14.3f} {mean['ppi']:>8.3f} "
                f"{mean['width']:>15.2f} {mean['difference']:>12.3f} {mean['paired']:>17.3f}"
            )
    print(f"\nlowest calibrated coverage: {worst:.3f}; CPU seconds: {time.process_time() - started:.1f}")


if __name__ == "__main__":
    main()
