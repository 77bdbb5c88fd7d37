"""Exact duplicates (hash of normalised text) and near duplicates (MinHash LSH over word or character shingles)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.dataquality.findings import Finding
from harness.dataquality.ngrams import Vocabulary, hashed_ngrams, normalise, words
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec, DuplicateRule

_MASK32 = np.uint64(0xFFFFFFFF)
_MAX_BUCKET_PAIRS = 64  # larger LSH buckets are compared against their first member only, keeping the work linear


def exact_key(text: str) -> str:
    """The duplicate key of a text: the same for texts that differ only in case, whitespace or Unicode form."""
    return hashlib.blake2b(normalise(text).encode("utf-8"), digest_size=16).hexdigest()


def exact_groups(texts: Sequence[str]) -> list[list[int]]:
    """Indices of texts with the same normalised content, each group in order, groups by first index."""
    groups: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        groups.setdefault(exact_key(text), []).append(index)
    return [g for g in groups.values() if len(g) > 1]


@dataclass(frozen=True)
class Shingles:
    """Per-document sorted unique shingle hashes (32-bit), stored flat with offsets."""

    values: np.ndarray  # uint32, concatenated per document
    offsets: np.ndarray  # int64, len = n_docs + 1

    def of(self, doc: int) -> np.ndarray:
        return self.values[self.offsets[doc] : self.offsets[doc + 1]]


def shingle(texts: Sequence[str], rule: DuplicateRule) -> Shingles:
    """Word n-gram shingles; texts under `short_text_words` words get character n-grams instead."""
    vocab = Vocabulary()
    tokens = [words(t) for t in texts]
    short = [len(t) < max(rule.short_text_words, rule.shingle_words) for t in tokens]
    ids = [[] if is_short else vocab.encode(t) for t, is_short in zip(tokens, short, strict=True)]
    grams = hashed_ngrams(ids, rule.shingle_words)
    char_ids = [
        vocab.encode(["\0" + s[i : i + rule.char_ngram] for i in range(max(len(s) - rule.char_ngram + 1, 1))])
        if is_short
        else []
        for s, is_short in zip((" ".join(t) for t in tokens), short, strict=True)
    ]
    chars = hashed_ngrams(char_ids, 1)
    hashes = np.concatenate([grams.hashes, chars.hashes])
    docs = np.concatenate([grams.doc, chars.doc])
    folded = ((hashes >> np.uint64(32)) ^ (hashes & _MASK32)).astype(np.uint32)
    order = np.lexsort((folded, docs))
    docs, folded = docs[order], folded[order]
    keep = np.ones(len(folded), dtype=bool)
    keep[1:] = (docs[1:] != docs[:-1]) | (folded[1:] != folded[:-1])
    docs, folded = docs[keep], folded[keep]
    offsets = np.searchsorted(docs, np.arange(len(texts) + 1)).astype(np.int64)
    return Shingles(folded, offsets)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, as datasketch applies it before its affine permutations."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint32(16))
        h = h * np.uint32(0x85EBCA6B)
        h = h ^ (h >> np.uint32(13))
        h = h * np.uint32(0xC2B2AE35)
        return h ^ (h >> np.uint32(16))


def signatures(shingles: Shingles, num_perm: int, seed: int = 1, chunk: int = 1 << 16) -> np.ndarray:
    """MinHash signatures of every document (n_docs x num_perm, uint32), equal to datasketch's affine32 scheme."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    a, b = a.astype(np.uint32), b.astype(np.uint32)
    n_docs = len(shingles.offsets) - 1
    out = np.full((n_docs, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    mixed = _fmix32(shingles.values)
    lengths = np.diff(shingles.offsets)
    doc_of = np.repeat(np.arange(n_docs), lengths)
    with np.errstate(over="ignore"):
        for lo in range(0, len(mixed), chunk):
            hi = min(lo + chunk, len(mixed))
            permuted = mixed[lo:hi, None] * a[None, :] + b[None, :]
            docs = doc_of[lo:hi]
            starts = np.flatnonzero(np.r_[True, docs[1:] != docs[:-1]])
            rows = docs[starts]  # documents are contiguous, so each appears once per chunk
            out[rows] = np.minimum(out[rows], np.minimum.reduceat(permuted, starts, axis=0))
    return out


def jaccard(x: np.ndarray, y: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique arrays."""
    if len(x) == 0 and len(y) == 0:
        return 1.0
    shared = len(np.intersect1d(x, y, assume_unique=True))
    return shared / (len(x) + len(y) - shared)


def near_duplicate_pairs(
    texts: Sequence[str], rule: DuplicateRule, candidates: Sequence[int] | None = None, progress: bool = False
) -> list[tuple[int, int, float]]:
    """Pairs (i < j) whose shingle sets have Jaccard >= threshold, found with datasketch's MinHash LSH."""
    from datasketch import LeanMinHash, MinHashLSH
    from tqdm import tqdm

    members = list(range(len(texts))) if candidates is None else list(candidates)
    if len(members) < 2:
        return []
    shingles = shingle([texts[i] for i in members], rule)
    sigs = signatures(shingles, rule.num_perm)
    lsh = MinHashLSH(threshold=rule.near_threshold, num_perm=rule.num_perm)
    with lsh.insertion_session() as session:
        for local, sig in enumerate(tqdm(sigs, desc="near duplicates: LSH", disable=not progress, leave=False)):
            if shingles.offsets[local + 1] > shingles.offsets[local]:
                session.insert(local, LeanMinHash(seed=1, hashvalues=sig, scheme="affine32"), check_duplication=False)
    checked: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int, float]] = []
    for table in lsh.hashtables:
        for bucket_key in table.keys():
            bucket = sorted(table.get(bucket_key))
            if len(bucket) < 2:
                continue
            if len(bucket) * (len(bucket) - 1) // 2 <= _MAX_BUCKET_PAIRS:
                candidates_here = [(x, y) for k, x in enumerate(bucket) for y in bucket[k + 1 :]]
            else:
                candidates_here = [(bucket[0], y) for y in bucket[1:]]
            for x, y in candidates_here:
                if (x, y) in checked:
                    continue
                checked.add((x, y))
                score = jaccard(shingles.of(x), shingles.of(y))
                if score >= rule.near_threshold:
                    pairs.append((members[x], members[y], score))
    return sorted(pairs)


def check_duplicates(records: Sequence[TrainingRecord], spec: DataSpec, progress: bool = False) -> list[Finding]:
    """An error for each exact copy and each near copy, pointing at the record it repeats."""
    texts = [r.text for r in records]
    findings: list[Finding] = []
    repeated: set[int] = set()
    for group in exact_groups(texts):
        first = records[group[0]]
        for index in group[1:]:
            repeated.add(index)
            r = records[index]
            findings.append(
                Finding(
                    "exact_duplicate",
                    spec.severity["exact_duplicate"],
                    f"same text (after normalising case and whitespace) as {first.where}",
                    "remove the copy; duplicates over-weight one example",
                    r.file,
                    r.line,
                    r.id,
                    related=(first.where,),
                )
            )
    unique = [i for i in range(len(records)) if i not in repeated]
    for i, j, score in near_duplicate_pairs(texts, spec.duplicates, unique, progress):
        first, r = records[i], records[j]
        findings.append(
            Finding(
                "near_duplicate",
                spec.severity["near_duplicate"],
                f"near duplicate of {first.where} (Jaccard {score:.2f} >= {spec.duplicates.near_threshold:.2f})",
                "keep one of them, or rewrite one so it teaches something new",
                r.file,
                r.line,
                r.id,
                related=(first.where,),
                details={"jaccard": round(score, 4)},
            )
        )
    return findings
