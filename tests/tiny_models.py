"""Builders of tiny random models for the harness's own tests (seconds to build, no download)."""

from __future__ import annotations

from pathlib import Path

TEXT = [
    "The capital of France is Paris.",
    "The opposite of hot is cold.",
    "Either party may terminate this agreement with thirty days written notice.",
    "The receiving party shall keep all confidential information secret.",
    "3 + 4 = 7. 2 + 2 = 4.",
] * 20


def build_tokenizer(directory: Path) -> None:
    """A small byte-level BPE tokenizer with an eos token and no pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(TEXT, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>")
    fast.save_pretrained(directory)


def build_model(directory: Path, *, seed: int = 0, hidden: int = 32, context: int = 64) -> Path:
    """A random 2-layer Llama with its tokenizer, saved as safetensors."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory.mkdir(parents=True, exist_ok=True)
    build_tokenizer(directory)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=300,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=context,
        eos_token_id=0,
        bos_token_id=0,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory, safe_serialization=True)
    return directory


def build_adapter(base_dir: Path, directory: Path, *, seed: int = 1) -> Path:
    """A random (non-zero) LoRA adapter on `base_dir`."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(base_dir, use_safetensors=True, local_files_only=True)
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False, task_type="CAUSAL_LM")
    model = get_peft_model(base, config)
    model.save_pretrained(directory, safe_serialization=True)
    return directory
