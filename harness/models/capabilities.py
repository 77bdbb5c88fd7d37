"""What an OpenAI-compatible server can do, found by asking it, not by trusting its silence.

Servers differ: `transformers serve` answers /completions but ignores `echo` and `logprobs`; a model
without a chat template fails /chat/completions; vLLM and llama.cpp's server return prompt
log-probabilities. Each capability is probed once, on first use, by a tiny request whose answer is
checked; a missing one fails at once, and on every later use, with one line naming the server, what it
lacks and what serves it, instead of a retry loop or a wrong number.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.models.replicas import ServerRefused

# Refusals that are about the caller, not the request's form: a key, a model name, a URL. Not a capability.
NOT_ABOUT_CAPABILITY = {401, 403, 404}

# Short, so a probe costs next to nothing; two words so a tokenizer gives several tokens.
PROBE_TEXT = "Hello world. Hello world."
CONTRAST_TEXT = "Hello there, friends of mine."  # the same first word, then other tokens
ALIGNMENT_TOLERANCE = 0.05  # log-prob difference allowed between two batches of one server (GPU kernels vary)
LOGPROB_SERVERS = "vLLM (`vllm serve MODEL`) returns them"


@dataclass(frozen=True)
class Capability:
    """One thing a suite may need from a server."""

    name: str
    does: str  # "return prompt log-probabilities": completes "the server cannot ..."
    needed_by: str
    fix: str


COMPLETIONS = Capability(
    "completions", "generate through /completions", "generation metrics", "serve the model behind /v1/completions"
)
CHAT = Capability(
    "chat",
    "generate through /chat/completions",
    "generation with ?chat=1",
    "give the model a chat template, or drop ?chat=1 to use /completions",
)
PROMPT_LOGPROBS = Capability(
    "prompt_logprobs",
    "return prompt log-probabilities (echo + logprobs on /completions)",
    "log-likelihood, multiple-choice and perplexity metrics",
    f"{LOGPROB_SERVERS}; or run only generation suites",
)
TOP_LOGPROBS = Capability(
    "top_logprobs",
    "return the most likely token at each prompt position (top_logprobs)",
    "multiple-choice metrics that check whether an answer is the greedy one",
    f"{LOGPROB_SERVERS}; or run only generation suites",
)


class MissingCapability(HarnessError):
    """The server cannot do what a suite needs."""


class ServerCapabilities:
    """Probes a server's capabilities once each (thread-safe) and remembers the verdicts.

    `post(path, payload)` sends one request and returns the decoded JSON answer, raising HarnessError
    when the server refuses it; `where` names the server in messages.
    """

    def __init__(self, post: Callable[[str, dict[str, Any]], dict[str, Any]], model: str, where: str) -> None:
        self._post = post
        self._model = model
        self._where = where
        self._lock = threading.Lock()
        self._found: dict[str, str | None] = {}  # capability name -> None when present, else why it is missing

    def require(self, *capabilities: Capability) -> None:
        """Return when the server has every capability; raise MissingCapability naming the first it lacks."""
        for capability in capabilities:
            with self._lock:
                if capability.name not in self._found:
                    self._probe(capability)
                missing = self._found[capability.name]
            if missing is not None:
                raise MissingCapability(
                    f"{self._where} (model {self._model!r}) cannot {capability.does}: {missing}; "
                    f"{capability.needed_by} need it",
                    hint=capability.fix,
                )

    def known(self) -> dict[str, bool]:
        """The capabilities probed so far: name -> present."""
        with self._lock:
            return {name: why is None for name, why in sorted(self._found.items())}

    def _probe(self, capability: Capability) -> None:
        if capability in (PROMPT_LOGPROBS, TOP_LOGPROBS):
            echo = self._ask("/completions", {"prompt": PROBE_TEXT, "max_tokens": 1, "echo": True, "logprobs": 1})
            if isinstance(echo, str):
                self._found[PROMPT_LOGPROBS.name] = self._found[TOP_LOGPROBS.name] = echo
                return
            problem = prompt_logprobs_problem(echo)
            tops = problem or top_logprobs_problem(echo)
            if problem is None and tops is None:
                problem = tops = self._alignment_problem(echo)
            self._found[PROMPT_LOGPROBS.name], self._found[TOP_LOGPROBS.name] = problem, tops
            return
        if capability is CHAT:
            answer = self._ask("/chat/completions", {"messages": [{"role": "user", "content": PROBE_TEXT}]})
            self._found[CHAT.name] = answer if isinstance(answer, str) else chat_problem(answer)
        else:
            answer = self._ask("/completions", {"prompt": PROBE_TEXT})
            self._found[capability.name] = answer if isinstance(answer, str) else completion_problem(answer)

    def _alignment_problem(self, echo: dict[str, Any]) -> str | None:
        """Whether each log-probability belongs to its own token. A second prompt shares the probe's first
        words, then differs: at the first token where the two differ, the distribution that predicts it
        follows the shared prefix alone, so both answers must give it the same most likely token and value.
        A server that scores each token with the distribution after it (off by one position) differs there."""
        other = self._ask("/completions", {"prompt": CONTRAST_TEXT, "max_tokens": 1, "echo": True, "logprobs": 1})
        if isinstance(other, str):
            return other
        first, second = _token_positions(echo), _token_positions(other)
        if first is None or second is None:
            return None
        at = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a[0] != b[0]), None)
        if not at or not first[at][1] or not second[at][1]:
            return None  # no shared prefix to compare after
        (token_a, best_a), (token_b, best_b) = first[at][1], second[at][1]
        if token_a != token_b or abs(best_a - best_b) > ALIGNMENT_TOLERANCE:
            return (
                "its log-probabilities are off by one position: two prompts with the same first "
                f"{at} token(s) get different distributions for the next one ({token_a!r} {best_a:.3f} vs "
                f"{token_b!r} {best_b:.3f}), so each token is scored with the distribution that follows it"
            )
        return None

    def _ask(self, path: str, payload: dict[str, Any]) -> dict[str, Any] | str:
        """The server's answer, or why it refused (its own message)."""
        try:
            return self._post(path, {"model": self._model, "max_tokens": 1, "temperature": 0, **payload})
        except ServerRefused as exc:
            if exc.status in NOT_ABOUT_CAPABILITY:
                raise
            return f"it answered HTTP {exc.status} ({exc.reason or 'no reason given'})"


