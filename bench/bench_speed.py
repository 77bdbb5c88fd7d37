"""Evaluation speed on the demo stack, as ratios measured in one run (not a test).

    python bench/bench_speed.py            # everything
    python bench/bench_speed.py --only lm-eval,batching

1. multiple-choice scoring: this harness vs lm-evaluation-harness (`simple_evaluate`, HF backend, same
   model object and items, as a local task): same accuracy, and the time ratio (target <= 1.0);
2. batched vs one-at-a-time greedy generation (target >= 4x), and multi-token choices scored after one
   shared pass of their context vs one row per choice (same log-probs within 1e-4);
3. `pytest suites/` with a cold vs a warm response cache: the test-call phases (model loading is in
   fixture setup and not counted; metric computation is) and the time in model calls alone, from the
   run's "model calls:" summary line (target >= 10x);
4. memory of base + tuned (the adapter on the shared base weights) vs the base alone, as weight bytes
   and peak RSS, on the demo stack and on a randomly initialised 90M-parameter model with a rank-16
   adapter, where the adapter is a usual share of the base (target <= 1.15).

Needs the `bench` extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def demo_paths() -> tuple[str, str]:
    from harness import demo

    return str(demo.model_dir("base")), str(demo.model_dir("clauses-replay"))


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
    model = load_pair(base, base, LoadOptions(batch_size=16)).base
    torch.set_num_threads(2)

    started = time.perf_counter()  # both timings include reading the items, as simple_evaluate does
    eval_set = load_eval_set(data_file, MULTIPLE_CHOICE)
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


def bench_shared_context(rows: list[list[str]]) -> None:
    """Multi-token choices after one context: one context pass shared by the choices vs a row per choice."""
    import torch

    from harness.data import MULTIPLE_CHOICE, load_eval_set
    from harness.models.loading import LoadOptions, load_pair

    torch.set_num_threads(2)
    items = load_eval_set(ROOT / "fixtures" / "data" / "clauses.jsonl", MULTIPLE_CHOICE)
    requests = [(row["prompt"], " " + choice) for row in items for choice in row["choices"]]
    with tempfile.TemporaryDirectory() as scratch:
        stacks = {"demo": demo_paths(), "90M": _larger_stack(Path(scratch))}
        for label, (base, adapter) in stacks.items():
            model = load_pair(base, adapter, LoadOptions(batch_size=16)).tuned
            subset = requests if label == "demo" else requests[:360]
            started = time.perf_counter()
            shared = model.loglikelihood(subset)
            shared_seconds = time.perf_counter() - started
            model._shared_contexts = lambda pairs: ([], list(range(len(pairs))))  # the plain path only
            started = time.perf_counter()
            plain = model.loglikelihood(subset)
            plain_seconds = time.perf_counter() - started
            gap = max(abs(a.logprob - b.logprob) for a, b in zip(shared, plain, strict=True))
            rows.append(
                [
                    f"multi-token choices ({label}): row per choice / shared context",
                    f"{plain_seconds:.2f}s / {shared_seconds:.2f}s = {plain_seconds / shared_seconds:.2f}x",
                    "> 1x",
                    _met(plain_seconds > shared_seconds),
                ]
            )
            rows.append(
                [f"multi-token choices ({label}): largest log-prob gap", f"{gap:.1e}", "<= 1e-4", _met(gap <= 1e-4)]
            )


def _call_seconds(junit: Path) -> float:
    """Sum of the test-call phases (fixture setup, where models load, is reported apart by pytest)."""
    return sum(float(case.get("time", 0)) for case in ET.parse(junit).iter("testcase"))


def _model_call_seconds(output: str) -> float:
    """Seconds in model calls, summed over roles, from the run's 'model calls: ...' summary line."""
    line = next(ln for ln in output.splitlines() if ln.startswith("model calls: "))
    return sum(float(s) for s in re.findall(r"in ([0-9.]+) s", line))


