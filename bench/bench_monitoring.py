"""Benchmark: false-alarm and detection rates of the drift monitor on seeded replays of the demo production logs.

    python bench/bench_monitoring.py [--seeds 20] [--jobs 2] [--power 0.05 0.1 0.15 0.2] [--json PATH]

Each replay generates the demo logs with a new seed (ten stable days, then four days with a growing share of
data-protection clauses), and runs the monitor with its defaults (1d windows, Holm, alpha 0.05) against the demo
eval sets. It prints the false-alarm rate on the stable windows, the detection rate on the drift windows (overall,
per day and per test), how many replays flag exactly the right windows, exact 95% intervals, and the time taken.
`--power` adds a detection curve: one drift day of each given share per seed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.monitoring import DRIFT_SHARES, DRIFT_START  # noqa: E402
from fixtures.monitoring.generate import generate_logs  # noqa: E402
from harness.monitoring.logs import LogRecord, Reference, read_reference  # noqa: E402
from harness.monitoring.monitor import DRIFT, MonitorSettings, monitor  # noqa: E402
from harness.monitoring.windows import parse_window  # noqa: E402

REFERENCE = [ROOT / "fixtures" / "data" / "clauses.jsonl", ROOT / "fixtures" / "data" / "clause_summaries.jsonl"]


def records(rows: list[dict[str, Any]]) -> list[LogRecord]:
    """Generated rows as log records (no file round trip)."""
    return [
        LogRecord(r["id"], datetime.fromisoformat(r["timestamp"]).astimezone(UTC), r["input"], r["output"], "demo", k)
        for k, r in enumerate(rows, start=1)
    ]


def replay(seed: int, shares: tuple[float, ...], only_last: bool) -> list[dict[str, Any]]:
    """Judge every window of one seeded replay: (day, drift share, verdict, flagged tests, seconds)."""
    reference: Reference = read_reference(REFERENCE)
    settings = MonitorSettings(window=parse_window("1d"), seed=seed)
    logs = records(generate_logs(seed, shares))
    if only_last:
        last_day = max(r.timestamp for r in logs).date()
        logs = [r for r in logs if r.timestamp.date() == last_day]
    started = time.perf_counter()
    report = monitor(logs, reference, settings)
    seconds = time.perf_counter() - started
    out = []
    for result in report.windows:
        day = (result.window.start - DRIFT_START).days
        share = shares[day] if 0 <= day < len(shares) else 0.0
        flagged = [t.name for t in result.tests if t.flagged]
        out.append(
            {
                "seed": seed,
                "window": result.window.label,
                "share": share,
                "verdict": result.verdict,
                "flagged": flagged,
                "seconds": seconds / len(report.windows),
            }
        )
    return out


def clopper_pearson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for hits / n."""
    from scipy.stats import beta

    tail = (1 - level) / 2
    low = 0.0 if hits == 0 else float(beta.ppf(tail, hits, n - hits + 1))
    high = 1.0 if hits == n else float(beta.ppf(1 - tail, hits + 1, n - hits))
    return low, high


def rate(rows: Sequence[dict[str, Any]]) -> str:
    hits = sum(r["verdict"] == DRIFT for r in rows)
    low, high = clopper_pearson(hits, len(rows)) if rows else (0.0, 1.0)
    share = hits / len(rows) if rows else 0.0
    return f"{hits}/{len(rows)} = {share:.1%} (95% CI {low:.1%}-{high:.1%})"


def run_all(jobs: int, tasks: list[tuple[int, tuple[float, ...], bool]]) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    if jobs <= 1:
        return [row for task in tqdm(tasks, desc="replays") for row in replay(*task)]
    with ProcessPoolExecutor(jobs) as pool:
        futures = [pool.submit(replay, *task) for task in tasks]
        return [row for future in tqdm(futures, desc="replays") for row in future.result()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeded replays of the demo logs (default 20)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="replays run in parallel processes (default 1)")
    parser.add_argument(
        "--power",
        type=float,
        nargs="*",
        default=[],
        metavar="SHARE",
        help="also measure detection for one drift day of each share",
    )
    parser.add_argument("--json", type=Path, help="write every window's outcome as JSON")
    args = parser.parse_args()

    seeds = range(args.first_seed, args.first_seed + args.seeds)
    started = time.perf_counter()
    rows = run_all(args.jobs, [(seed, DRIFT_SHARES, False) for seed in seeds])
    stable = [r for r in rows if r["share"] == 0.0]
    drifted = [r for r in rows if r["share"] > 0.0]
    print(f"{args.seeds} replays of the demo logs, {len(rows)} daily windows, defaults: Holm, alpha 0.05")
    print(f"false alarms on stable windows:  {rate(stable)}")
    print(f"detection on drift windows:      {rate(drifted)}")
    for label in sorted({r["window"] for r in drifted}):
        day = [r for r in drifted if r["window"] == label]
        print(f"  {label} ({day[0]['share']:.0%} data-protection clauses): {rate(day)}")
    exact = sum(all((r["verdict"] == DRIFT) == (r["share"] > 0) for r in rows if r["seed"] == seed) for seed in seeds)
    print(f"replays flagging exactly the drift windows and nothing else: {exact}/{args.seeds}")
    for name in ("domain_classifier", "embedding_mmd", "output_length", "label_shift"):
        on_stable = sum(name in r["flagged"] for r in stable)
        on_drift = sum(name in r["flagged"] for r in drifted)
        print(f"  {name:<18} flagged {on_stable}/{len(stable)} stable, {on_drift}/{len(drifted)} drift windows")
    seconds = [r["seconds"] for r in rows]
    print(
        f"time: {sum(seconds) / len(seconds):.2f} s per window on average; {time.perf_counter() - started:.0f} s wall"
    )

    power_rows: list[dict[str, Any]] = []
    if args.power:
        tasks = [(seed, (share,), True) for share in args.power for seed in seeds]
        power_rows = run_all(args.jobs, tasks)
        print("detection by share of new-type traffic (one 1d window of about 150 requests):")
        for share in args.power:
            print(f"  {share:.0%}: {rate([r for r in power_rows if r['share'] == share])}")
    if args.json:
        args.json.write_text(json.dumps({"replays": rows, "power": power_rows}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
