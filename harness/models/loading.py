"""Turn --base-model / --tuned-model into a loaded ModelPair, safely and with clear errors."""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import SAME_AS_BASE
from harness.errors import HarnessError
from harness.models.base import ModelPair
from harness.models.fingerprint import DigestCache, combine, fingerprint_directory
from harness.models.integrity import check_adapter_complete, check_adapter_fits, check_load_report

log = logging.getLogger("harness")

DEMO_PREFIX = "demo:"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass(frozen=True)
class LoadOptions:
    """How models are loaded. The defaults are the safe ones."""

    allow_pickle: bool = False
    trust_remote_code: bool = False
    allow_download: bool = False
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 0  # 0 = automatic: 16 on CPU, 64 on a GPU (halved on out-of-memory)
    cache_dir: Path | None = None


@dataclass(frozen=True)
class ResolvedSpec:
    """A model option resolved to something loadable."""

    option: str
    spec: str
    location: str  # a local directory, or a hub id when downloads are allowed
    is_local: bool
    is_adapter: bool


def resolve_spec(spec: str, option: str, options: LoadOptions) -> ResolvedSpec:
    """Resolve `demo:NAME`, a local directory or (only with --allow-download) a hub id."""
    if spec.startswith(DEMO_PREFIX):
        from harness import demo

        location = str(demo.model_dir(spec[len(DEMO_PREFIX) :], option))
    else:
        location = os.path.expanduser(spec)
    path = Path(location)
    looks_like_hub_id = not path.exists() and not location.startswith((".", "/", "~")) and location.count("/") == 1
    if looks_like_hub_id and options.allow_download:
        return ResolvedSpec(option, spec, location, False, False)
    if looks_like_hub_id:
        raise HarnessError(
            f"{option} {spec!r} is not a local directory, and the harness does not download models by default",
            hint=f"pass the path of a local model directory, or add --allow-download to fetch {spec!r} from a hub",
        )
    _check_directory(path, option, options)
    return ResolvedSpec(option, spec, str(path.resolve()), True, (path / "adapter_config.json").is_file())


def _check_directory(path: Path, option: str, options: LoadOptions) -> None:
    """Fail early, naming the option and the fix, on a missing, empty or pickle-only directory."""
    if not path.exists():
        raise HarnessError(
            f"{option} {path}: no such directory", hint="check the path (it is read relative to the current directory)"
        )
    if not path.is_dir():
        raise HarnessError(
            f"{option} {path} is a file, not a model directory",
            hint="pass the directory that holds config.json or adapter_config.json",
        )
    files = [p for p in path.iterdir() if p.is_file()]
    if not files:
        raise HarnessError(f"{option} {path} is empty", hint="point it at a directory written by save_pretrained()")
    is_adapter = (path / "adapter_config.json").is_file()
    if not is_adapter and not (path / "config.json").is_file():
        raise HarnessError(
            f"{option} {path} has neither config.json (a full model) nor adapter_config.json (a PEFT adapter)",
            hint="point it at a directory written by save_pretrained()",
        )
    safetensors = [p for p in files if p.suffix == ".safetensors"]
    pickles = [p for p in files if p.suffix in PICKLE_SUFFIXES]
    if not safetensors and pickles and not options.allow_pickle:
        names = ", ".join(sorted(p.name for p in pickles)[:3])
        raise HarnessError(
            f"{option} {path} holds only pickle weights ({names}); loading a pickle can run arbitrary code",
            hint="convert the checkpoint to safetensors (save_pretrained(..., safe_serialization=True)), "
            "or pass --allow-pickle if you trust where it came from",
        )
    if not safetensors and not pickles:
        raise HarnessError(
            f"{option} {path} holds no weights (*.safetensors)",
            hint="point it at a directory written by save_pretrained()",
        )


def _torch_settings(options: LoadOptions) -> tuple[Any, Any]:
    import torch

    if options.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(options.device)
        except RuntimeError:
            raise HarnessError(
                f"--device {options.device!r} is not a torch device", hint="use auto, cpu, cuda or cuda:N"
            ) from None
        _check_device_exists(device, options.device)
    if options.dtype == "auto":
        dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    else:
        dtype = getattr(torch, options.dtype, None)
        if not isinstance(dtype, torch.dtype):
            raise HarnessError(
                f"--dtype {options.dtype!r} is not a torch dtype", hint="use auto, float32, bfloat16 or float16"
            )
    return device, dtype


