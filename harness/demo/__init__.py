"""The demo model stack shipped with the harness: a 1M-parameter base model and two LoRA fine-tunes of it.

The files under models/ are safetensors written by the builder in the repository
(`python -m fixtures.demo build`), so every machine evaluates the very same weights.
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError

PREFIX = "demo:"
MODELS_DIR = Path(__file__).resolve().parent / "models"
BASE = "base"
ADAPTERS = ("clauses", "clauses-replay")
JUDGE = PREFIX + "judge"  # the scripted judge (harness.demo.judge), a --judge-model only


def default_judge(base_model: str) -> str | None:
    """The judge a run gets without --judge-model: the scripted demo judge for the demo models, else none."""
    return JUDGE if base_model.startswith(PREFIX) else None


def names() -> list[str]:
    """Every demo model name, as the options take it: demo:base, demo:clauses, ..."""
    return [PREFIX + BASE] + [PREFIX + name for name in ADAPTERS]


def model_dir(name: str, option: str = "--model") -> Path:
    """The shipped directory of `demo:NAME` (NAME without the prefix)."""
    if name == BASE:
        directory = MODELS_DIR / BASE
    elif name in ADAPTERS:
        directory = MODELS_DIR / "adapters" / name
    elif PREFIX + name == JUDGE:
        raise HarnessError(
            f"{option} {JUDGE} is the demo's scripted judge, not a model with weights",
            hint=f"pass it as --judge-model; as {option} use one of: {', '.join(names())}",
        )
    else:
        raise HarnessError(f"{option} {PREFIX}{name} is not a demo model", hint=f"use one of: {', '.join(names())}")
    if not directory.is_dir():
        raise HarnessError(
            f"{option} {PREFIX}{name}: the demo models are missing from this installation ({directory})",
            hint="reinstall the harness, or regenerate them in a clone with `python -m fixtures.demo build`",
        )
    return directory
