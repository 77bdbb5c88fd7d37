"""The demo stack builder and the demo eval sets: reproducible, loadable, cached, and held out from training."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from fixtures.demo import DemoStack, build_demo_stack
from fixtures.demo.build import MANIFEST, file_digests
from fixtures.demo.clauses import CLAUSE_TYPES
from fixtures.demo.corpus import DATA_DIR, eval_sets, training_corpus
from fixtures.demo.ship import build_atomically
from harness.demo import MODELS_DIR

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
    """A tiny-scale stack: the same code path as the real build, in seconds."""
    return build_demo_stack(tmp_path_factory.mktemp("stack") / "stack", steps_scale=TINY)


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
        assert config["peft_type"] == "LORA" and config["task_type"] == "CAUSAL_LM"
        base = AutoModelForCausalLM.from_pretrained(tiny_stack.base, use_safetensors=True, local_files_only=True)
        model = PeftModel.from_pretrained(base, str(directory))
        assert any("lora_A" in name for name, _ in model.named_parameters())


# -- the shipped models and how they are regenerated ---------------------------------------------------


def test_shipped_models_are_the_files_their_manifest_lists() -> None:
    """The models every user gets: complete, unchanged since they were built, and safetensors only."""
    manifest = json.loads((MODELS_DIR / MANIFEST).read_text())
    assert file_digests(MODELS_DIR) == manifest["files"]
    assert sorted(manifest["files"]) == [
        "adapters/clauses-replay/adapter_config.json",
        "adapters/clauses-replay/adapter_model.safetensors",
        "adapters/clauses/adapter_config.json",
        "adapters/clauses/adapter_model.safetensors",
        "base/config.json",
        "base/generation_config.json",
        "base/model.safetensors",
        "base/tokenizer.json",
        "base/tokenizer_config.json",
    ]
    assert set(manifest["built_with"]) == {"torch", "transformers", "peft", "tokenizers"}


def test_adapters_name_their_base_relative_to_themselves(tiny_stack: DemoStack) -> None:
    """A relative base path keeps the files (and so the fingerprints) the same wherever the stack lies."""
    from harness.models.loading import recorded_base_directory

    for stack in (tiny_stack, DemoStack.at(MODELS_DIR)):
        for directory in stack.adapters.values():
            assert json.loads((directory / "adapter_config.json").read_text())["base_model_name_or_path"] == (
                "../../base"
            )
            assert recorded_base_directory(directory) == stack.base


def test_regenerating_swaps_the_whole_stack_in(tmp_path: Path) -> None:
    target = tmp_path / "models"
    target.mkdir()
    (target / "left-over").write_text("from the previous build")
    stack = build_atomically(target, steps_scale=0.001)
    assert stack.root == target.resolve() and (target / MANIFEST).is_file()
    assert not (target / "left-over").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["models"]  # no scratch directory left behind


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


def test_generated_case_files_are_what_the_generator_writes() -> None:
    """The gated adversarial files come from held-out clauses (run `python -m fixtures.demo cases` after a change)."""
    from fixtures.demo.cases import CASES_DIR, case_files

    for name, rows in case_files().items():
        expected = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        assert (CASES_DIR / name).read_text(encoding="utf-8") == expected, name
        assert len(rows) - 1 >= 100  # enough cases for a 10-point pass-rate margin to be decidable
    held_out = {row["id"] for row in _rows("clauses")}
    assert all(row["id"].split("-", 1)[1] in held_out for row in case_files()["injection_heldout.jsonl"][1:])