def _check_device_exists(device: Any, option: str) -> None:
    """Refuse a device this machine does not have, instead of failing deep inside torch."""
    import torch

    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise HarnessError(
                f"--device {option}: this torch build sees no CUDA device", hint="use --device cpu (or auto)"
            )
        if device.index is not None and device.index >= count:
            raise HarnessError(
                f"--device {option}: there are {count} CUDA device(s), numbered 0 to {count - 1}",
                hint=f"use --device cuda:0 ... cuda:{count - 1}",
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise HarnessError(f"--device {option}: MPS is not available here", hint="use --device cpu (or auto)")


def _batch_size(options: LoadOptions, device: Any) -> int:
    return options.batch_size or (64 if device.type == "cuda" else 16)


def _load_tokenizer(location: str, options: LoadOptions, notes: list[str]) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(
            location, local_files_only=not options.allow_download, trust_remote_code=options.trust_remote_code
        )
    except Exception as exc:  # tokenizers raises bare Exceptions for a damaged tokenizer.json
        raise HarnessError(
            f"could not load the tokenizer in {location}: {_first_line(exc)}",
            hint="restore the files save_pretrained() wrote (tokenizer.json, tokenizer_config.json, config.json)",
        ) from None
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise HarnessError(
                f"the tokenizer in {location} has neither a pad nor an eos token",
                hint="add an eos_token to its tokenizer_config.json",
            )
        tokenizer.pad_token = tokenizer.eos_token
        notes.append(
            f"tokenizer of {location} has no pad token: padding with eos ({tokenizer.eos_token!r}), left-padded"
        )
    tokenizer.padding_side = "left"
    return tokenizer


def _has_tokenizer(path: Path) -> bool:
    return any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model"))


def _load_causal_lm(location: str, options: LoadOptions, device: Any, dtype: Any) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        module, report = AutoModelForCausalLM.from_pretrained(
            location,
            dtype=dtype,
            use_safetensors=None if options.allow_pickle else True,
            local_files_only=not options.allow_download,
            trust_remote_code=options.trust_remote_code,
            output_loading_info=True,
            ignore_mismatched_sizes=True,  # reported below with the tensor names, never used
        )
    except Exception as exc:  # safetensors, json and config errors all mean: this directory cannot be loaded
        raise HarnessError(
            f"could not load a causal LM from {location}: {_first_line(exc)}",
            hint="point at a directory written by save_pretrained(), with complete files",
        ) from None
    check_load_report(location, report)
    return module.to(device).eval()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def adapter_base_name(adapter_dir: Path) -> str:
    """The base model an adapter's adapter_config.json names ("" when it names none)."""
    path = adapter_dir / "adapter_config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HarnessError(
            f"{path} is not valid JSON: {exc}", hint="restore the file written by save_pretrained()"
        ) from None
    if not isinstance(config, dict):
        raise HarnessError(f"{path} must hold a JSON object", hint="restore the file written by save_pretrained()")
    return str(config.get("base_model_name_or_path") or "")


def recorded_base_directory(adapter_dir: Path) -> Path | None:
    """The local directory of the base an adapter names: an absolute path, or one relative to the adapter."""
    recorded = adapter_base_name(adapter_dir)
    if not recorded:
        return None
    path = Path(recorded).expanduser()
    candidate = path if path.is_absolute() else adapter_dir / path
    return candidate.resolve() if (candidate / "config.json").is_file() else None


def base_for_adapter(tuned_spec: str, options: LoadOptions = LoadOptions()) -> str | None:
    """The base model to pair with `tuned_spec` when no base was given: the one its adapter_config.json names.

    None when `tuned_spec` is not a local adapter directory. A hub name is refused unless downloads are allowed.
    """
    from harness.models.openai import SCHEME

    if tuned_spec.startswith((SCHEME, DEMO_PREFIX)):
        return None
    adapter_dir = Path(tuned_spec).expanduser()
    if not (adapter_dir / "adapter_config.json").is_file():
        return None
    local = recorded_base_directory(adapter_dir)
    if local is not None:
        return str(local)
    recorded = adapter_base_name(adapter_dir)
    if recorded and options.allow_download:
        return recorded
    raise HarnessError(
        f"--tuned-model {tuned_spec} is an adapter, and no --base-model was given: its adapter_config.json names "
        + (f"base {recorded!r}, which is not a local model directory" if recorded else "no base model"),
        hint="pass --base-model with the directory of the model the adapter was trained on",
    )


