"""Load test of the review app: concurrent reviewers on loopback, then a count of what reached the database.

    python bench/bench_review_load.py                       # 20 reviewers x 500 submissions
    python bench/bench_review_load.py --kill-after 4000     # SIGKILL the server mid-load, then check

The server runs as its own process (`harness review serve`), as it would for a team; each reviewer is a
thread with its own personal link (issued with the store's `invite`) and HTTP session that does what a person
does: load the next answer, post a rating.
A submission counts as acknowledged when the server answered 303 (after the SQLite commit). "lost" is
acknowledged minus stored: it must be 0, also when the server is killed.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.review.build import synthetic_outputs  # noqa: E402
from fixtures.review.client import Reviewer  # noqa: E402
from harness.review.items import pair_outputs  # noqa: E402
from harness.review.rubric import load_rubric  # noqa: E402
from harness.review.sampling import draw_sample  # noqa: E402
from harness.review.store import ReviewStore  # noqa: E402

ANSWERS = {"c_accuracy": "5", "c_factual_correctness": "pass", "c_coherence": "4", "c_tone": "neutral",
           "c_guideline_adherence": "pass"}  # fmt: skip


def start_server(db: Path) -> tuple[subprocess.Popen[str], str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "harness.cli", "review", "serve", "--db", str(db), "--port", "0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert server.stdout is not None
    for line in server.stdout:
        if match := re.search(r" at (http://127\.0\.0\.1:\d+) ", line):
            return server, match.group(1)
    raise SystemExit(f"the server did not start (exit {server.wait()})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--submissions", type=int, default=500, help="per reviewer")
    parser.add_argument("--kill-after", type=int, default=0, help="SIGKILL the server after this many acknowledged")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="review-load-"))
    db = workdir / "review.sqlite"
    store = ReviewStore(db, create=True)
    items = pair_outputs(synthetic_outputs(args.submissions + 100))
    sample = draw_sample(items, size=args.submissions, seed=0)
    store.save_sample(sample, load_rubric(ROOT / "fixtures/review/rubric.yaml"), min_reviews=args.reviewers, seed=0)
    names = [f"reviewer-{k:02d}" for k in range(args.reviewers)]
    secrets = {name: store.invite(name) for name in names}
    store.close()

    server, url = start_server(db)
    reviewers = [Reviewer(url, name) for name in names]
    for reviewer in reviewers:
        reviewer.sign_in(secrets[reviewer.name])
    latencies: list[float] = []
    errors: list[str] = []

    def work(reviewer: Reviewer) -> None:
        try:
            while len(reviewer.acknowledged) < args.submissions:
                fields = reviewer.next_form("rubric")
                if fields is None:
                    break
                started = time.perf_counter()
                status = reviewer.submit("rubric", fields, ANSWERS)
                latencies.append(time.perf_counter() - started)
                if status != 303:
                    errors.append(f"{reviewer.name}: HTTP {status}")
        except (OSError, RuntimeError) as exc:
            if not args.kill_after:
                errors.append(f"{reviewer.name}: {exc}")

    threads = [threading.Thread(target=work, args=(r,)) for r in reviewers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    if args.kill_after:
        while sum(len(r.acknowledged) for r in reviewers) < args.kill_after and server.poll() is None:
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
    server.wait(30)

    acknowledged = {(r.name, item) for r in reviewers for _, item in r.acknowledged}
    store = ReviewStore(db)
    ids = {item.key: str(item.id) for item in store.items()}
    stored = {(r.reviewer, ids[(r.eval_set, r.item_id)]) for r in store.ratings()}
    lost = acknowledged - stored
    print(f"reviewers: {args.reviewers}, submissions asked: {args.reviewers * args.submissions}")
    print(f"acknowledged: {len(acknowledged)}, stored: {len(stored)}, lost: {len(lost)}")
    if args.kill_after:
        print(f"server killed with SIGKILL after >= {args.kill_after} acknowledged; unacknowledged but stored: "
              f"{len(stored - acknowledged)} (in flight when it died)")  # fmt: skip
    print(f"wall time: {elapsed:.1f} s; throughput: {len(acknowledged) / elapsed:.0f} submissions/s "
          f"({2 * len(acknowledged) / elapsed:.0f} requests/s, each submission is a page load and a post)")  # fmt: skip
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[int(0.95 * (len(ordered) - 1))]
        median = statistics.median(ordered)
        print(f"post latency: median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms")
    for error in errors[:5]:
        print("error:", error)
    return 1 if lost or errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
