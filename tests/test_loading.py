"""Model loading refuses what is unsafe or mismatched, with an error that names the fix."""

from __future__ import annotations

import json
import shutil

import pytest

from harness.errors import HarnessError
from harness.models.loading import LoadOptions, load_pair, resolve_spec


def test_missing_and_empty_directories(tmp_path):
    with pytest.raises(HarnessError, match=r"--tuned-model .*nope: no such directory"):
        resolve_spec(str(tmp_path / "nope"), "--tuned-model", LoadOptions())
    (tmp_path / "empty").mkdir()
    with pytest.raises(HarnessError, match="is empty"):
        resolve_spec(str(tmp_path / "empty"), "--base-model", LoadOptions())


def test_hub_names_are_refused_without_opt_in():
    with pytest.raises(HarnessError, match="does not download models by default") as info:
        resolve_spec("meta-llama/Llama-3.1-8B", "--base-model", LoadOptions())
    assert "--allow-download" in str(info.value)
    assert not resolve_spec("meta-llama/Llama-3.1-8B", "--base-model", LoadOptions(allow_download=True)).is_local


def test_pickle_checkpoints_are_refused_unless_allowed(tmp_path, tiny_dirs):
    model_dir = tmp_path / "pickled"
    shutil.copytree(tiny_dirs["base"], model_dir)
    (model_dir / "model.safetensors").rename(model_dir / "pytorch_model.bin")
    with pytest.raises(HarnessError, match=r"only pickle weights \(pytorch_model.bin\)") as info:
        resolve_spec(str(model_dir), "--base-model", LoadOptions())
    assert "--allow-pickle" in str(info.value)
    assert resolve_spec(str(model_dir), "--base-model", LoadOptions(allow_pickle=True)).is_local


def test_adapter_as_base_is_refused(tiny_dirs):
    with pytest.raises(HarnessError, match="is a PEFT adapter"):
        load_pair(str(tiny_dirs["adapter"]), str(tiny_dirs["base"]))


def test_adapter_for_another_base_names_the_misfit_layer(tmp_path, tiny_dirs):
    from tiny_models import build_model

    other = build_model(tmp_path / "wider", hidden=48)
    with pytest.raises(
        HarnessError, match=r"does not fit base model .*layer 'model.layers.0.self_attn.q_proj' is 48x48"
    ):
        load_pair(str(other), str(tiny_dirs["adapter"]))


def test_adapter_naming_another_base_is_noted_when_shapes_fit(tmp_path, tiny_dirs):
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_dirs["adapter"], adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "some-org/other-base"
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    pair = load_pair(str(tiny_dirs["base"]), str(adapter))
    assert any("names base 'some-org/other-base'" in note for note in pair.notes)


def test_full_model_pair_loads_two_models(tmp_path, tiny_dirs):
    from tiny_models import build_model

    other = build_model(tmp_path / "other", seed=5)
    pair = load_pair(str(tiny_dirs["base"]), str(other))
    assert not pair.shares_weights and pair.base.module is not pair.tuned.module


def test_bad_device_option(tiny_dirs):
    with pytest.raises(HarnessError, match="--device 'gpu9' is not a torch device"):
        load_pair(str(tiny_dirs["base"]), str(tiny_dirs["adapter"]), LoadOptions(device="gpu9"))


def test_demo_names_load_the_shipped_models_from_anywhere(tmp_path, monkeypatch):
    from harness import demo

    monkeypatch.chdir(tmp_path)  # not a checkout: the models come with the package
    for name in demo.names():
        spec = resolve_spec(name, "--tuned-model", LoadOptions())
        assert spec.is_local and spec.location.startswith(str(demo.MODELS_DIR))
    with pytest.raises(HarnessError, match=r"(?s)demo:nope is not a demo model.*use one of: demo:base, demo:clauses"):
        resolve_spec("demo:nope", "--tuned-model", LoadOptions())


def test_an_adapter_loaded_alone_brings_its_base(tiny_dirs):
    from harness.models.loading import load_model

    model = load_model(str(tiny_dirs["adapter"]), LoadOptions(batch_size=2))
    assert model.role == "tuned" and model.generate(["The capital of"])[0].text is not None
