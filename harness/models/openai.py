"""A backend for OpenAI-compatible servers (vLLM, SGLang, TGI, llama.cpp server, `transformers serve`).

Selected with a URL-style model option, e.g.
`--tuned-model "openai+http://127.0.0.1:8000/v1?model=my-tune"`. Several replicas of one deployment are
named by listing their host:port pairs, which share the path and the query:
`openai+http://gpu1:8000,gpu2:8000/v1?model=my-tune`. Query parameters: `model` (required), `chat=1` to
generate through /chat/completions, `concurrency` (requests in flight per replica to start with, default
4), `max_concurrency` (the most it may grow to, default 32), `timeout` seconds (default 60), `retries`
(default 5), `api_key_env` (default OPENAI_API_KEY): the key is read from that environment variable and
never written to logs or reports.

On first use of each kind of request the backend probes what the server can do (capabilities.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.models.base import DecodingSettings, Generation, Loglikelihood, RollingLoglikelihood
from harness.models.capabilities import CHAT, COMPLETIONS, PROMPT_LOGPROBS, TOP_LOGPROBS, ServerCapabilities
from harness.models.replicas import ReplicaPool, ServerRefused, ServerUnreachable

SCHEME = "openai+"
# Retried: rate limits, gateway and availability errors, timeouts. Any other error is the server's answer
# (a 500 whose body says why is as deterministic as a 400) and is reported with its message at once.
RETRY_STATUS = {408, 429, 502, 503, 504}
OVERLOAD_STATUS = {408, 429, 503}  # answers that say "fewer at a time, please"
PARAMETERS = ("model", "chat", "concurrency", "max_concurrency", "timeout", "retries", "api_key_env")


@dataclass(frozen=True)
class ServerSpec:
    """Where the server's replicas are and how to talk to them."""

    urls: tuple[str, ...]
    model: str
    chat: bool = False
    concurrency: int = 4
    max_concurrency: int = 32
    timeout: float = 60.0
    retries: int = 5
    api_key_env: str = "OPENAI_API_KEY"

    @property
    def base_url(self) -> str:
        """The deployment's name in messages: its first replica, and how many there are."""
        return self.urls[0] if len(self.urls) == 1 else f"{self.urls[0]} (+{len(self.urls) - 1} replicas)"

    @classmethod
    def parse(cls, spec: str, option: str) -> ServerSpec:
        url = urllib.parse.urlsplit(spec[len(SCHEME) :])
        if url.scheme not in ("http", "https") or not url.netloc:
            raise HarnessError(
                f"{option} {spec!r} is not an http(s) URL", hint="write openai+http://HOST:PORT/v1?model=NAME"
            )
        hosts = [host.strip() for host in url.netloc.split(",")]
        if not all(hosts) or len(set(hosts)) != len(hosts):
            raise HarnessError(
                f"{option} {spec!r}: empty or repeated host in {url.netloc!r}",
                hint="list each replica once: openai+http://HOST1:PORT,HOST2:PORT/v1?model=NAME",
            )
        query = dict(urllib.parse.parse_qsl(url.query))
        if not query.get("model"):
            raise HarnessError(f"{option} {spec!r} names no model", hint="add ?model=NAME (the name the server serves)")
        if unknown := sorted(set(query) - set(PARAMETERS)):
            raise HarnessError(
                f"{option}: unknown parameter {unknown[0]!r} in {spec!r}", hint=f"use: {', '.join(sorted(PARAMETERS))}"
            )
        path = url.path.rstrip("/")
        try:
            concurrency = max(1, int(query.get("concurrency", 4)))
            return cls(
                urls=tuple(urllib.parse.urlunsplit((url.scheme, host, path, "", "")) for host in hosts),
                model=query["model"],
                chat=query.get("chat", "0").lower() in ("1", "true", "yes"),
                concurrency=concurrency,
                max_concurrency=max(concurrency, int(query.get("max_concurrency", max(32, concurrency)))),
                timeout=float(query.get("timeout", 60)),
                retries=max(0, int(query.get("retries", 5))),
                api_key_env=query.get("api_key_env", "OPENAI_API_KEY"),
            )
        except ValueError as exc:
            raise HarnessError(
                f"{option} {spec!r}: {exc}", hint="concurrency, max_concurrency, timeout and retries are numbers"
            ) from None


