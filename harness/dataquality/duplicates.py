"""Exact duplicates (hash of normalised text) and near duplicates (MinHash LSH over word or character shingles).

Whether two records are reported as near copies depends on those two records alone: shingles are hashed from
their strings (SHA-1, as datasketch's MinHash.update does), LSH proposes every pair that shares a band, and
each proposed pair is verified with the exact Jaccard similarity of its shingle sets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.dataquality.findings import Finding
from harness.dataquality.ngrams import normalise, words
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec, DuplicateRule

_PAIR_CHUNK = 1 << 17  # candidate pairs whose signatures are compared at once


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


def shingle_strings(text: str, rule: DuplicateRule) -> set[str]:
    """Word n-grams of a text; texts under `short_text_words` words give character n-grams (marked by a NUL)."""
    tokens = words(text)
    if not tokens:
        return set()
    if len(tokens) < max(rule.short_text_words, rule.shingle_words):
        joined, n = " ".join(tokens), rule.char_ngram
        return {"\0" + joined[i : i + n] for i in range(max(len(joined) - n + 1, 1))}
    n = rule.shingle_words
    return {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def shingle_hash(shingle: str) -> int:
    """datasketch's default 32-bit shingle hash (the first 4 bytes of SHA-1, little-endian) of the UTF-8 text."""
    return int.from_bytes(hashlib.sha1(shingle.encode("utf-8")).digest()[:4], "little")


def shingle(texts: Sequence[str], rule: DuplicateRule, progress: bool = False) -> Shingles:
    """The shingle hashes of every text (`shingle_hash` of each shingle string); they depend on that text only."""
    from tqdm import tqdm

    sha1 = hashlib.sha1
    digests: list[bytes] = []
    counts = np.zeros(len(texts), dtype=np.int64)
    for doc, text in enumerate(
        tqdm(texts, desc="near duplicates: shingles", unit="rec", disable=not progress, leave=False)
    ):
        grams = shingle_strings(text, rule)
        counts[doc] = len(grams)
        digests.extend(sha1(g.encode("utf-8")).digest()[:4] for g in grams)
    hashes = np.frombuffer(b"".join(digests), dtype="<u4").astype(np.uint32)
    docs = np.repeat(np.arange(len(texts), dtype=np.int64), counts)
    order = np.lexsort((hashes, docs))
    docs, hashes = docs[order], hashes[order]
    keep = np.ones(len(hashes), dtype=bool)
    keep[1:] = (docs[1:] != docs[:-1]) | (hashes[1:] != hashes[:-1])
    docs, hashes = docs[keep], hashes[keep]
    offsets = np.searchsorted(docs, np.arange(len(texts) + 1)).astype(np.int64)
    return Shingles(hashes, offsets)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, as datasketch applies it before its affine permutations."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint32(16))
        h = h * np.uint32(0x85EBCA6B)
        h = h ^ (h >> np.uint32(13))
        h = h * np.uint32(0xC2B2AE35)
        return h ^ (h >> np.uint32(16))


