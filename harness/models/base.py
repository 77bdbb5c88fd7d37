"""The model protocol every backend implements, and the small records it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class DecodingSettings:
    """How text is generated. Greedy by default so results are reproducible."""

    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()

    def key(self) -> str:
        return f"greedy|max_new_tokens={self.max_new_tokens}|stop={list(self.stop)!r}"


@dataclass(frozen=True)
class Generation:
    """One generated completion (stop strings already cut off)."""

    text: str
    n_tokens: int
    seconds: float
    prompt_truncated: bool = False


@dataclass(frozen=True)
class Loglikelihood:
    """Log-probability of a continuation given a context, and whether greedy decoding would produce it."""

    logprob: float
    is_greedy: bool
    n_tokens: int


@dataclass(frozen=True)
class RollingLoglikelihood:
    """Total log-likelihood of a whole text, scored in rolling windows, with its token count."""

    logprob: float
    n_tokens: int


@runtime_checkable
class Model(Protocol):
    """A model under evaluation. `role` is "base" or "tuned"; `fingerprint` identifies weights + tokenizer."""

    role: str
    name: str
    fingerprint: str

    def generate(self, prompts: Sequence[str], settings: DecodingSettings = ...) -> list[Generation]: ...

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]: ...

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[RollingLoglikelihood]: ...


@dataclass
class ModelPair:
    """The base model and its fine-tune, loaded once per process."""

    base: Model
    tuned: Model
    shares_weights: bool = False
    notes: list[str] = field(default_factory=list)

    def by_role(self, role: str) -> Model:
        return {"base": self.base, "tuned": self.tuned}[role]
