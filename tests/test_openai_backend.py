"""The OpenAI-compatible HTTP backend against a real server process on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.models.base import DecodingSettings
from harness.models.loading import LoadOptions, load_pair
from harness.models.openai import OpenAIModel, ServerSpec

SERVER = Path(__file__).with_name("openai_test_server.py")


@pytest.fixture(scope="module")
def start_server(tiny_dirs):
    processes = []
    shared: dict[tuple[str, ...], str] = {}

    def start(*flags: str, env: dict | None = None) -> str:
        """A server process; stateless ones (no --fail-first) are shared between tests."""
        reusable = "--fail-first" not in flags and env is None
        if reusable and flags in shared:
            return shared[flags]
        process = subprocess.Popen(
            [sys.executable, str(SERVER), str(tiny_dirs["base"]), *flags],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        processes.append(process)
        line = process.stdout.readline()
        assert "TEST SERVER listening on" in line, line
        url = line.split()[-1]
        if reusable:
            shared[flags] = url
        return url

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def local_model(tiny_dirs):
    return load_pair(str(tiny_dirs["base"]), str(tiny_dirs["base"]), LoadOptions()).base


def model_at(url: str, query: str = "", **kwargs) -> OpenAIModel:
    return OpenAIModel(
        ServerSpec.parse(f"openai+{url}?model=test-model{query}", "--tuned-model"), role="tuned", name="srv", **kwargs
    )


def test_generation_matches_the_same_model_loaded_locally(start_server, local_model):
    url = start_server()
    prompts = ["The capital of", "Either party may", "3 +"]
    settings = DecodingSettings(max_new_tokens=6)
    served = [g.text for g in model_at(url).generate(prompts, settings)]
    assert served == [g.text for g in local_model.generate(prompts, settings)]
    chat = [g.text for g in model_at(url, "&chat=1").generate(prompts, settings)]
    assert chat == served


def test_loglikelihoods_match_the_local_backend(start_server, local_model):
    """Asked as real servers require (max_tokens 1 with echo), the generated token after the prompt is not scored."""
    url = start_server()
    requests = [("The capital of France is", " Paris"), ("The opposite of hot is", " cold")]
    served = model_at(url).loglikelihood(requests)
    local = local_model.loglikelihood(requests)
    for s, loc in zip(served, local, strict=True):
        assert s.logprob == pytest.approx(loc.logprob, abs=1e-4)
        assert s.is_greedy == loc.is_greedy
    rolling = model_at(url).loglikelihood_rolling(["The capital of France is Paris."])[0]
    assert rolling.logprob < 0 and rolling.n_tokens > 1


def test_rate_limits_are_retried_with_backoff(start_server):
    url = start_server("--fail-first", "3")
    waits: list[float] = []
    model = model_at(url, "&concurrency=1", sleep=waits.append)
    assert model.generate(["The capital of"], DecodingSettings(max_new_tokens=3))[0].text is not None
    assert len(waits) == 3 and waits[0] < waits[1] < waits[2]


def test_giving_up_names_the_url_and_the_fix(start_server):
    url = start_server("--fail-first", "100")
    model = model_at(url, "&retries=2", sleep=lambda s: None)
    with pytest.raises(HarnessError, match=r"did not answer after 3 tries \(HTTP 429: rate limited\)"):
        model.generate(["x"])


def test_a_server_without_prompt_logprobs_is_named(start_server):
    url = start_server("--no-logprobs")
    with pytest.raises(HarnessError, match="does not return prompt log-probabilities") as info:
        model_at(url).loglikelihood([("a", " b")])
    assert "vLLM" in str(info.value)


def test_api_key_comes_from_the_environment_and_never_shows(start_server, monkeypatch):
    import os

    env = {**os.environ, "TEST_SERVER_KEY": "sk-secret-123"}
    url = start_server("--api-key-env", "TEST_SERVER_KEY", env=env)
    model = model_at(url, "&api_key_env=HARNESS_TEST_KEY")
    monkeypatch.delenv("HARNESS_TEST_KEY", raising=False)
    with pytest.raises(HarnessError, match="HTTP 401") as info:
        model.generate(["x"])
    assert "HARNESS_TEST_KEY" in str(info.value)
    monkeypatch.setenv("HARNESS_TEST_KEY", "sk-secret-123")
    assert model.generate(["x"], DecodingSettings(max_new_tokens=2))
    assert "sk-secret" not in repr(model) and "sk-secret" not in model.name


def test_url_specs_are_checked():
    with pytest.raises(HarnessError, match="names no model"):
        ServerSpec.parse("openai+http://127.0.0.1:8000/v1", "--tuned-model")
    with pytest.raises(HarnessError, match="unknown parameter 'modle'"):
        ServerSpec.parse("openai+http://127.0.0.1:8000/v1?model=a&modle=b", "--tuned-model")
    spec = ServerSpec.parse("openai+http://127.0.0.1:8000/v1/?model=a&chat=1&concurrency=8", "--tuned-model")
    assert (spec.base_url, spec.chat, spec.concurrency) == ("http://127.0.0.1:8000/v1", True, 8)


def test_served_pair_loads_through_the_model_options(start_server, tiny_dirs):
    url = start_server()
    pair = load_pair(str(tiny_dirs["base"]), f"openai+{url}?model=test-model", LoadOptions())
    assert isinstance(pair.tuned, OpenAIModel) and pair.base.role == "base"
    with pytest.raises(HarnessError, match="is a PEFT adapter, but the other model is served"):
        load_pair(f"openai+{url}?model=test-model", str(tiny_dirs["adapter"]), LoadOptions())


def test_sampling_settings_reach_the_server_and_greedy_asks_for_temperature_zero(monkeypatch):
    model = OpenAIModel(
        ServerSpec.parse("openai+http://127.0.0.1:9/v1?model=m", "--tuned-model"), role="tuned", name="m"
    )
    sent = []

    def post(path, payload):
        sent.append(payload)
        return {"choices": [{"text": "ok"}], "usage": {"completion_tokens": 1}}

    monkeypatch.setattr(model, "_post", post)
    model.generate(["a"], DecodingSettings(max_new_tokens=4))
    model.generate(["a"], DecodingSettings(max_new_tokens=4, temperature=0.7, top_p=0.9, seed=5))
    assert sent[0]["temperature"] == 0 and "seed" not in sent[0]
    assert (sent[1]["temperature"], sent[1]["top_p"], sent[1]["seed"]) == (0.7, 0.9, 5)


def test_a_deterministic_server_error_is_reported_at_once_with_its_message(start_server):
    """A 500 whose body says why is the server's answer, not a hiccup: no retries, its message shown."""
    url = start_server()
    waits: list[float] = []
    model = model_at(url, "&retries=5", sleep=waits.append)
    with pytest.raises(HarnessError, match=r"answered HTTP 500: max_new_tokens must be greater than 0"):
        model._post("/completions", {"model": "test-model", "prompt": "x", "max_tokens": 0})
    assert waits == []
