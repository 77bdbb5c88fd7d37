"""Models load completely or not at all: what a checkpoint holds must be exactly what the model needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

SHOWN = 3  # how many mismatching tensors an error names


def _weights_files(location: str) -> str:
    files = sorted(p.name for p in Path(location).glob("*.safetensors")) or ["the checkpoint"]
    return ", ".join(files[:SHOWN]) + (f" (+{len(files) - SHOWN} more)" if len(files) > SHOWN else "")


def _first(names: Sequence[Any]) -> str:
    shown = [str(n) for n in list(names)[:SHOWN]]
    return ", ".join(shown) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def check_load_report(location: str, report: Mapping[str, Any]) -> None:
    """Refuse a model whose checkpoint missed tensors (they would be random), had extra ones, or other shapes.

    `report` is transformers' loading info (`from_pretrained(..., output_loading_info=True)`).
    """
    where = f"{Path(location) / _weights_files(location)}"
    problems = []
    if missing := sorted(report.get("missing_keys") or []):
        problems.append(f"{len(missing)} tensor(s) the model needs are missing ({_first(missing)})")
    if unexpected := sorted(report.get("unexpected_keys") or []):
        problems.append(f"{len(unexpected)} tensor(s) are not part of this model ({_first(unexpected)})")
    if mismatched := list(report.get("mismatched_keys") or []):
        shapes = [f"{key} is {list(ckpt)} in the file, {list(model)} in config.json" for key, ckpt, model in mismatched]
        problems.append(f"{len(mismatched)} tensor(s) have other shapes ({_first(shapes)})")
    if errors := list(report.get("error_msgs") or []):
        problems.append(f"loading errors ({_first(errors)})")
    if problems:
        raise HarnessError(
            f"{where} does not match its config.json: " + "; ".join(problems),
            hint="point at the directory save_pretrained() wrote for this model; a partial or foreign checkpoint "
            "would be evaluated with random weights",
        )


def check_adapter_complete(adapter_dir: Path, peft_model: Any, adapter_name: str = "default") -> None:
    """Every LoRA tensor the adapter's config creates must come from its file (else it stays at its init)."""
    from safetensors import safe_open

    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        return
    with safe_open(str(weights), framework="pt") as handle:
        stored = set(handle.keys())
    marker = f".{adapter_name}."
    needed = {name.replace(marker, ".") for name, _ in peft_model.named_parameters() if marker in name}
    if missing := sorted(needed - stored):
        raise HarnessError(
            f"{weights} is incomplete: {len(missing)} adapter tensor(s) its adapter_config.json asks for are missing "
            f"({_first(missing)})",
            hint="use the directory save_pretrained() wrote for this adapter, with its own adapter_config.json",
        )


def check_adapter_fits(adapter_dir: Path, base_module: Any, base_location: str) -> None:
    """Refuse an adapter whose LoRA shapes do not fit the base model's layers, naming the first misfit."""
    from safetensors import safe_open

    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        return
    modules = dict(base_module.named_modules())
    with safe_open(str(weights), framework="pt") as handle:
        for key in sorted(handle.keys()):
            if ".lora_A." not in key and ".lora_B." not in key:
                continue
            module_name = key.split(".lora_")[0].removeprefix("base_model.model.")
            target = modules.get(module_name)
            shape = handle.get_slice(key).get_shape()
            if target is None or not hasattr(target, "weight"):
                raise HarnessError(
                    f"adapter {adapter_dir} does not fit base model {base_location}: "
                    f"the base has no layer {module_name!r}",
                    hint="pass the base model the adapter was trained on with --base-model",
                )
            out_features, in_features = target.weight.shape[:2]
            fits = shape[1] == in_features if ".lora_A." in key else shape[0] == out_features
            if not fits:
                raise HarnessError(
                    f"adapter {adapter_dir} does not fit base model {base_location}: layer {module_name!r} is "
                    f"{out_features}x{in_features} in the base, "
                    f"but the adapter's {key.split('.')[-2]} has shape {list(shape)}",
                    hint="pass the base model the adapter was trained on with --base-model",
                )
