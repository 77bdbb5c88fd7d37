"""The OpenAI-compatible HTTP backend against a real server process on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.models.base import DecodingSettings
from harness.models.cache import CachedModel, ResponseCache
from harness.models.capabilities import (
    PROBE_TEXT,
    MissingCapability,
    prompt_logprobs_problem,
    top_logprobs_problem,
)
from harness.models.loading import LoadOptions, load_pair
from harness.models.openai import OpenAIModel, ServerSpec
from harness.models.replicas import ReplicaPool

SERVER = Path(__file__).with_name("openai_test_server.py")


@pytest.fixture(scope="module")
def start_server(tiny_dirs):
    processes = []
    shared: dict[tuple[str, ...], str] = {}

    def start(*flags: str, env: dict | None = None) -> str:
        """A server process; stateless ones (no --fail-first) are shared between tests."""
        reusable = not {"--fail-first", "--die-after"} & set(flags) and env is None
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


def requests_seen(url: str) -> int:
    """How many POST requests the test server has received."""
    with urllib.request.urlopen(f"{url}/stats", timeout=10) as response:
        return json.loads(response.read())["requests"]


def test_a_server_without_prompt_logprobs_is_named_once_and_then_at_once(start_server):
    """The probe asks once; every later log-likelihood request fails without asking the server again."""
    url = start_server("--no-logprobs")
    model = model_at(url)
    before = requests_seen(url)
    with pytest.raises(MissingCapability, match="cannot return prompt log-probabilities") as info:
        model.loglikelihood([("a", " b"), ("c", " d")])
    message = str(info.value)
    assert url in message and "'test-model'" in message and "vLLM" in message
    assert "without a logprobs field" in message and message.count("\n") == 1  # one line and its fix
    with pytest.raises(MissingCapability):
        model.loglikelihood_rolling(["a b c"])
    assert requests_seen(url) - before == 1
    assert model.generate(["The capital of"], DecodingSettings(max_new_tokens=2))  # generation still works
    assert model.capabilities.known() == {"completions": True, "prompt_logprobs": False, "top_logprobs": False}


def test_log_probabilities_off_by_one_position_are_caught_not_used(start_server):
    """Some servers score each prompt token with the distribution that follows it: plausible numbers, all wrong."""
    url = start_server("--shift-logprobs")
    with pytest.raises(MissingCapability, match="off by one position") as info:
        model_at(url).loglikelihood([("The capital of", " France")])
    assert "get different distributions for the next one" in str(info.value)


def _echo(text: str = PROBE_TEXT, **logprobs) -> dict:
    fields = {"tokens": ["Hello", " world", "."], "token_logprobs": [None, -1.5, -0.5], "text_offset": [0, 5, 11]}
    fields["top_logprobs"] = [None, {" world": -1.5}, {".": -0.5}]
    return {"choices": [{"text": text, "logprobs": {**fields, **logprobs}}]}


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ({"choices": [{"text": PROBE_TEXT + " x", "logprobs": None}]}, "without a logprobs field"),
        (_echo(text=" x"), "did not echo the prompt"),
        (_echo(text_offset=[0, 5]), "no text_offset for each token"),
        (_echo(text_offset=[3, 5, 11]), "does not run from 0"),
        (_echo(text_offset=[0, 11, 5]), "does not run from 0"),
        (_echo(token_logprobs=[None, float("nan"), -0.5]), "not finite log-probabilities"),
        (_echo(token_logprobs=[None, 2.0, -0.5]), "not finite log-probabilities"),
        (_echo(token_logprobs=[None, None, None]), "do not cover the prompt"),
        ({"choices": []}, "holds no choices"),
        ("not even a dict", "holds no choices"),
    ],
)
def test_a_prompt_logprobs_answer_is_verified_not_trusted(answer, problem):
    assert problem in prompt_logprobs_problem(answer)


def test_a_well_formed_echo_answer_passes_the_probe():
    assert prompt_logprobs_problem(_echo(text=PROBE_TEXT + " Hello")) is None
    assert top_logprobs_problem(_echo()) is None
    assert "no top_logprobs" in top_logprobs_problem(_echo(top_logprobs=[None, None, None]))


def test_replicas_share_the_requests_and_answer_as_one_server(start_server, local_model):
    first, second = start_server(), start_server("--fail-first", "0")  # two processes serving the same model
    hosts = ",".join(urllib.parse.urlsplit(u).netloc for u in (first, second))
    model = OpenAIModel(
        ServerSpec.parse(f"openai+http://{hosts}/v1?model=test-model&concurrency=2", "--tuned-model"),
        role="tuned",
        name="replicas",
    )
    before = requests_seen(first), requests_seen(second)
    prompts = [f"Clause {i} says" for i in range(24)]
    settings = DecodingSettings(max_new_tokens=3)
    answers = [g.text for g in model.generate(prompts, settings)]
    assert answers == [g.text for g in local_model.generate(prompts, settings)]
    share = requests_seen(first) - before[0], requests_seen(second) - before[1]
    assert sum(share) == len(prompts) + 1 and min(share) >= 4, share  # +1: the capability probe


def test_a_replica_that_is_down_is_rested_and_the_others_answer(start_server, local_model):
    live = start_server()
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{closed.getsockname()[1]}"
    hosts = f"{dead},{urllib.parse.urlsplit(live).netloc}"
    model = OpenAIModel(
        ServerSpec.parse(f"openai+http://{hosts}/v1?model=test-model", "--tuned-model"),
        role="tuned",
        name="one-down",
        sleep=lambda s: None,
    )
    prompts = [f"Item {i}:" for i in range(12)]
    answers = [g.text for g in model.generate(prompts, DecodingSettings(max_new_tokens=2))]
    assert answers == [g.text for g in local_model.generate(prompts, DecodingSettings(max_new_tokens=2))]
    down = next(r for r in model.replicas.replicas if r.url.startswith(f"http://{dead}"))
    assert down.answered == 0 and down.rests >= 1


def test_the_concurrency_limit_halves_on_overload_and_grows_while_latency_holds():
    pool = ReplicaPool(["http://a/v1"], start=8, maximum=10)
    replica = pool.replicas[0]
    pool.overloaded(replica)
    pool.overloaded(replica)
    assert replica.limit == 2
    for _ in range(200):
        pool.answered(replica, 0.1)
    assert replica.limit == 10  # grew back, never past the maximum
    pool.answered(replica, 0.01)  # a new best...
    limit = replica.limit
    pool.overloaded(replica)
    pool.answered(replica, 0.5)  # ...then fifty times slower: latency does not hold, no growth
    assert replica.limit == limit / 2
    for _ in range(5):
        pool.overloaded(replica)
    assert replica.limit == 1  # never below one request at a time


def test_rate_limits_lower_the_limit_of_a_real_server(start_server):
    url = start_server("--fail-first", "4")
    model = model_at(url, "&concurrency=8", sleep=lambda s: None)
    model.generate([f"p{i}" for i in range(16)], DecodingSettings(max_new_tokens=1))
    replica = model.replicas.replicas[0]
    assert replica.history and min(replica.history) < 8


def test_an_interrupted_run_resumes_from_the_cache_without_asking_again(start_server, local_model, tmp_path):
    """The server dies mid-run; restarted, it is asked only what the cache does not hold yet."""
    cache = ResponseCache(tmp_path / "cache.sqlite")
    prompts = [f"Request {i} is" for i in range(150)]
    settings = DecodingSettings(max_new_tokens=2)
    dying = start_server("--die-after", "100")
    interrupted = CachedModel(model_at(dying, "&retries=0&concurrency=2"), cache)
    with pytest.raises(HarnessError):
        interrupted.generate(prompts, settings)
    kept = len(cache)
    assert kept >= OpenAIModel.answers_per_write and kept % OpenAIModel.answers_per_write == 0
    fresh = start_server("--fail-first", "0", "--port", str(urllib.parse.urlsplit(dying).port))  # restarted
    resumed = CachedModel(model_at(fresh), cache)
    before = requests_seen(fresh)
    answers = [g.text for g in resumed.generate(prompts, settings)]
    assert requests_seen(fresh) - before == len(prompts) - kept + 1  # +1: the capability probe
    assert answers == [g.text for g in local_model.generate(prompts, settings)]


def test_base_and_adapter_from_one_server_match_the_in_process_pair(start_server, tiny_dirs, tiny_pair):
    """The vLLM pattern: `vllm serve BASE --enable-lora --lora-modules tuned=ADAPTER`, one copy of the weights."""
    url = start_server("--lora-modules", f"tuned={tiny_dirs['adapter']}")
    served = load_pair(f"openai+{url}?model=test-model", f"openai+{url}?model=tuned", LoadOptions())
    prompts = ["The capital of", "Either party may"]
    settings = DecodingSettings(max_new_tokens=5)
    for role in ("base", "tuned"):
        remote, local = getattr(served, role), getattr(tiny_pair, role)
        assert [g.text for g in remote.generate(prompts, settings)] == [
            g.text for g in local.generate(prompts, settings)
        ]
        scored = remote.loglikelihood([("The capital of", " France")])[0]
        assert scored.logprob == pytest.approx(
            local.loglikelihood([("The capital of", " France")])[0].logprob, abs=1e-4
        )
    base_ll = served.base.loglikelihood([("Either party may", " terminate")])[0].logprob
    assert base_ll != pytest.approx(served.tuned.loglikelihood([("Either party may", " terminate")])[0].logprob)


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
    probe, *sent = sent  # the first request checks that the server completes at all
    assert probe["max_tokens"] == 1 and probe["prompt"] != "a"
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