def bench_cache(rows: list[list[str]]) -> None:
    demo_paths()  # build outside the timed runs
    with tempfile.TemporaryDirectory() as cache:
        calls, models = [], []
        for run in ("cold", "warm"):
            junit = Path(cache) / f"{run}.xml"
            command = [sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider", "--cache-dir", cache]
            command += [f"--junitxml={junit}", "-o", "junit_duration_report=call"]
            done = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True)
            calls.append(_call_seconds(junit))
            models.append(_model_call_seconds(done.stdout))
    for label, (cold, warm) in (("test calls", calls), ("model calls", models)):
        speedup = cold / max(warm, 1e-9)
        rows.append(
            [
                f"pytest suites/: cold / warm cache ({label})",
                f"{cold:.2f}s / {warm:.2f}s = {speedup:.0f}x",
                ">= 10x",
                _met(speedup >= 10),
            ]
        )


MEMORY_PROBE = """
import json, resource, sys
import torch
from harness.models.loading import LoadOptions, load_model, load_pair
base, tuned, mode = sys.argv[1:4]
torch.set_num_threads(2)
if mode == "base":
    models = [load_model(base, LoadOptions(), role="base")]
else:
    pair = load_pair(base, tuned, LoadOptions())
    models = [pair.base, pair.tuned]
text = "Clause: The Buyer shall pay each invoice within 30 days.\\nType:"
for m in models:
    m.loglikelihood([(text, " payment")])
tensors = {}
for m in models:
    for t in list(m.module.parameters()) + list(m.module.buffers()):
        tensors[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
print(json.dumps({"weights": sum(tensors.values()), "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

# A model of a more usual shape for the memory check: the demo adapter (rank 32 on every layer of a
# 128-wide model) is 31% of its base, so weight bytes there measure the adapter, not the sharing.
LARGER = {"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12}


def _larger_stack(directory: Path) -> tuple[str, str]:
    """A randomly initialised ~90M-parameter Llama on the demo tokenizer, and a rank-16 LoRA adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    base_dir, adapter_dir = directory / "base", directory / "adapter"
    tokenizer = AutoTokenizer.from_pretrained(demo_paths()[0], local_files_only=True)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), eos_token_id=tokenizer.eos_token_id, **LARGER)
    LlamaForCausalLM(config).save_pretrained(base_dir, safe_serialization=True)
    tokenizer.save_pretrained(base_dir)
    model = LlamaForCausalLM.from_pretrained(base_dir, use_safetensors=True, local_files_only=True)
    lora = LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"])
    get_peft_model(model, lora).save_pretrained(adapter_dir, safe_serialization=True)
    return str(base_dir), str(adapter_dir)


def _memory(base: str, adapter: str) -> dict[str, dict[str, int]]:
    measured = {}
    for mode in ("base", "pair"):
        probe = [sys.executable, "-c", MEMORY_PROBE, base, adapter, mode]
        out = subprocess.run(probe, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        measured[mode] = json.loads(out.strip().splitlines()[-1])
    return measured


def bench_memory(rows: list[list[str]]) -> None:
    """Peak memory of a process holding base + tuned (adapter on the shared base) vs the base alone."""
    with tempfile.TemporaryDirectory() as scratch:
        stacks = {"demo (1M, rank-32 adapter)": demo_paths(), "90M, rank-16 adapter": _larger_stack(Path(scratch))}
        for label, (base, adapter) in stacks.items():
            measured = _memory(base, adapter)
            weights = measured["pair"]["weights"] / measured["base"]["weights"]
            rss = measured["pair"]["maxrss_kb"] / measured["base"]["maxrss_kb"]
            rows.append(
                [f"memory {label}: weight bytes, pair / base", f"{weights:.3f}", "<= 1.15", _met(weights <= 1.15)]
            )
            rows.append([f"memory {label}: peak RSS, pair / base", f"{rss:.3f}", "<= 1.15", _met(rss <= 1.15)])


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


BENCHES = {
    "lm-eval": bench_lm_eval,
    "batching": bench_batching,
    "sharing": bench_shared_context,
    "cache": bench_cache,
    "memory": bench_memory,
}


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
