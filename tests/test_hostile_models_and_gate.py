"""Broken and hostile model directories, options, gate rules and baselines: each is refused at once with a
clear error naming the file, option or field, never a traceback, never code run, never a silent number.

A generated corpus: every entry damages one thing and states the message that must name it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.models.loading import LoadOptions, load_pair

BOUND_S = 5.0  # hostile input is refused in bounded time (a bound, not a benchmark)


# -- model and adapter directories -----------------------------------------------------------------------


def _tensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(path)


def _save(tensors: dict, path: Path) -> None:
    from safetensors.torch import save_file

    save_file(tensors, path, metadata={"format": "pt"})


def _edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def no_model_tensors(base: Path, adapter: Path) -> None:
    import torch

    _save({"unrelated": torch.zeros(2)}, base / "model.safetensors")


def one_tensor_reshaped(base: Path, adapter: Path) -> None:
    import torch

    tensors = _tensors(base / "model.safetensors")
    tensors["model.layers.0.mlp.up_proj.weight"] = torch.zeros(3, 3)
    _save(tensors, base / "model.safetensors")


def one_tensor_extra(base: Path, adapter: Path) -> None:
    import torch

    tensors = _tensors(base / "model.safetensors")
    tensors["model.layers.9.mlp.up_proj.weight"] = torch.zeros(3, 3)
    _save(tensors, base / "model.safetensors")


def one_tensor_missing(base: Path, adapter: Path) -> None:
    tensors = _tensors(base / "model.safetensors")
    del tensors["model.layers.1.self_attn.k_proj.weight"]
    _save(tensors, base / "model.safetensors")


def truncated_weights(base: Path, adapter: Path) -> None:
    data = (base / "model.safetensors").read_bytes()
    (base / "model.safetensors").write_bytes(data[: len(data) // 3])


def empty_weights(base: Path, adapter: Path) -> None:
    (base / "model.safetensors").write_bytes(b"")


def config_not_json(base: Path, adapter: Path) -> None:
    (base / "config.json").write_text("{not json")


def config_wider(base: Path, adapter: Path) -> None:
    _edit_json(base / "config.json", lambda c: c.update(hidden_size=64, intermediate_size=128))


def config_unknown_type(base: Path, adapter: Path) -> None:
    _edit_json(base / "config.json", lambda c: c.update(model_type="no-such-architecture"))


def config_remote_code(base: Path, adapter: Path) -> None:
    marker = base / "RAN"
    (base / "modeling_evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    _edit_json(base / "config.json", lambda c: c.update(auto_map={"AutoModelForCausalLM": "modeling_evil.Evil"}))


def tokenizer_truncated(base: Path, adapter: Path) -> None:
    text = (base / "tokenizer.json").read_text()
    (base / "tokenizer.json").write_text(text[: len(text) // 2])


def tokenizer_config_not_json(base: Path, adapter: Path) -> None:
    (base / "tokenizer_config.json").write_text("[[[")


def adapter_unknown_type(base: Path, adapter: Path) -> None:
    _edit_json(adapter / "adapter_config.json", lambda c: c.update(peft_type="NOPE"))


def adapter_config_not_json(base: Path, adapter: Path) -> None:
    (adapter / "adapter_config.json").write_text('{"peft_type": ')


def adapter_truncated(base: Path, adapter: Path) -> None:
    data = (adapter / "adapter_model.safetensors").read_bytes()
    (adapter / "adapter_model.safetensors").write_bytes(data[:100])


def adapter_half_missing(base: Path, adapter: Path) -> None:
    tensors = _tensors(adapter / "adapter_model.safetensors")
    _save({k: v for k, v in tensors.items() if "layers.1." not in k}, adapter / "adapter_model.safetensors")


def adapter_foreign_layer(base: Path, adapter: Path) -> None:
    tensors = _tensors(adapter / "adapter_model.safetensors")
    renamed = {k.replace("q_proj", "w_foreign"): v for k, v in tensors.items()}
    _save(renamed, adapter / "adapter_model.safetensors")


def adapter_rank_changed(base: Path, adapter: Path) -> None:
    _edit_json(adapter / "adapter_config.json", lambda c: c.update(r=8))


def adapter_trained_on_another_base(base: Path, adapter: Path) -> None:
    from tiny_models import build_model

    other = build_model(base.parent / "other-base", seed=7)  # same architecture, other weights
    _edit_json(adapter / "adapter_config.json", lambda c: c.update(base_model_name_or_path=str(other)))


MODEL_CORPUS = [
    (no_model_tensors, r"model\.safetensors does not match its config\.json: .* missing .*unrelated"),
    (one_tensor_reshaped, r"other shapes \(model\.layers\.0\.mlp\.up_proj\.weight is \[3, 3\] in the file"),
    (one_tensor_extra, r"not part of this model \(model\.layers\.9\.mlp\.up_proj\.weight"),
    (one_tensor_missing, r"missing \(model\.layers\.1\.self_attn\.k_proj\.weight"),
    (truncated_weights, r"could not load a causal LM from .*base"),
    (empty_weights, r"could not load a causal LM from .*base"),
    (config_not_json, r"could not load the tokenizer in .*base.*config\.json' is not a valid JSON"),
    (config_wider, r"other shapes .*in config\.json"),
    (config_unknown_type, r"could not load a causal LM from .*no-such-architecture"),
    (tokenizer_truncated, r"could not load the tokenizer in .*base"),
    (tokenizer_config_not_json, r"could not load the tokenizer in .*base"),
    (adapter_unknown_type, r"could not load the PEFT adapter .*adapter"),
    (adapter_config_not_json, r"could not load the PEFT adapter .*JSONDecodeError"),
    (adapter_truncated, r"could not load the PEFT adapter .*adapter"),
    (adapter_half_missing, r"adapter_model\.safetensors is incomplete: \d+ adapter tensor\(s\)"),
    (adapter_foreign_layer, r"does not fit base model .*has no layer 'model\.layers\.0\.self_attn\.w_foreign'"),
    (adapter_rank_changed, r"could not load the PEFT adapter .*adapter"),
    (adapter_trained_on_another_base, r"was trained on .*other-base, whose weights differ from --base-model"),
]


@pytest.mark.parametrize(("damage", "message"), MODEL_CORPUS, ids=[d.__name__ for d, _ in MODEL_CORPUS])
def test_a_damaged_model_or_adapter_is_refused_by_name(tmp_path, tiny_dirs, damage, message) -> None:
    base, adapter = tmp_path / "base", tmp_path / "adapter"
    shutil.copytree(tiny_dirs["base"], base)
    shutil.copytree(tiny_dirs["adapter"], adapter)
    _edit_json(adapter / "adapter_config.json", lambda c: c.update(base_model_name_or_path=str(base)))
    damage(base, adapter)
    started = time.perf_counter()
    with pytest.raises(HarnessError, match=f"(?s){message}"):
        load_pair(str(base), str(adapter), LoadOptions(batch_size=2))
    assert time.perf_counter() - started < BOUND_S
    assert not (base / "RAN").exists(), "code named by the model directory ran"


def test_code_named_by_a_model_directory_never_runs(tmp_path, tiny_dirs, monkeypatch) -> None:
    """config.json and tokenizer_config.json may name Python files (auto_map): without --trust-remote-code
    they are never imported and nothing asks on stdin; the built-in architecture is used."""
    import builtins

    base, adapter = tmp_path / "base", tmp_path / "adapter"
    shutil.copytree(tiny_dirs["base"], base)
    shutil.copytree(tiny_dirs["adapter"], adapter)
    _edit_json(adapter / "adapter_config.json", lambda c: c.update(base_model_name_or_path=str(base)))
    config_remote_code(base, adapter)
    _edit_json(
        base / "tokenizer_config.json", lambda c: c.update(auto_map={"AutoTokenizer": ["modeling_evil.T", None]})
    )

    def no_prompt(*args, **kwargs):
        raise AssertionError("the loader asked on stdin")

    monkeypatch.setattr(builtins, "input", no_prompt)
    pair = load_pair(str(base), str(adapter), LoadOptions(batch_size=2))
    assert type(pair.base.module.get_base_model()).__name__ == "LlamaForCausalLM"
    assert not (base / "RAN").exists(), "code named by the model directory ran"


def test_the_undamaged_copy_loads(tmp_path, tiny_dirs) -> None:
    """The control for the corpus above: the same copy steps without damage load fine."""
    base, adapter = tmp_path / "base", tmp_path / "adapter"
    shutil.copytree(tiny_dirs["base"], base)
    shutil.copytree(tiny_dirs["adapter"], adapter)
    _edit_json(adapter / "adapter_config.json", lambda c: c.update(base_model_name_or_path=str(base)))
    pair = load_pair(str(base), str(adapter), LoadOptions(batch_size=2))
    assert pair.tuned.loglikelihood([("The capital of", " France")])[0].logprob < 0


# -- options, gate rules and stored baselines, through pytest as a user runs them ------------------------------

SUITE = """
from harness.metrics.result import MetricResult


