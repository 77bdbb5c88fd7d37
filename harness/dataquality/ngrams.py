"""Text normalisation and hashed word n-grams, computed for many documents at once with numpy."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"\w+")
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}\\u2010-\\u2027\\u00a1-\\u00bf]")
_MASK64 = (1 << 64) - 1
# Fixed odd multipliers, one per n-gram position: the same text hashes the same in every run.
_MULTIPLIERS = np.random.default_rng(0x5EED).integers(1, 1 << 63, size=64, dtype=np.uint64) * np.uint64(2) + np.uint64(
    1
)


def normalise(text: str) -> str:
    """Unicode-compatibility form, case-folded, whitespace collapsed: the key for exact duplicates."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def words(text: str) -> list[str]:
    """Normalised word tokens (letters and digits), the units of near-duplicate shingles."""
    return _WORD.findall(normalise(text))


def lm_eval_words(text: str) -> list[str]:
    """Tokens after lm-eval's decontamination normalisation: lowercase, punctuation removed, split on spaces."""
    return _PUNCTUATION.sub("", text.lower()).split()


class Vocabulary:
    """Maps tokens to small integers; one vocabulary is shared by every text compared in a run."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def encode(self, tokens: Sequence[str]) -> list[int]:
        ids = self.ids
        return [ids.setdefault(t, len(ids) + 1) for t in tokens]


@dataclass(frozen=True)
class HashedGrams:
    """The n-gram hashes of many documents: `hashes[i]` belongs to document `doc[i]`, starting at `start[i]`."""

    hashes: np.ndarray  # uint64
    doc: np.ndarray  # int64
    start: np.ndarray  # int64 (token position in its document)


def fmix64(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser: spreads the bits of a polynomial hash."""
    h = values.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xC4CEB9FE1A85EC53)
        h ^= h >> np.uint64(33)
    return h


def hashed_ngrams(token_ids: Sequence[Sequence[int]], n: int) -> HashedGrams:
    """Every contiguous n-gram of every document, hashed to 64 bits; documents shorter than n give none."""
    if n > len(_MULTIPLIERS):
        raise ValueError(f"n-grams longer than {len(_MULTIPLIERS)} tokens are not supported")
    lengths = np.fromiter((len(t) for t in token_ids), dtype=np.int64, count=len(token_ids))
    flat = np.fromiter((i for t in token_ids for i in t), dtype=np.uint64, count=int(lengths.sum()))
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    counts = np.maximum(lengths - n + 1, 0)
    total = int(counts.sum())
    doc = np.repeat(np.arange(len(token_ids), dtype=np.int64), counts)
    first = np.repeat(offsets[:-1], counts)
    start = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    positions = first + start
    acc = np.zeros(total, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            acc += flat[positions + j] * _MULTIPLIERS[j]
    return HashedGrams(fmix64(acc), doc, start)