def check_recorded_base(
    adapter_dir: Path, base: ResolvedSpec, base_fp: str, digests: DigestCache, notes: list[str]
) -> None:
    """Refuse an adapter whose recorded base is a local model with other weights than the given base.

    Shapes alone cannot tell two bases of one architecture apart. A recorded base that is not on this
    machine (a hub name, another machine's path) cannot be checked: that is said in a note.
    """
    recorded = adapter_base_name(adapter_dir)
    if not recorded:
        notes.append(f"adapter {adapter_dir} does not name its base; it is evaluated on {base.location}")
        return
    local = recorded_base_directory(adapter_dir)
    if local is not None:
        if local != Path(base.location).resolve() and fingerprint_directory(local, digests) != base_fp:
            raise HarnessError(
                f"adapter {adapter_dir} was trained on {local}, whose weights differ from --base-model {base.location}",
                hint=f"pass --base-model {local} (or leave --base-model out to use it)",
            )
    elif Path(recorded).name != Path(base.location).name:
        notes.append(
            f"adapter {adapter_dir} names base {recorded!r}, which is not on this machine; evaluated on "
            f"{base.location} (shapes match)"
        )


def load_model(spec: str, options: LoadOptions = LoadOptions(), *, role: str = "tuned", option: str = "--model") -> Any:
    """Load one model on its own, e.g. a generator: demo:NAME, a model or adapter directory, or openai+http://...

    An adapter is loaded onto the base model its adapter_config.json names. demo:judge is the demo's scripted
    judge (harness.demo.judge).
    """
    from harness.demo import JUDGE
    from harness.models.openai import SCHEME

    if spec == JUDGE:
        from harness.demo.judge import DemoJudge

        return DemoJudge(role)
    if not spec.startswith(SCHEME):
        resolved = resolve_spec(spec, option, options)
        if resolved.is_adapter:
            base = recorded_base_directory(Path(resolved.location))
            if base is None:
                raise HarnessError(
                    f"{option} {spec} is an adapter whose adapter_config.json names no local base model",
                    hint="merge it into a full model, or serve it and pass its openai+http:// URL",
                )
            return load_pair(str(base), spec, options).tuned
    return _load_single(spec, option, role, options)


def _load_single(spec: str, option: str, role: str, options: LoadOptions) -> Any:
    """One model on its own: an OpenAI-compatible server, or a full local model (no adapter)."""
    from harness.models.hf import HFModel
    from harness.models.openai import SCHEME, OpenAIModel, ServerSpec

    if spec.startswith(SCHEME):
        return OpenAIModel(ServerSpec.parse(spec, option), role=role, name=spec.split("?")[0])
    resolved = resolve_spec(spec, option, options)
    if resolved.is_adapter:
        raise HarnessError(
            f"{option} {spec} is a PEFT adapter, but the other model is served over HTTP",
            hint="merge the adapter into a full model, or serve it (vLLM serves LoRA adapters) and pass its URL",
        )
    device, dtype = _torch_settings(options)
    notes: list[str] = []
    fingerprint = fingerprint_directory(Path(resolved.location)) if resolved.is_local else f"hub:{resolved.location}"
    return HFModel(
        _load_causal_lm(resolved.location, options, device, dtype),
        _load_tokenizer(resolved.location, options, notes),
        role=role,
        name=spec,
        fingerprint=fingerprint,
        batch_size=_batch_size(options, device),
    )


