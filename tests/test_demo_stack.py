"""The demo stack builder and the demo eval sets: reproducible, loadable, cached, and held out from training."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest

from fixtures.demo import DemoStack, build_demo_stack, cache_dir, cache_key, ensure_demo_stack
from fixtures.demo import cache as demo_cache
from fixtures.demo.build import MANIFEST
from fixtures.demo.clauses import CLAUSE_TYPES
from fixtures.demo.corpus import DATA_DIR, eval_sets, training_corpus

TINY = 0.02  # a few optimizer steps per stage: seconds, same code path as the real build
EVAL_FILES = {
    "clauses": ({"id", "prompt", "choices", "answer", "category"}, 200),
    "clause_summaries": ({"id", "prompt", "reference", "category"}, 60),
    "general_probes": ({"id", "prompt", "choices", "answer", "category"}, 200),
    "heldout_domain": ({"id", "text"}, 40),
    "heldout_general": ({"id", "text"}, 40),
}


@pytest.fixture(scope="module")
def tiny_stack(tmp_path_factory: pytest.TempPathFactory) -> DemoStack:
    """A tiny-scale stack built through the cache, as a first use would build it."""
    return ensure_demo_stack(tmp_path_factory.mktemp("cache"), steps_scale=TINY)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.safetensors"))
    }


def _rows(name: str) -> list[dict]:
    with (DATA_DIR / f"{name}.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# -- the models -------------------------------------------------------------------------------------


def test_two_builds_give_byte_identical_weights(tiny_stack: DemoStack, tmp_path: Path) -> None:
    again = build_demo_stack(tmp_path / "again", steps_scale=TINY)
    first, second = _digests(tiny_stack.root), _digests(again.root)
    assert sorted(first) == [
        "adapters/clauses-replay/adapter_model.safetensors",
        "adapters/clauses/adapter_model.safetensors",
        "base/model.safetensors",
    ]
    assert first == second


def test_build_restores_torch_settings(tmp_path: Path) -> None:
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    build_demo_stack(tmp_path / "stack", steps_scale=0.001)
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, deterministic)


def test_base_loads_from_safetensors_only(tiny_stack: DemoStack) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert not [p.name for p in tiny_stack.root.rglob("*") if p.suffix in {".bin", ".pt", ".pth", ".pkl"}]
    model = AutoModelForCausalLM.from_pretrained(tiny_stack.base, use_safetensors=True, local_files_only=True)
    assert model.config.model_type == "llama"
    assert model.config.max_position_embeddings == 128
    assert model.config.tie_word_embeddings
    assert 1_000_000 <= model.num_parameters() <= 2_000_000
    tokenizer = AutoTokenizer.from_pretrained(tiny_stack.base, local_files_only=True)
    assert 1000 <= len(tokenizer) <= 2000
    assert tokenizer.eos_token == "</s>" and tokenizer.pad_token is None
    assert model.config.eos_token_id == tokenizer.eos_token_id
    text = "Clause: The Buyer shall pay.\nSummary: The Buyer pays.\n"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.eos_token_id not in ids  # nothing is added around the text: no BOS, no EOS
    assert tokenizer.decode(ids) == text  # newlines and spaces round-trip


def test_adapters_load_with_peft_onto_the_base(tiny_stack: DemoStack) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert sorted(tiny_stack.adapters) == ["clauses", "clauses-replay"]
    for directory in tiny_stack.adapters.values():
        config = json.loads((directory / "adapter_config.json").read_text())
        assert config["base_model_name_or_path"] == str(tiny_stack.base)
        assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
        base = AutoModelForCausalLM.from_pretrained(tiny_stack.base, use_safetensors=True, local_files_only=True)
        model = PeftModel.from_pretrained(base, str(directory))
        assert any("lora_A" in name for name, _ in model.named_parameters())


# -- the cache --------------------------------------------------------------------------------------


def test_second_call_returns_the_cache_without_building(tiny_stack: DemoStack, monkeypatch) -> None:
    def must_not_build(*args, **kwargs):
        raise AssertionError("ensure_demo_stack rebuilt a stack that was already cached")

    monkeypatch.setattr(demo_cache, "build_demo_stack", must_not_build)
    started = time.perf_counter()
    again = ensure_demo_stack(tiny_stack.root.parents[1], steps_scale=TINY)
    assert again == tiny_stack
    assert time.perf_counter() - started < 1.0
    assert tiny_stack.root.name == cache_key(TINY)
    assert not [p for p in tiny_stack.root.parent.iterdir() if "building" in p.name]  # no scratch left behind


def test_cache_location_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env" / "demo"
    assert cache_dir(tmp_path / "given") == tmp_path / "given" / "demo"
    monkeypatch.delenv("HARNESS_CACHE_DIR")
    assert cache_dir() == Path(demo_cache.REPO_ROOT) / ".harness" / "demo"
    assert cache_key() != cache_key(TINY) and len(cache_key()) == 12


def test_concurrent_first_uses_build_once(monkeypatch, tmp_path: Path) -> None:
    """Two callers at once (as two xdist workers would be): one builds, the other waits and reuses it."""
    calls: list[Path] = []

    def slow_fake_build(out_dir: Path, steps_scale: float = 1.0, final_dir: Path | None = None) -> DemoStack:
        calls.append(out_dir)
        time.sleep(0.3)
        out_dir.mkdir(parents=True)
        (out_dir / MANIFEST).write_text("{}")
        return DemoStack.at(out_dir)

    monkeypatch.setattr(demo_cache, "build_demo_stack", slow_fake_build)
    results: list[DemoStack] = []
    workers = [threading.Thread(target=lambda: results.append(ensure_demo_stack(tmp_path))) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(calls) == 1
    assert results[0] == results[1] and (results[0].root / MANIFEST).is_file()


# -- the eval sets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EVAL_FILES))
def test_eval_set_files_parse_with_unique_ids(name: str) -> None:
    fields, minimum = EVAL_FILES[name]
    rows = _rows(name)
    assert len(rows) >= minimum
    assert all(set(row) == fields for row in rows)
    ids = [row["id"] for row in rows]
    assert len(set(ids)) == len(ids)
    for row in rows:
        if "choices" in row:
            assert row["answer"] in row["choices"]
            if name == "general_probes":
                assert 3 <= len(row["choices"]) <= 5
            assert len(set(row["choices"])) == len(row["choices"])


def test_eval_set_files_are_what_the_generator_writes() -> None:
    """Regenerating gives the committed files, byte for byte (run `python -m fixtures.demo data` after a change)."""
    for name, rows in eval_sets().items():
        expected = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        assert (DATA_DIR / f"{name}.jsonl").read_text(encoding="utf-8") == expected, name


def test_clause_sets_cover_every_type_and_unseen_templates() -> None:
    clauses = _rows("clauses")
    assert {row["answer"] for row in clauses} == set(CLAUSE_TYPES) and len(CLAUSE_TYPES) >= 5
    assert all(row["choices"] == CLAUSE_TYPES for row in clauses)
    unseen = sum(row["category"] == "unseen_template" for row in clauses) / len(clauses)
    assert 0.2 <= unseen <= 0.3
    assert {row["category"] for row in _rows("clause_summaries")} == {"seen_template", "unseen_template"}
    assert {row["category"] for row in _rows("general_probes")} >= {"capitals", "arithmetic", "opposites"}


def test_no_eval_item_appears_in_the_training_text() -> None:
    corpus = training_corpus()
    text = "\0".join(corpus.all_texts() + corpus.noisy)
    documents = set(corpus.all_texts() + corpus.noisy)
    for row in _rows("clauses"):
        assert row["prompt"] + " " + row["answer"] not in text, row["id"]
        assert row["prompt"].removeprefix("Clause: ").removesuffix("\nType:") not in text, row["id"]
    for row in _rows("clause_summaries"):
        assert row["prompt"] + " " + row["reference"] not in text, row["id"]
        assert row["prompt"].removeprefix("Clause: ").removesuffix("\nSummary:") not in text, row["id"]
    for name in ("heldout_domain", "heldout_general"):
        for row in _rows(name):
            assert row["text"] not in documents, row["id"]
    for row in _rows("heldout_domain"):
        assert row["text"] not in text, row["id"]
    # A general probe asks for a fact the base learned in pretraining, so the fact sentence is in the
    # training text by design; what must not happen is that a probe is itself a training document.
    for row in _rows("general_probes"):
        assert f"{row['prompt']} {row['answer']}." not in documents, row["id"]
        assert f"{row['prompt']} {row['answer']}" not in documents, row["id"]


def test_fine_tunes_only_have_to_produce_words_the_base_was_pretrained_on() -> None:
    """A LoRA adapter cannot train embeddings: a word first seen in fine-tuning could never be predicted."""
    from tokenizers import pre_tokenizers

    words = pre_tokenizers.ByteLevel(add_prefix_space=False)
    corpus = training_corpus()
    pretrained = {w for text in corpus.pretraining() for w, _ in words.pre_tokenize_str(text)}
    completions = [" " + row["answer"] for row in _rows("clauses")]
    completions += [" " + row["reference"] for row in _rows("clause_summaries")]
    completions += [text.split("\nType:")[-1].split("\nSummary:")[-1] for text in corpus.tasks]
    missing = {w for text in completions for w, _ in words.pre_tokenize_str(text)} - pretrained
    assert not missing, f"words the fine-tunes must produce but the base never saw: {sorted(missing)[:10]}"
