"""The model protocol every backend implements, and the small records it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class DecodingSettings:
    """How text is generated. Greedy by default so results are reproducible.

    A `temperature` above 0 samples (with nucleus `top_p`); `seed` makes the samples repeatable for the
    same prompts and batch size; `samples` answers per prompt are drawn (harness.scoring.answers), and
    metrics then average over them per item, so paired tests keep the item as their unit. Sampled answers
    are not kept in the response cache unless the run opts in with --cache-sampled.
    """

    max_new_tokens: int = 64
    stop: tuple[str, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    samples: int = 1

    def __post_init__(self) -> None:
        from harness.errors import HarnessError

        if self.max_new_tokens < 1:
            raise HarnessError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if not self.temperature >= 0:
            raise HarnessError(f"temperature must be 0 (greedy) or more, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise HarnessError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 1 <= self.samples <= 1000:
            raise HarnessError(f"samples must be between 1 and 1000, got {self.samples}")
        if self.samples > 1 and not self.sampled:
            raise HarnessError(
                f"samples={self.samples} with greedy decoding would repeat one answer",
                hint="set temperature > 0 to draw several answers per prompt",
            )

    @property
    def sampled(self) -> bool:
        return self.temperature > 0

    def key(self) -> str:
        tail = f"max_new_tokens={self.max_new_tokens}|stop={list(self.stop)!r}"
        if not self.sampled:
            return f"greedy|{tail}"
        samples = f"|samples={self.samples}" if self.samples > 1 else ""
        return f"sample|temperature={self.temperature!r}|top_p={self.top_p!r}|seed={self.seed}{samples}|{tail}"


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