def load_self_pair(base_spec: str, options: LoadOptions = LoadOptions()) -> ModelPair:
    """The base model against itself (A/A), to measure the stack's own numerical noise.

    The "tuned" side is the same weights asked with another batch size (so other padding and batching),
    and has its own fingerprint, so none of its answers come from the base's cache entries.
    """
    from harness.models.hf import HFModel
    from harness.models.openai import OpenAIModel

    base = _load_single(base_spec, "--base-model", "base", options)
    fingerprint = combine(base.fingerprint, SAME_AS_BASE)
    if isinstance(base, HFModel):
        batch = max(1, base.batch_size // 2 - 1)
        tuned = HFModel(
            base.module, base.tokenizer, role="tuned", name=SAME_AS_BASE, fingerprint=fingerprint, batch_size=batch
        )
        note = f"A/A run: the base against itself, batch size {base.batch_size} vs {batch}"
    else:
        assert isinstance(base, OpenAIModel)
        tuned = OpenAIModel(base.server, role="tuned", name=SAME_AS_BASE)
        tuned.fingerprint = fingerprint
        note = "A/A run: the base against itself, asked twice"
    return ModelPair(base=base, tuned=tuned, shares_weights=True, notes=[note])


def load_pair(base_spec: str, tuned_spec: str, options: LoadOptions = LoadOptions()) -> ModelPair:
    """Load the base model and its fine-tune. An adapter on the base shares the base's weights."""
    import torch  # noqa: F401  (import cost paid here, not at plugin import)

    from harness.models.hf import HFModel
    from harness.models.openai import SCHEME

    if tuned_spec == SAME_AS_BASE:
        return load_self_pair(base_spec, options)

    if base_spec.startswith(SCHEME) or tuned_spec.startswith(SCHEME):
        return ModelPair(
            base=_load_single(base_spec, "--base-model", "base", options),
            tuned=_load_single(tuned_spec, "--tuned-model", "tuned", options),
        )
    base = resolve_spec(base_spec, "--base-model", options)
    tuned = resolve_spec(tuned_spec, "--tuned-model", options)
    if base.is_adapter:
        raise HarnessError(
            f"--base-model {base_spec} is a PEFT adapter (it has adapter_config.json)",
            hint="pass the full base model as --base-model and the adapter as --tuned-model",
        )
    device, dtype = _torch_settings(options)
    digests = DigestCache(options.cache_dir / "fingerprints.json" if options.cache_dir else None)
    notes: list[str] = []
    base_fp = fingerprint_directory(Path(base.location), digests) if base.is_local else f"hub:{base.location}"
    base_tokenizer = _load_tokenizer(base.location, options, notes)
    base_module = _load_causal_lm(base.location, options, device, dtype)

    def make(module: Any, tokenizer: Any, role: str, spec: str, fp: str, adapter_enabled: bool = True) -> HFModel:
        return HFModel(
            module,
            tokenizer,
            role=role,
            name=spec,
            fingerprint=fp,
            adapter_enabled=adapter_enabled,
            batch_size=_batch_size(options, device),
        )

    if tuned.is_adapter:
        from peft import PeftModel

        adapter_dir = Path(tuned.location)
        try:
            check_adapter_fits(adapter_dir, base_module, base.location)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # peft calls transformers' deprecated names
                shared = PeftModel.from_pretrained(base_module, str(adapter_dir), is_trainable=False).eval()
        except HarnessError:
            raise
        except Exception as exc:  # peft and safetensors raise many kinds for a damaged adapter
            raise HarnessError(
                f"could not load the PEFT adapter {adapter_dir}: {_first_line(exc)}",
                hint="point at the directory save_pretrained() wrote for the adapter, with complete files",
            ) from None
        check_recorded_base(adapter_dir, base, base_fp, digests, notes)
        check_adapter_complete(adapter_dir, shared)
        tuned_tokenizer = (
            _load_tokenizer(tuned.location, options, notes) if _has_tokenizer(adapter_dir) else base_tokenizer
        )
        tuned_fp = combine(base_fp, fingerprint_directory(adapter_dir, digests))
        pair = ModelPair(
            base=make(shared, base_tokenizer, "base", base_spec, base_fp, adapter_enabled=False),
            tuned=make(shared, tuned_tokenizer, "tuned", tuned_spec, tuned_fp),
            shares_weights=True,
            notes=notes,
        )
    else:
        tuned_module = _load_causal_lm(tuned.location, options, device, dtype)
        tuned_tokenizer = _load_tokenizer(tuned.location, options, notes)
        tuned_fp = fingerprint_directory(Path(tuned.location), digests) if tuned.is_local else f"hub:{tuned.location}"
        pair = ModelPair(
            base=make(base_module, base_tokenizer, "base", base_spec, base_fp),
            tuned=make(tuned_module, tuned_tokenizer, "tuned", tuned_spec, tuned_fp),
            notes=notes,
        )
    digests.save()
    for note in dict.fromkeys(notes):
        log.info(note)
    return pair
