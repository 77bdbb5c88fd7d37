"""Evaluation speed on the demo stack, as ratios measured in one run (not a test).

    python bench/bench_speed.py            # all four comparisons
    python bench/bench_speed.py --only lm-eval,batching

1. multiple-choice scoring: this harness vs lm-evaluation-harness (`simple_evaluate`, HF backend, same
   model object and items, as a local task): same accuracy, and the time ratio (target <= 1.0);
2. batched vs one-at-a-time greedy generation (target >= 4x);
3. `pytest suites/` with a cold vs a warm response cache, summing the test-call phases, i.e. the
   part that asks the models (target >= 10x);
4. peak memory of base + tuned (adapter sharing the base weights) vs the base alone (target <= 1.15).

Needs the `bench` extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def demo_paths() -> tuple[str, str]:
    from fixtures.demo import ensure_demo_stack

    stack = ensure_demo_stack()
    return str(stack.base), str(stack.adapters["clauses-replay"])


def bench_lm_eval(rows: list[list[str]]) -> None:
    """Same model object, same items: harness multiple-choice vs lm-eval's simple_evaluate."""
    import torch
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from harness.data import MULTIPLE_CHOICE, load_eval_set
    from harness.models.loading import LoadOptions, load_pair
    from harness.scoring import _score_choices

    base, _ = demo_paths()
    data_file = ROOT / "fixtures" / "data" / "general_probes.jsonl"
    eval_set = load_eval_set(data_file, MULTIPLE_CHOICE)
    model = load_pair(base, base, LoadOptions(batch_size=16)).base
    torch.set_num_threads(2)

    started = time.perf_counter()
    picks = _score_choices(model, eval_set)
    harness_seconds = time.perf_counter() - started
    harness_acc = sum(p == a for p, a in zip(picks.picks, picks.answers, strict=True)) / len(picks.ids)

    with tempfile.TemporaryDirectory() as tasks_dir:
        (Path(tasks_dir) / "probes.yaml").write_text(
            "task: harness_general_probes\n"
            "dataset_path: json\n"
            f"dataset_kwargs:\n  data_files:\n    test: {data_file}\n"
            "test_split: test\n"
            "output_type: multiple_choice\n"
            'doc_to_text: "{{prompt}}"\n'
            'doc_to_choice: "{{choices}}"\n'
            'doc_to_target: "{{choices.index(answer)}}"\n'
            'target_delimiter: " "\n'
            "metric_list:\n  - metric: acc\n  - metric: acc_norm\n"
        )
        lm = HFLM(pretrained=model.module, tokenizer=model.tokenizer, batch_size=16, device="cpu")
        manager = TaskManager(include_path=tasks_dir)
        started = time.perf_counter()
        output = simple_evaluate(model=lm, tasks=["harness_general_probes"], task_manager=manager, log_samples=False)
        lm_eval_seconds = time.perf_counter() - started
    lm_eval_acc = output["results"]["harness_general_probes"]["acc,none"]
    rows.append(
        [
            "multiple choice: accuracy harness / lm-eval",
            f"{harness_acc:.4f} / {lm_eval_acc:.4f}",
            "equal",
            "yes" if abs(harness_acc - lm_eval_acc) < 1e-9 else "NO",
        ]
    )
    ratio = harness_seconds / lm_eval_seconds
    rows.append(
        [
            "multiple choice: time harness / lm-eval",
            f"{harness_seconds:.2f}s / {lm_eval_seconds:.2f}s = {ratio:.2f}",
            "<= 1.0",
            "yes" if ratio <= 1.0 else "NO",
        ]
    )