def _first_choice(answer: Any) -> dict[str, Any] | None:
    choices = answer.get("choices") if isinstance(answer, dict) else None
    return choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None


def completion_problem(answer: Any) -> str | None:
    """Why an answer to a tiny /completions request is not a completion (None when it is)."""
    choice = _first_choice(answer)
    return None if choice and isinstance(choice.get("text"), str) else "its answer holds no choices[0].text"


def chat_problem(answer: Any) -> str | None:
    """Why an answer to a tiny /chat/completions request is not a chat completion (None when it is)."""
    choice = _first_choice(answer)
    message = choice.get("message") if choice else None
    if isinstance(message, dict) and isinstance(message.get("content"), str | None):
        return None
    return "its answer holds no choices[0].message"


def prompt_logprobs_problem(answer: Any) -> str | None:
    """Why an echo + logprobs answer does not score the prompt (None when it does).

    It must echo the prompt, give one offset and one log-probability per token, offsets that start at
    0 and never go back, at least two tokens inside the prompt, and finite log-probabilities <= 0.
    """
    choice = _first_choice(answer)
    if choice is None:
        return "its answer holds no choices"
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict) or not logprobs.get("token_logprobs"):
        return "it answered echo + logprobs without a logprobs field (the request's echo or logprobs was ignored)"
    text = choice.get("text")
    if not isinstance(text, str) or not text.startswith(PROBE_TEXT):
        return "it did not echo the prompt"
    values, offsets = logprobs.get("token_logprobs"), logprobs.get("text_offset")
    if not isinstance(offsets, list) or not isinstance(values, list) or len(offsets) != len(values):
        return "its logprobs give no text_offset for each token"
    if not all(isinstance(o, int) for o in offsets) or offsets[:1] != [0] or offsets != sorted(offsets):
        return "its text_offset does not run from 0 through the prompt"
    inside = [v for v, o in zip(values, offsets, strict=True) if o < len(PROBE_TEXT)]
    scored = [v for v in inside if v is not None]
    if len(inside) < 2 or not scored:
        return "its logprobs do not cover the prompt's tokens"
    if not all(isinstance(v, int | float) and math.isfinite(v) and v <= 1e-6 for v in scored):
        return "its token_logprobs are not finite log-probabilities"
    return None


def _token_positions(answer: Any) -> list[tuple[str, tuple[str, float] | None]] | None:
    """Per echoed token: (token, (most likely token, its log-prob) at that position, or None)."""
    logprobs = (_first_choice(answer) or {}).get("logprobs") or {}
    tokens, tops = logprobs.get("tokens"), logprobs.get("top_logprobs")
    if not isinstance(tokens, list) or not isinstance(tops, list) or len(tokens) != len(tops):
        return None
    positions = []
    for token, top in zip(tokens, tops, strict=True):
        good = isinstance(top, dict) and top and all(isinstance(v, int | float) for v in top.values())
        best = max(top, key=top.get) if good else None
        positions.append((str(token), (best, float(top[best])) if best is not None else None))
    return positions


def top_logprobs_problem(answer: Any) -> str | None:
    """Why an echo + logprobs answer gives no most-likely token per prompt position (None when it does)."""
    choice = _first_choice(answer) or {}
    logprobs = choice.get("logprobs") or {}
    tops = logprobs.get("top_logprobs")
    if not isinstance(tops, list) or not any(isinstance(top, dict) and top for top in tops[1:]):
        return "its logprobs hold no top_logprobs"
    return None
