"""The HTTP backend against a server this project did not write: `transformers serve` (transformers[serving]).

It serves the demo base and a merged fine-tune on CPU. Generation suites through it give the in-process
backend's greedy answers; it ignores `echo` and `logprobs`, so log-likelihood suites stop at once with the
capability named, after one probe, never a retry loop.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from harness.demo import model_dir as demo_path
from harness.models.capabilities import MissingCapability
from harness.models.openai import OpenAIModel, ServerSpec

REPO = Path(__file__).resolve().parents[1]
SERVE = Path(sys.executable).with_name("transformers")

pytestmark = pytest.mark.skipif(
    not SERVE.exists() or shutil.which("uvicorn", path=str(SERVE.parent)) is None,
    reason="transformers serve is not installed: pip install 'transformers[serving]' (make install does)",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def merged_tune(tmp_path_factory) -> Path:
    """The demo fine-tune merged into full weights: `transformers serve` loads models, not adapters."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base_dir = demo_path("base")
    out = tmp_path_factory.mktemp("merged") / "clauses-replay-merged"
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, demo_path("clauses-replay")).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        shutil.copy(base_dir / name, out / name)
    return out


@pytest.fixture(scope="module")
def server() -> str:
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [str(SERVE), "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"transformers serve did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.5)
    yield f"{url}/v1"
    process.terminate()
    process.wait(30)


def served(url: str, model_dir: Path) -> str:
    return f"openai+{url}?model={model_dir}"


def run_suite(suite: str, base: str, tuned: str, tmp_path: Path, name: str) -> tuple[subprocess.CompletedProcess, dict]:
    report = tmp_path / f"{name}.json"
    env = {**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / f"cache-{name}")}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    command = [sys.executable, "-m", "pytest", suite, "-p", "no:cacheprovider", "-q", f"--harness-json={report}"]
    command += ["--base-model", base, "--tuned-model", tuned]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return result, json.loads(report.read_text()) if report.is_file() else {}


def answers_and_scores(report: dict) -> tuple[dict, dict]:
    """Per eval item, both models' answers; per metric and role, the value."""
    answers = {
        (path, item_id): item["answers"] for path, items in report["items"].items() for item_id, item in items.items()
    }
    values = {(m["metric"], side): m[side]["value"] for m in report["metrics"] for side in ("base", "tuned") if m[side]}
    return answers, values


def test_generation_suites_through_the_server_give_the_in_process_answers(server, merged_tune, tmp_path):
    base_dir = demo_path("base")
    suite = "suites/test_clause_summaries.py"
    remote, remote_report = run_suite(suite, served(server, base_dir), served(server, merged_tune), tmp_path, "served")
    local, local_report = run_suite(suite, str(base_dir), str(merged_tune), tmp_path, "local")
    assert "HarnessError" not in remote.stdout, remote.stdout[-3000:]
    remote_answers, remote_values = answers_and_scores(remote_report)
    local_answers, local_values = answers_and_scores(local_report)
    assert len(remote_answers) >= 90 and all(set(a) == {"base", "tuned"} for a in remote_answers.values())
    assert remote_answers == local_answers
    assert {k: v for k, v in remote_values.items() if "seconds" not in k[0]} == {
        k: v for k, v in local_values.items() if "seconds" not in k[0]
    }


def test_log_likelihood_needs_are_named_at_once_after_one_probe(server, monkeypatch):
    model = OpenAIModel(ServerSpec.parse(served(server, demo_path("base")), "--base-model"), role="base", name="b")
    with pytest.raises(MissingCapability) as info:
        model.loglikelihood([("The capital of France is", " Paris")])
    message = str(info.value)
    assert "cannot return prompt log-probabilities" in message and "without a logprobs field" in message
    assert "vLLM" in message and server in message
    monkeypatch.setattr(model, "_post", lambda *a: pytest.fail("asked the server again"))
    with pytest.raises(MissingCapability):
        model.loglikelihood_rolling(["The capital of France is Paris."])


def test_a_model_without_a_chat_template_is_named_when_chat_is_asked(server):
    model = OpenAIModel(
        ServerSpec.parse(served(server, demo_path("base")) + "&chat=1", "--base-model"), role="base", name="b"
    )
    with pytest.raises(MissingCapability, match=r"cannot generate through /chat/completions: it answered HTTP 500"):
        model.generate(["Hello"])


def test_a_log_likelihood_suite_through_the_server_fails_with_one_line(server, tmp_path):
    base = served(server, demo_path("base"))
    result, _ = run_suite("suites/test_general_capability.py", base, base, tmp_path, "mc")
    assert result.returncode != 0
    lines = [line for line in result.stdout.splitlines() if "cannot return prompt log-probabilities" in line]
    assert lines, result.stdout[-3000:]
    assert "did not answer" not in result.stdout  # no retry loop