def signatures(
    shingles: Shingles, num_perm: int, seed: int = 1, chunk: int = 1 << 16, progress: bool = False
) -> np.ndarray:
    """MinHash signatures of every document (n_docs x num_perm, uint32), equal to datasketch's affine32 scheme."""
    from datasketch import MinHash
    from tqdm import tqdm

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    a, b = a.astype(np.uint32), b.astype(np.uint32)
    n_docs = len(shingles.offsets) - 1
    out = np.full((n_docs, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    mixed = _fmix32(shingles.values)
    lengths = np.diff(shingles.offsets)
    doc_of = np.repeat(np.arange(n_docs), lengths)
    steps = range(0, len(mixed), chunk)
    with np.errstate(over="ignore"):
        for lo in tqdm(steps, desc="near duplicates: MinHash", unit="chunk", disable=not progress, leave=False):
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


def lsh_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's (bands, rows per band) for a candidate threshold, balancing missed and spurious pairs."""
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    return lsh.b, lsh.r


def _estimated(sigs: np.ndarray, left: np.ndarray, right: np.ndarray, minimum: float) -> np.ndarray:
    """Pair codes (left * n + right) of the pairs whose MinHash estimate of Jaccard is at least `minimum`."""
    kept = []
    for lo in range(0, len(left), _PAIR_CHUNK):
        a, b = left[lo : lo + _PAIR_CHUNK], right[lo : lo + _PAIR_CHUNK]
        estimate = (sigs[a] == sigs[b]).mean(axis=1)
        kept.append((a * len(sigs) + b)[estimate >= minimum])
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)


def candidate_pairs(
    sigs: np.ndarray, usable: np.ndarray, bands: int, rows: int, minimum: float, progress: bool = False
) -> np.ndarray:
    """Pairs (i < j) of usable documents whose signatures agree on all rows of at least one band and whose
    MinHash estimate of Jaccard is at least `minimum`.

    Pairs are estimated bucket by bucket, so memory holds the pairs kept, not every pair of a large bucket; a
    bucket of k records still costs k^2/2 comparisons (a set made of one template with thousands of records).
    """
    from tqdm import tqdm

    index = np.flatnonzero(usable)
    found: list[np.ndarray] = []
    for band in tqdm(range(bands), desc="near duplicates: LSH", unit="band", disable=not progress, leave=False):
        keys = np.ascontiguousarray(sigs[index, band * rows : (band + 1) * rows]).view(np.dtype((np.void, 4 * rows)))
        _, inverse, counts = np.unique(keys.ravel(), return_inverse=True, return_counts=True)
        shared = counts[inverse] > 1
        members, groups = index[shared], inverse[shared]
        order = np.argsort(groups, kind="stable")  # members stay ascending within a bucket
        members, groups, sizes = members[order], groups[order], counts[groups[order]]
        twos = sizes == 2  # most buckets hold one pair: estimate them all at once
        found.append(_estimated(sigs, members[twos][0::2], members[twos][1::2], minimum))
        larger, larger_groups = members[~twos], groups[~twos]
        bounds = np.flatnonzero(np.r_[True, larger_groups[1:] != larger_groups[:-1], True])
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            bucket = larger[lo:hi]
            for k in range(len(bucket) - 1):
                rest = bucket[k + 1 :]
                found.append(_estimated(sigs, np.full(len(rest), bucket[k]), rest, minimum))
    codes = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
    return np.stack([codes // len(sigs), codes % len(sigs)], axis=1)


def near_duplicate_pairs(
    texts: Sequence[str], rule: DuplicateRule, candidates: Sequence[int] | None = None, progress: bool = False
) -> list[tuple[int, int, float]]:
    """Pairs (i < j) whose shingle sets have Jaccard >= near_threshold.

    LSH proposes pairs at `candidate_threshold`; a pair whose MinHash estimate is under it is dropped, and the
    rest are verified exactly. Each step looks at the two records of a pair only.
    """
    members = np.asarray(list(range(len(texts))) if candidates is None else list(candidates), dtype=np.int64)
    if len(members) < 2:
        return []
    shingles = shingle([texts[i] for i in members], rule, progress)
    sigs = signatures(shingles, rule.num_perm, progress=progress)
    proposal = min(rule.candidate_threshold, rule.near_threshold)
    bands, rows = lsh_bands(proposal, rule.num_perm)
    likely = candidate_pairs(sigs, np.diff(shingles.offsets) > 0, bands, rows, proposal, progress)
    scores = exact_jaccard(shingles, likely, progress)
    keep = scores >= rule.near_threshold
    return sorted(
        (int(members[x]), int(members[y]), float(score))
        for (x, y), score in zip(likely[keep].tolist(), scores[keep].tolist(), strict=True)
    )


def exact_jaccard(shingles: Shingles, pairs: np.ndarray, progress: bool = False) -> np.ndarray:
    """The exact Jaccard similarity of each pair's shingle sets, by sparse row products, in chunks."""
    from scipy.sparse import csr_matrix
    from tqdm import tqdm

    if len(pairs) == 0:
        return np.zeros(0)
    _, columns = np.unique(shingles.values, return_inverse=True)
    n_docs = len(shingles.offsets) - 1
    matrix = csr_matrix(
        (np.ones(len(columns), dtype=np.int32), columns.ravel(), shingles.offsets), shape=(n_docs, columns.max() + 1)
    )
    sizes = np.diff(shingles.offsets)
    out = np.empty(len(pairs))
    steps = range(0, len(pairs), _PAIR_CHUNK)
    for lo in tqdm(steps, desc="near duplicates: verify", unit="chunk", disable=not progress, leave=False):
        a, b = pairs[lo : lo + _PAIR_CHUNK, 0], pairs[lo : lo + _PAIR_CHUNK, 1]
        shared = np.asarray(matrix[a].multiply(matrix[b]).sum(axis=1)).ravel()
        out[lo : lo + len(a)] = shared / (sizes[a] + sizes[b] - shared)
    return out


def clusters(pairs: Sequence[tuple[int, int, float]], n: int) -> list[list[int]]:
    """Groups of records linked by near-duplicate pairs (connected components), each sorted, by first member."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if not pairs:
        return []
    left, right = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    graph = coo_matrix((np.ones(len(pairs)), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    linked = np.unique(np.concatenate([left, right]))
    groups: dict[int, list[int]] = {}
    for node in linked.tolist():
        groups.setdefault(int(labels[node]), []).append(node)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


def _exact_findings(records: Sequence[TrainingRecord], spec: DataSpec, groups: list[list[int]]) -> list[Finding]:
    findings = []
    for group in groups:
        first = records[group[0]]
        for index in group[1:]:
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
    return findings


def check_duplicates(records: Sequence[TrainingRecord], spec: DataSpec, progress: bool = False) -> list[Finding]:
    """An error for each exact copy, and one for each group of near copies, on the group's first record."""
    texts = [r.text for r in records]
    groups = exact_groups(texts)
    findings = _exact_findings(records, spec, groups)
    repeated = {index for group in groups for index in group[1:]}
    unique = [i for i in range(len(records)) if i not in repeated]
    rule = spec.duplicates
    pairs = near_duplicate_pairs(texts, rule, unique, progress)
    scores: dict[int, list[float]] = {}
    for i, j, score in pairs:
        scores.setdefault(i, []).append(score)
        scores.setdefault(j, []).append(score)
    for group in clusters(pairs, len(records)):
        first, copies = records[group[0]], [records[i] for i in group[1:]]
        low = min(s for i in group for s in scores[i])
        high = max(s for i in group for s in scores[i])
        shown = ", ".join(c.where for c in copies[:5]) + (f" and {len(copies) - 5} more" if len(copies) > 5 else "")
        noun = "near copy" if len(copies) == 1 else "near copies"
        span = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}-{high:.2f}"
        findings.append(
            Finding(
                "near_duplicate",
                spec.severity["near_duplicate"],
                f"has {len(copies)} {noun} (Jaccard {span} >= {rule.near_threshold:.2f}): {shown}",
                "keep one of each group, or rewrite the others so they teach something new",
                first.file,
                first.line,
                first.id,
                related=tuple(c.where for c in copies),
                details={"copies": len(copies), "jaccard_min": round(low, 4), "jaccard_max": round(high, 4)},
            )
        )
    return findings