class OpenAIModel:
    """A model behind an OpenAI-compatible HTTP API, on one server or several replicas."""

    # The response cache stores answers in chunks of this many, so an interrupted run resumes where it stopped.
    answers_per_write = 64

    def __init__(
        self, server: ServerSpec, *, role: str, name: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.server = server
        self.role = role
        self.name = name
        # Replicas of one deployment serve the same model: the fingerprint names the set, in any order.
        where = server.urls[0] if len(server.urls) == 1 else ",".join(sorted(server.urls))
        self.fingerprint = hashlib.sha256(f"openai|{where}|{server.model}".encode()).hexdigest()
        self._sleep = sleep
        self._server_version: str | None = None
        self.replicas = ReplicaPool(server.urls, start=server.concurrency, maximum=server.max_concurrency)
        self.capabilities = ServerCapabilities(
            lambda path, payload: self._post(path, payload), server.model, server.base_url
        )

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIModel(role={self.role!r}, url={self.server.base_url!r}, model={self.server.model!r})"

    def environment(self) -> dict[str, Any]:
        """The served model's name and the server's version, when it reports one (vLLM: GET /version)."""
        if self._server_version is None:
            self._server_version = self._ask_version()
        return {"server_model": self.server.model, "server_version": self._server_version}

    def _ask_version(self) -> str:
        root = self.server.urls[0].removesuffix("/").removesuffix("/v1")
        request = urllib.request.Request(f"{root}/version", headers=self._headers(), method="GET")
        try:
            with urllib.request.urlopen(request, timeout=min(5.0, self.server.timeout)) as response:
                answer = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError):
            return "unknown"
        return str(answer.get("version", "unknown")) if isinstance(answer, dict) else "unknown"

    # -- HTTP ---------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if key := os.environ.get(self.server.api_key_env):
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST JSON to the replica with the most room; retries with exponential backoff (and jitter) only on
        RETRY_STATUS, timeouts and lost connections, on whichever replica is free then. Any other error status
        is reported at once with the server's own message."""
        body = json.dumps(payload).encode()
        last = ""
        for attempt in range(self.server.retries + 1):
            with self.replicas.slot() as replica:
                url = f"{replica.url}{path}"
                request = urllib.request.Request(url, data=body, headers=self._headers(), method="POST")
                started = time.monotonic()
                try:
                    with urllib.request.urlopen(request, timeout=self.server.timeout) as response:
                        answer = json.loads(response.read())
                    self.replicas.answered(replica, time.monotonic() - started)
                    return answer
                except urllib.error.HTTPError as exc:
                    detail = _server_message(exc.read())
                    if exc.code not in RETRY_STATUS:
                        raise ServerRefused(
                            f"{url} answered HTTP {exc.code}: {detail}",
                            hint=_status_hint(exc.code, self.server),
                            status=exc.code,
                            reason=detail,
                        ) from None
                    if exc.code in OVERLOAD_STATUS:
                        self.replicas.overloaded(replica)
                    last = f"HTTP {exc.code}: {detail}" if detail else f"HTTP {exc.code}"
                except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
                    reason = getattr(exc, "reason", exc)
                    if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
                        self.replicas.overloaded(replica)
                    else:
                        self.replicas.refused(replica)
                    last = str(reason)
            if len(self.server.urls) > 1:
                last = f"{replica.url}: {last}"
            if attempt < self.server.retries:
                self._sleep(min(30.0, 0.5 * 2**attempt) * (1 + random.random() / 2))
        raise ServerUnreachable(
            f"{self.server.base_url} did not answer after {self.server.retries + 1} tries ({last})",
            hint="check that the server is running and reachable, or raise ?timeout= / ?retries=",
        )

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """Apply `fn` to every item, as many at a time as the replicas allow (they pace themselves)."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(len(items), self.replicas.capacity)) as pool:
            return list(pool.map(fn, items))

    def post_many(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """POST each (path under the base URL, JSON payload) and return the decoded answers in order.

        For requests the Model protocol does not cover (e.g. a judge's constrained choice): they go out as many
        at a time as the replicas allow, with the same retries, backoff and error messages as the model's own.
        """
        return self._map(lambda request: self._post(*request), list(requests))

    # -- Model protocol -----------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], settings: DecodingSettings = DecodingSettings()) -> list[Generation]:
        if prompts:
            self.capabilities.require(CHAT if self.server.chat else COMPLETIONS)

        def one(prompt: str) -> Generation:
            started = time.perf_counter()
            common = {
                "model": self.server.model,
                "max_tokens": settings.max_new_tokens,
                "temperature": settings.temperature,
            }
            if settings.sampled:
                common.update(top_p=settings.top_p, seed=settings.seed)
            if settings.stop:
                common["stop"] = list(settings.stop)
            if self.server.chat:
                data = self._post("/chat/completions", {**common, "messages": [{"role": "user", "content": prompt}]})
                text = data["choices"][0]["message"]["content"] or ""
            else:
                data = self._post("/completions", {**common, "prompt": prompt})
                text = data["choices"][0]["text"]
            for stop in settings.stop:
                text = text.split(stop, 1)[0]
            tokens = int(data.get("usage", {}).get("completion_tokens", 0)) or len(text.split())
            return Generation(text=text, n_tokens=tokens, seconds=time.perf_counter() - started)

        return self._map(one, list(prompts))

    def _echo_logprobs(
        self, text: str
    ) -> tuple[list[float | None], list[int], list[str], list[dict[str, float] | None]]:
        payload = {
            "model": self.server.model,
            "prompt": text,
            "max_tokens": 1,  # servers refuse 0 (transformers serve: "max_new_tokens must be greater than 0")
            "echo": True,
            "logprobs": 1,
            "temperature": 0,
        }
        data = self._post("/completions", payload)
        logprobs = (data.get("choices") or [{}])[0].get("logprobs")
        if not logprobs or not logprobs.get("token_logprobs") or logprobs.get("text_offset") is None:
            raise HarnessError(
                f"{self.server.base_url} returned no prompt log-probabilities for a request after saying it could",
                hint="see the server's log; the answer may have been cut short",
            )
        # Only the prompt's own tokens count: the one generated token after it starts at len(text).
        keep = sum(1 for offset in logprobs["text_offset"] if offset < len(text))
        tops = logprobs.get("top_logprobs") or [None] * len(logprobs["token_logprobs"])
        return (
            logprobs["token_logprobs"][:keep],
            logprobs["text_offset"][:keep],
            (logprobs.get("tokens") or [])[:keep],
            tops[:keep],
        )

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        if requests:
            self.capabilities.require(PROMPT_LOGPROBS, TOP_LOGPROBS)

        def one(request: tuple[str, str]) -> Loglikelihood:
            context, continuation = request
            logprobs, offsets, tokens, tops = self._echo_logprobs(context + continuation)
            total, greedy, count = 0.0, True, 0
            for i, (lp, offset) in enumerate(zip(logprobs, offsets, strict=True)):
                if offset < len(context) or lp is None:
                    continue
                total += lp
                count += 1
                top = tops[i] if i < len(tops) else None
                if top and tokens and max(top, key=top.get) != tokens[i]:
                    greedy = False
            return Loglikelihood(total, greedy, count)

        return self._map(one, list(requests))

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[RollingLoglikelihood]:
        if texts:
            self.capabilities.require(PROMPT_LOGPROBS)

        def one(text: str) -> RollingLoglikelihood:
            logprobs, _, _, _ = self._echo_logprobs(text)
            scored = [lp for lp in logprobs if lp is not None]
            return RollingLoglikelihood(float(sum(scored)), len(scored))

        return self._map(one, list(texts))


def _server_message(body: bytes) -> str:
    """The server's reason for an error: `error.message` (OpenAI style) or `detail` of a JSON body, else its text."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:300]
    if isinstance(data, dict):
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else error if isinstance(error, str) else None
        message = message or data.get("detail") or data.get("message")
        if isinstance(message, str):
            return message[:300]
    return text[:300]


def _status_hint(code: int, server: ServerSpec) -> str:
    if code in (401, 403):
        return f"set the API key in the environment variable {server.api_key_env} (or name another with ?api_key_env=)"
    if code == 404:
        return f"check the URL (it should end in /v1) and that the server serves model {server.model!r}"
    return "see the server's log"
