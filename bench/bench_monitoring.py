"""Benchmark: false alarms over a month of windows, detection delay and cost of the drift monitor, on real text.

    python bench/bench_monitoring.py [--runs 30] [--drift-runs 10] [--windows 30] [--size 200] [--json PATH]

Text this project did not write, available offline: the reference domain is the Python reference manual as the
standard library ships it (pydoc_data.topics: about 1,500 paragraphs under 79 topics, the topic as the answer
label); drift is the licence texts shipped inside the installed packages (*.dist-info/LICENSE*, COPYING*,
NOTICE*: legal clauses). Each seeded replay draws a reference of 500 paragraphs and windows of 200 requests
from the manual, then runs the monitor's per-window judgement with its defaults (alpha 0.05 over a horizon of 30
windows, Holm, 4,999 permutations).

No drift: `--runs` replays of `--windows` windows; a replay with any alarm is a run-level false alarm.
Sudden drift: from the third window on, a share (10% or 25%) of each window's inputs is licence text, with labels
drawn like the reference's (so only the input tests can see it); the delay is the number of drifted windows
before the first alarm (0: the first drifted window alarms), up to 10. Cost: CPU seconds per window
(time.process_time of the judgement, one BLAS thread).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.monitoring.logs import LogRecord, Reference  # noqa: E402
from harness.monitoring.monitor import DRIFT, MonitorSettings, judge_window  # noqa: E402
from harness.monitoring.windows import Window, parse_window  # noqa: E402

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MAX_DELAY = 10


def _paragraphs(text: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", text):
        flat = " ".join(block.split())
        if len(flat.split()) >= 8 and re.search("[a-z]", flat):
            out.append(flat)
    return out


def manual() -> list[tuple[str, str]]:
    """(topic, paragraph) pairs of the Python reference manual shipped with the standard library."""
    from pydoc_data.topics import topics

    return [(topic, p) for topic, text in sorted(topics.items()) for p in _paragraphs(text)]


def licences() -> list[str]:
    """Distinct paragraphs of the licence files shipped in the installed packages' metadata."""
    site = next(p for p in sys.path if p.endswith("site-packages"))
    files = sorted(
        f
        for f in glob.glob(f"{site}/*.dist-info/**/*", recursive=True)
        if os.path.isfile(f) and re.search(r"LICEN[CS]E|COPYING|NOTICE", os.path.basename(f), re.I)
    )
    return sorted({p for f in files for p in _paragraphs(Path(f).read_text(encoding="utf-8", errors="replace"))})


def reference(rng: random.Random, pool: list[tuple[str, str]], size: int) -> Reference:
    rows = [rng.choice(pool) for _ in range(size)]
    labels = tuple(topic for topic, _ in rows)
    return Reference(tuple(p for _, p in rows), (), labels, tuple(f"manual:{k}" for k in range(size)))


def window(
    rng: random.Random, index: int, pool: list[tuple[str, str]], new: list[str], size: int, share: float
) -> Window:
    rows = [rng.choice(pool) for _ in range(size)]
    drifted = round(size * share)
    rows = [(rng.choice(pool)[0], rng.choice(new)) for _ in range(drifted)] + rows[drifted:]
    records = tuple(
        LogRecord(f"{index}-{k}", T0, text, topic, "replay", k + 1, label=topic) for k, (topic, text) in enumerate(rows)
    )
    return Window(index, T0, T0, records, counted=True)


def judge(w: Window, ref: Reference, settings: MonitorSettings) -> dict[str, Any]:
    started = time.process_time()
    result = judge_window(w, ref, settings)
    seconds = time.process_time() - started
    label = result.test("label_shift")
    return {
        "alarm": result.verdict == DRIFT,
        "flagged": [t.name for t in result.tests if t.flagged],
        "min_p_adjusted": min(t.p_adjusted for t in result.tests if t.enough_data),
        "per_window_005": any(
            t.p_adjusted <= 0.05 and (t.effect_floor is None or t.effect >= t.effect_floor)
            for t in result.tests
            if t.enough_data
        ),
        "label_psi": label.details["psi"] if label else None,
        "label_effect": label.effect if label else None,
        "label_band": label.band if label else None,
        "detectable_share": result.detectable_share,
        "cpu_seconds": seconds,
    }


def no_drift_run(seed: int, args: argparse.Namespace, pool, new) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    ref = reference(rng, pool, args.reference)
    settings = MonitorSettings(window=parse_window(args.size), seed=seed)
    return [judge(window(rng, k, pool, new, args.size, 0.0), ref, settings) for k in range(args.windows)]


