"""The harness at a realistic model size on CPU: a 0.5B-parameter Qwen2-architecture model (random weights).

    python bench/bench_scale.py                 # builds the model in a temporary directory, then measures
    python bench/bench_scale.py --keep DIR      # build into DIR (reused when present)

1. Peak memory (max RSS of a fresh process) of base + rank-16 LoRA adapter loaded as the harness loads a
   pair (one copy of the weights, the adapter switched off for the base) vs the base alone. Target <= 1.1.
2. Overhead: tokens/s of log-likelihood scoring and of greedy generation through the harness
   (HFModel.loglikelihood / generate, same batch size) vs a bare batched transformers loop on the same
   inputs; the ratio harness time / bare time is the harness's overhead. Target <= 1.1.

Random weights make the numbers about speed and memory only; the shapes are Qwen2.5-0.5B's (hidden 896,
24 layers, 14 heads, 2 key/value heads, vocabulary 151,936; 494M parameters). The tokenizer is the demo's,
so only its ids occur, which changes nothing in the cost of a forward pass.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QWEN_05B = dict(
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    vocab_size=151936,
    max_position_embeddings=4096,
    tie_word_embeddings=True,
)
BATCH = 8


def build(directory: Path) -> tuple[Path, Path]:
    """The base model and a rank-16 adapter on every linear layer, as save_pretrained directories."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from harness.demo import model_dir

    base, adapter = directory / "base", directory / "adapter"
    if (base / "model.safetensors").exists() and (adapter / "adapter_config.json").exists():
        return base, adapter
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(model_dir("base"))
    config = Qwen2Config(**QWEN_05B, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(base, safe_serialization=True)
    tokenizer.save_pretrained(base)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    tuned = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets, init_lora_weights=False))
    tuned.save_pretrained(adapter, safe_serialization=True)
    config_path = adapter / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text())
    adapter_config["base_model_name_or_path"] = str(base)
    config_path.write_text(json.dumps(adapter_config))
    print(f"built {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters in {directory}", file=sys.stderr)
    return base, adapter


def peak_memory(base: Path, adapter: Path | None) -> float:
    """Max RSS in MiB of a fresh process that loads the model(s) as the harness does and scores one request."""
    if adapter is None:
        load = f"models = [load_model({str(base)!r}, LoadOptions(), role='base')]"
    else:
        load = f"pair = load_pair({str(base)!r}, {str(adapter)!r}, LoadOptions()); models = [pair.base, pair.tuned]"
    code = (
        "import resource, sys, torch; torch.set_num_threads(1);"
        "from harness.models.loading import LoadOptions, load_model, load_pair;"
        f"{load};"
        "[m.loglikelihood([('Either party may', ' terminate')]) for m in models];"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


def requests(n: int) -> list[tuple[str, str]]:
    words = "the tenant shall pay the rent on the first day of each month to the landlord in full".split()
    return [(" ".join(words[: 8 + i % 8]) + f" clause {i}", " and not later than the fifth day") for i in range(n)]


def bare_loglikelihood(model, tokenizer, pairs: list[tuple[str, str]]) -> list[float]:
    """Right-padded batches, one forward pass each, the continuation's log-probs summed."""
    import torch

    results = []
    for start in range(0, len(pairs), BATCH):
        batch = pairs[start : start + BATCH]
        encoded = [
            (tokenizer(c, add_special_tokens=False)["input_ids"], tokenizer(x, add_special_tokens=False)["input_ids"])
            for c, x in batch
        ]
        rows = [(ctx + cont)[:-1] for ctx, cont in encoded]
        width = max(map(len, rows))
        ids = torch.full((len(rows), width), tokenizer.eos_token_id)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = torch.tensor(row)
            mask[r, : len(row)] = 1
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        for r, (ctx, cont) in enumerate(encoded):
            positions = range(len(ctx) - 1, len(ctx) - 1 + len(cont))
            results.append(float(sum(logprobs[r, p, t] for p, t in zip(positions, cont, strict=True))))
    return results


def bare_generate(model, tokenizer, prompts: list[str], new_tokens: int) -> int:
    """Left-padded batched greedy generation; the number of new tokens."""
    import torch

    tokenizer.padding_side = "left"
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    made = 0
    for start in range(0, len(prompts), BATCH):
        encoded = tokenizer(prompts[start : start + BATCH], return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(
                **encoded,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        made += (out.shape[1] - encoded["input_ids"].shape[1]) * out.shape[0]
    return made


def timed(fn, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the model here and keep it")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=16)
    args = parser.parse_args()
    directory = args.keep or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        base, adapter = build(directory)
        alone, pair = peak_memory(base, None), peak_memory(base, adapter)
        print(
            f"peak memory: base alone {alone:,.0f} MiB, base + rank-16 adapter {pair:,.0f} MiB, "
            f"ratio {pair / alone:.3f} (target <= 1.1)"
        )

        import torch

        from harness.models.base import DecodingSettings
        from harness.models.loading import LoadOptions, load_model

        torch.set_num_threads(2)
        model = load_model(str(base), LoadOptions(batch_size=BATCH), role="base")
        pairs = requests(args.requests)
        tokens = sum(len(model.tokenizer(c + x, add_special_tokens=False)["input_ids"]) for c, x in pairs)
        harness_ll = timed(lambda: model.loglikelihood(pairs))
        bare_ll = timed(lambda: bare_loglikelihood(model.module, model.tokenizer, pairs))
        prompts = [c for c, _ in pairs[: 2 * BATCH]]
        settings = DecodingSettings(max_new_tokens=args.new_tokens)
        harness_gen = timed(lambda: model.generate(prompts, settings), repeats=1)
        made = bare_generate(model.module, model.tokenizer, prompts, args.new_tokens)
        bare_gen = timed(lambda: bare_generate(model.module, model.tokenizer, prompts, args.new_tokens), repeats=1)
        print(
            f"log-likelihood: {len(pairs)} requests, {tokens} tokens: harness {tokens / harness_ll:,.1f} tok/CPU-s, "
            f"bare loop {tokens / bare_ll:,.1f} tok/CPU-s, overhead {harness_ll / bare_ll:.3f} (target <= 1.1)"
        )
        print(
            f"greedy generation: {len(prompts)} prompts x {args.new_tokens} tokens: harness "
            f"{made / harness_gen:,.1f} tok/CPU-s, bare generate {made / bare_gen:,.1f} tok/CPU-s, "
            f"overhead {harness_gen / bare_gen:.3f} (target <= 1.1)"
        )
        print(
            f"(CPU seconds of this process, the better of two runs for scoring; "
            f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