def bench_batching(rows: list[list[str]]) -> None:
    import torch

    from harness.data import GENERATION, load_eval_set
    from harness.models import DecodingSettings
    from harness.models.loading import LoadOptions, load_pair

    base, adapter = demo_paths()
    torch.set_num_threads(2)
    prompts = load_eval_set(ROOT / "fixtures" / "data" / "clause_summaries.jsonl", GENERATION)["prompt"][:48]
    settings = DecodingSettings(max_new_tokens=32, stop=("\n",))
    batched = load_pair(base, adapter, LoadOptions(batch_size=16)).tuned
    single = load_pair(base, adapter, LoadOptions(batch_size=1)).tuned
    started = time.perf_counter()
    batched_out = batched._generate_uncached(prompts, settings)
    batched_seconds = time.perf_counter() - started
    started = time.perf_counter()
    single_out = single._generate_uncached(prompts, settings)
    single_seconds = time.perf_counter() - started
    same = [g.text for g in batched_out] == [g.text for g in single_out]
    speedup = single_seconds / batched_seconds
    rows.append(
        [
            "generation: one-at-a-time / batched (16)",
            f"{single_seconds:.2f}s / {batched_seconds:.2f}s = {speedup:.1f}x",
            ">= 4x",
            "yes" if speedup >= 4 else "NO",
        ]
    )
    rows.append(["generation: batched text == one-at-a-time text", str(same), "True", "yes" if same else "NO"])


def _call_seconds(junit: Path) -> float:
    """Sum of the test-call phases (fixture setup, where models load, is reported apart by pytest)."""
    return sum(float(case.get("time", 0)) for case in ET.parse(junit).iter("testcase"))


def bench_cache(rows: list[list[str]]) -> None:
    demo_paths()  # build outside the timed runs
    with tempfile.TemporaryDirectory() as cache:
        timings = []
        for run in ("cold", "warm"):
            junit = Path(cache) / f"{run}.xml"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "suites/",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "--cache-dir",
                    cache,
                    f"--junitxml={junit}",
                    "-o",
                    "junit_duration_report=call",
                ],
                cwd=ROOT,
                check=False,
                capture_output=True,
            )
            timings.append(_call_seconds(junit))
    cold, warm = timings
    speedup = cold / max(warm, 1e-9)
    rows.append(
        [
            "pytest suites/: cold / warm cache (test calls)",
            f"{cold:.2f}s / {warm:.2f}s = {speedup:.0f}x",
            ">= 10x",
            "yes" if speedup >= 10 else "NO",
        ]
    )


MEMORY_PROBE = """
import json, resource, sys
import torch
from harness.models.loading import LoadOptions, load_model, load_pair
base, tuned, mode = sys.argv[1:4]
if mode == "base":
    models = [load_model(base, LoadOptions(), role="base")]
else:
    pair = load_pair(base, tuned, LoadOptions())
    models = [pair.base, pair.tuned]
tensors = {}
for m in models:
    for t in list(m.module.parameters()) + list(m.module.buffers()):
        tensors[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
print(json.dumps({"weights": sum(tensors.values()), "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def bench_memory(rows: list[list[str]]) -> None:
    base, adapter = demo_paths()
    measured = {}
    for mode in ("base", "pair"):
        out = (
            subprocess.run(
                [sys.executable, "-c", MEMORY_PROBE, base, adapter, mode],
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        measured[mode] = json.loads(out)
    weights = measured["pair"]["weights"] / measured["base"]["weights"]
    rss = measured["pair"]["maxrss_kb"] / measured["base"]["maxrss_kb"]
    rows.append(
        ["memory: base+tuned / base, weight bytes", f"{weights:.3f}", "<= 1.15", "yes" if weights <= 1.15 else "NO"]
    )
    rows.append(["memory: base+tuned / base, peak RSS", f"{rss:.3f}", "<= 1.15", "yes" if rss <= 1.15 else "NO"])


BENCHES = {"lm-eval": bench_lm_eval, "batching": bench_batching, "cache": bench_cache, "memory": bench_memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    args = parser.parse_args()
    rows: list[list[str]] = []
    for name in args.only.split(","):
        BENCHES[name.strip()](rows)
    from harness.report import render_table

    print("\n".join(render_table(["measure", "value", "target", "met"], rows)))


if __name__ == "__main__":
    main()