def drift_run(seed: int, share: float, args: argparse.Namespace, pool, new) -> dict[str, Any]:
    rng = random.Random(10_000 + seed)
    ref = reference(rng, pool, args.reference)
    settings = MonitorSettings(window=parse_window(args.size), seed=seed)
    before = [judge(window(rng, k, pool, new, args.size, 0.0), ref, settings) for k in range(2)]
    rows = []
    for k in range(MAX_DELAY):
        rows.append(judge(window(rng, 2 + k, pool, new, args.size, share), ref, settings))
        if rows[-1]["alarm"]:
            break
    delay = len(rows) - 1 if rows[-1]["alarm"] else None
    return {"seed": seed, "share": share, "early_alarm": any(r["alarm"] for r in before), "delay": delay, "rows": rows}


def clopper_pearson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for hits / n."""
    from scipy.stats import beta

    tail = (1 - level) / 2
    low = 0.0 if hits == 0 else float(beta.ppf(tail, hits, n - hits + 1))
    high = 1.0 if hits == n else float(beta.ppf(1 - tail, hits + 1, n - hits))
    return low, high


def rate(hits: int, n: int) -> str:
    low, high = clopper_pearson(hits, n)
    return f"{hits}/{n} = {hits / n:.1%} (95% CI {low:.1%}-{high:.1%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="no-drift replays (default 30)")
    parser.add_argument("--drift-runs", type=int, default=10, help="replays per drift share (default 10)")
    parser.add_argument("--shares", type=float, nargs="+", default=[0.1, 0.25], help="drift shares (default 0.1 0.25)")
    parser.add_argument("--windows", type=int, default=30, help="windows per no-drift replay (default 30)")
    parser.add_argument("--size", type=int, default=200, help="requests per window (default 200)")
    parser.add_argument("--reference", type=int, default=500, help="reference paragraphs (default 500)")
    parser.add_argument("--json", type=Path, help="write every window's outcome as JSON")
    args = parser.parse_args()
    from tqdm import tqdm

    pool, new = manual(), licences()
    print(
        f"reference domain: Python reference manual, {len(pool)} paragraphs, {len({t for t, _ in pool})} topics; "
        f"drift: {len(new)} licence paragraphs of the installed packages"
    )
    rule = MonitorSettings(window=parse_window(args.size)).rule
    print(f"windows of {args.size} requests against {args.reference} reference paragraphs; defaults: {rule}")
    started = time.perf_counter()
    clean = [no_drift_run(seed, args, pool, new) for seed in tqdm(range(args.runs), desc="no-drift replays")]
    windows = [w for run in clean for w in run]
    alarmed = sum(any(w["alarm"] for w in run) for run in clean)
    print(f"\nno drift, {args.runs} replays of {args.windows} windows:")
    print(f"  replays with any alarm (run-level false alarms):  {rate(alarmed, args.runs)}")
    print(f"  windows with an alarm:                           {rate(sum(w['alarm'] for w in windows), len(windows))}")
    per_window = sum(any(w["per_window_005"] for w in run) for run in clean)
    print(f"  replays a per-window 0.05 rule would fail:       {rate(per_window, args.runs)}")
    psi = [w["label_psi"] for w in windows]
    bands = {b: sum(w["label_band"] == b for w in windows) for b in ("stable", "moderate", "major")}
    above = statistics.mean(w["label_effect"] for w in windows)
    print(
        f"  label PSI of clean windows: plain (smoothed) mean {statistics.mean(psi):.3f} "
        f"(range {min(psi):.3f}-{max(psi):.3f}); above chance mean {above:.4f}; bands {bands}"
    )
    shares = [w["detectable_share"] for w in windows]
    print(f"  share of new, separable inputs a window detects half the time: median {statistics.median(shares):.1%}")
    cpu = [w["cpu_seconds"] for w in windows]
    print(f"  CPU seconds per window: mean {statistics.mean(cpu):.3f}, max {max(cpu):.3f}")

    drifts = []
    for share in args.shares:
        runs = [
            drift_run(seed, share, args, pool, new) for seed in tqdm(range(args.drift_runs), desc=f"{share:.0%} drift")
        ]
        drifts += runs
        delays = [r["delay"] for r in runs]
        seen = [d for d in delays if d is not None]
        cpu = [row["cpu_seconds"] for r in runs for row in r["rows"]]
        print(f"\nsudden drift, {share:.0%} licence text from window 3 on, {args.drift_runs} replays:")
        print(f"  delay in windows (0 = the first drifted window alarms): {delays}")
        print(
            f"  alarmed within {MAX_DELAY} windows: {len(seen)}/{len(runs)}; in the first drifted window: "
            f"{sum(d == 0 for d in seen)}/{len(runs)}; median delay {statistics.median(seen) if seen else '-'}"
        )
        print(f"  CPU seconds per drifted window: mean {statistics.mean(cpu):.3f}, max {max(cpu):.3f}")
    print(f"\n{time.perf_counter() - started:.0f} s wall")
    if args.json:
        args.json.write_text(json.dumps({"no_drift": clean, "drift": drifts}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