def test_skill(model, record_metric):
    scores = {f"i{k:02d}": float(k % 4 != 0) for k in range(40)}
    record_metric(MetricResult("skill", 0.75, (0.6, 0.875), 40, scores), max_drop_vs_base=0.05, alpha=0.05)
"""


def _stored(result_change: Callable[[dict], None] | None = None, document_change: Callable[[dict], None] | None = None):
    result = {
        "name": "skill",
        "value": 0.75,
        "ci": [0.6, 0.875],
        "n": 40,
        "per_item": {f"i{k:02d}": float(k % 4 != 0) for k in range(40)},
        "higher_is_better": True,
        "unit": "",
        "details": {},
    }
    if result_change:
        result_change(result)
    document = {
        "format": 1,
        "suite": "test_suite.py",
        "base": {},
        "promoted": {"skill": {"result": result, "measured_on": {"test": "test_skill"}}},
    }
    if document_change:
        document_change(document)
    return json.dumps(document)


def _cut_items(result: dict) -> None:
    result["per_item"] = dict(list(result["per_item"].items())[:10])


OPTION_CORPUS = [
    ("device-missing-gpu", ["--device", "cuda:7"], {}, None, r"--device cuda:7: this torch build sees no CUDA device"),
    ("device-nonsense", ["--device", "banana"], {}, None, r"--device 'banana' is not a torch device"),
    ("dtype-nonsense", ["--dtype", "banana"], {}, None, r"--dtype 'banana' is not a torch dtype"),
    ("batch-negative", ["--batch-size", "-3"], {}, None, r"batch size must be a positive number"),
    ("threads-word", ["--threads", "many"], {}, None, r"--threads: threads must be a whole number"),
    ("json-is-directory", ["--harness-json", "."], {}, None, r"--harness-json \. is a directory"),
    ("json-under-a-file", ["--harness-json", "test_suite.py/out.json"], {}, None, r"is not a directory this run"),
    ("floor-nan", [], {"floor": "nan"}, None, r"skill\]: floor must be a finite number, got nan"),
    ("floor-inf", [], {"floor": "inf"}, None, r"floor must be a finite number, got inf"),
    ("ceiling-neg-inf", [], {"ceiling": "-inf"}, None, r"ceiling must be a finite number, got -inf"),
    ("floor-bool", [], {"floor": "true"}, None, r"floor must be a finite number, got True"),
    ("floor-string", [], {"floor": '"high"'}, None, r"floor must be a finite number, got 'high'"),
    ("drop-nan-percent", [], {"max_drop_vs_base": '"nan%"'}, None, r"'nan%' is not a drop size"),
    ("drop-negative", [], {"max_drop_vs_base": "-0.1"}, None, r"-0.1 is not a drop size"),
    ("drop-inf", [], {"max_drop_vs_promoted": "inf"}, None, r"inf is not a drop size"),
    ("alpha-above-one", [], {"alpha": "2"}, None, r"alpha must be between 0 and 1"),
    ("rule-misspelt", [], {"max_dorp": "0.1"}, None, r"unknown gate rule 'max_dorp'"),
    ("metric-misspelt", [], {"@table": "skil"}, None, r"\[tool\.harness\.gate\.skil\] names no metric.*skill"),
    ("baseline-nan", [], {}, _stored(lambda r: r.update(value=float("nan"))), r"NaN is not a number a baseline"),
    ("baseline-ci-reversed", [], {}, _stored(lambda r: r.update(ci=[0.9, 0.6])), r"ci \[0\.9, 0\.6\] is not an"),
    ("baseline-zero-value", [], {}, _stored(lambda r: r.update(value=0.0)), r"value 0\.0 lies outside its interval"),
    ("baseline-items-cut", [], {}, _stored(_cut_items), r"per_item holds 10 scores for n = 40 items"),
    ("baseline-item-text", [], {}, _stored(lambda r: r["per_item"].update(i00="yes")), r"finite scores"),
    ("baseline-n-text", [], {}, _stored(lambda r: r.update(n="forty")), r"n 'forty' is not a count"),
    ("baseline-format", [], {}, _stored(document_change=lambda d: d.update(format=2)), r"format 2, expected 1"),
    ("baseline-list", [], {}, _stored(document_change=lambda d: d.update(base=[])), r"'base' must map metric"),
    ("baseline-not-json", [], {}, "{", r"test_suite\.json cannot be used"),
    ("baseline-binary", [], {}, "\udcff", r"not UTF-8 text"),
]


@pytest.mark.parametrize(
    ("args", "rules", "baseline", "message"),
    [entry[1:] for entry in OPTION_CORPUS],
    ids=[entry[0] for entry in OPTION_CORPUS],
)
def test_a_bad_option_rule_or_baseline_is_a_clear_error(pytester, run_on_tiny, args, rules, baseline, message) -> None:
    pytester.makepyfile(test_suite=SUITE)
    table = rules.pop("@table", "skill") if rules else "skill"
    body = "".join(f"{key} = {value}\n" for key, value in rules.items()) or "max_drop_vs_base = 0.05\n"
    pytester.makepyprojecttoml(f"[tool.harness.gate.{table}]\n{body}")
    if baseline is not None:
        (pytester.path / "baselines").mkdir()
        (pytester.path / "baselines" / "test_suite.json").write_bytes(baseline.encode("utf-8", "surrogateescape"))
    started = time.perf_counter()
    result = run_on_tiny(
        *args,
    )
    output = result.stdout.str() + result.stderr.str()
    assert time.perf_counter() - started < BOUND_S * 2
    assert result.ret != 0, output[-2000:]
    assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
    import re

    assert re.search(message, output, re.S), output[-3000:]
