"""Corpus statistics recomputed from summed per-item sufficient statistics, vectorised over resamples.

A corpus metric (BLEU, chrF, TER, perplexity, F1) is not a mean of per-item scores, so its bootstrap must
resample items and recompute the corpus value. Each item keeps the sufficient statistics the library itself
aggregates (sacrebleu's n-gram counts and lengths, log-likelihood and token counts, the true and predicted
class); `statistic_from_spec` turns a JSON-safe recipe into (additive, finish): `additive` maps stored
per-item rows to additive columns, `finish` maps their column sums, one row per resample, to metric values.
The formulas follow sacrebleu's `_compute_score_from_stats` and scikit-learn's averaging exactly; the tests
check them against those libraries. Scales: BLEU, chrF and TER are fractions (sacrebleu's score / 100).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from harness.errors import HarnessError

Additive = Callable[[np.ndarray], np.ndarray]
Finish = Callable[[np.ndarray], np.ndarray]

_SACREBLEU_LOG_ZERO = -9999999999.0  # sacrebleu.utils.my_log(0)
_SACREBLEU_SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}


def _identity(rows: np.ndarray) -> np.ndarray:
    return rows


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def bleu_finish(max_ngram_order: int = 4, smooth_method: str = "exp", smooth_value: float | None = None) -> Finish:
    """Corpus BLEU (fraction) from summed [sys_len, ref_len, correct_1..N, total_1..N] (no effective order)."""
    if smooth_method not in _SACREBLEU_SMOOTH_DEFAULTS:
        raise HarnessError(
            f"unknown BLEU smooth_method {smooth_method!r}; use one of {sorted(_SACREBLEU_SMOOTH_DEFAULTS)}"
        )
    order = max_ngram_order
    value = _SACREBLEU_SMOOTH_DEFAULTS[smooth_method] if smooth_value is None else smooth_value

    def finish(sums: np.ndarray) -> np.ndarray:
        sys_len, ref_len = sums[:, 0], sums[:, 1]
        correct = sums[:, 2 : 2 + order].astype(np.float64)
        total = sums[:, 2 + order : 2 + 2 * order].astype(np.float64)
        any_correct = np.any(correct != 0, axis=1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            penalty = np.where(
                sys_len < ref_len,
                np.where(sys_len > 0, np.exp(1 - ref_len / np.where(sys_len > 0, sys_len, 1)), 0.0),
                1.0,
            )
            if smooth_method == "add-k":
                correct[:, 1:] += value
                total[:, 1:] += value
            valid = np.cumprod(total != 0, axis=1).astype(bool)  # sacrebleu stops at the first empty order
            safe_total = np.where(valid, total, 1.0)
            zero = (correct == 0) & valid
            precision = 100.0 * correct / safe_total
            if smooth_method == "exp":
                precision = np.where(zero, 100.0 / (2.0 ** np.cumsum(zero, axis=1) * safe_total), precision)
            elif smooth_method == "floor":
                precision = np.where(zero, 100.0 * value / safe_total, precision)
            else:
                precision = np.where(zero, 0.0, precision)
            precision = np.where(valid, precision, 0.0)
            logs = np.where(precision > 0, np.log(np.where(precision > 0, precision, 1.0)), _SACREBLEU_LOG_ZERO)
            score = penalty * np.exp(logs.sum(axis=1) / order)
        return np.where(any_correct, score, 0.0) / 100.0

    return finish


def chrf_finish(char_order: int = 6, word_order: int = 0, beta: int = 2, eps_smoothing: bool = False) -> Finish:
    """Corpus chrF (fraction) from summed [hyp, ref, match] counts per n-gram order."""
    order = char_order + word_order
    factor = beta**2
    eps = 1e-16

    def finish(sums: np.ndarray) -> np.ndarray:
        triples = sums[:, : 3 * order].reshape(len(sums), order, 3)
        n_hyp, n_ref, n_match = triples[..., 0], triples[..., 1], triples[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(n_hyp > 0, n_match / np.where(n_hyp > 0, n_hyp, 1), eps)
            recall = np.where(n_ref > 0, n_match / np.where(n_ref > 0, n_ref, 1), eps)
            if eps_smoothing:
                denom = factor * precision + recall
                per_order = np.where(denom > 0, (1 + factor) * precision * recall / np.where(denom > 0, denom, 1), eps)
                return per_order.sum(axis=1) / order
            effective = (n_hyp > 0) & (n_ref > 0)
            count = effective.sum(axis=1)
            avg_p = _ratio(np.where(effective, precision, 0.0).sum(axis=1), count)
            avg_r = _ratio(np.where(effective, recall, 0.0).sum(axis=1), count)
            denom = factor * avg_p + avg_r
            return np.where(avg_p + avg_r > 0, (1 + factor) * avg_p * avg_r / np.where(denom > 0, denom, 1), 0.0)

    return finish


def ter_finish(sums: np.ndarray) -> np.ndarray:
    """Corpus TER (fraction) from summed [edits, reference length]; sacrebleu's rules for empty references."""
    edits, ref_len = sums[:, 0], sums[:, 1]
    return np.where(ref_len > 0, _ratio(edits, ref_len), np.where(edits > 0, 1.0, 0.0))


def perplexity_finish(sums: np.ndarray) -> np.ndarray:
    """Token perplexity exp(-sum log-likelihood / sum tokens) from summed [logprob, n_tokens]."""
    return np.exp(-_ratio(sums[:, 0], sums[:, 1]))


def classification_additive(n_labels: int) -> Additive:
    """Per-item [true index, predicted index] -> one-hot [tp (C), fp (C), fn (C)] columns."""

    def additive(rows: np.ndarray) -> np.ndarray:
        true, pred = rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)
        eye = np.eye(n_labels)
        hit = (true == pred)[:, None]
        return np.hstack([eye[true] * hit, eye[pred] * ~hit, eye[true] * ~hit])

    return additive


def classification_finish(n_labels: int, metric: str, average: str) -> Finish:
    """Precision, recall or F1 from summed per-class counts, averaged like scikit-learn (zero_division=0)."""
    if metric not in ("precision", "recall", "f1") or average not in ("macro", "micro", "weighted"):
        raise HarnessError(f"unsupported classification statistic {metric!r} with average={average!r}")

    def per_class(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
        if metric == "precision":
            return _ratio(tp, tp + fp)
        if metric == "recall":
            return _ratio(tp, tp + fn)
        p, r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        return _ratio(2 * p * r, p + r)

    def finish(sums: np.ndarray) -> np.ndarray:
        tp, fp, fn = sums[:, :n_labels], sums[:, n_labels : 2 * n_labels], sums[:, 2 * n_labels : 3 * n_labels]
        if average == "micro":
            return per_class(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1))
        scores = per_class(tp, fp, fn)
        if average == "weighted":
            support = tp + fn
            return _ratio((scores * support).sum(axis=1), support.sum(axis=1))
        present = (tp + fp + fn) > 0  # scikit-learn averages over labels seen in y_true or y_pred
        return _ratio(np.where(present, scores, 0.0).sum(axis=1), present.sum(axis=1))

    return finish


def statistic_from_spec(spec: Mapping[str, Any]) -> tuple[Additive, Finish]:
    """(additive, finish) for the recipe of a CorpusStats (harness.metrics.result)."""
    kind = spec.get("kind")
    if kind == "bleu":
        return _identity, bleu_finish(int(spec["max_ngram_order"]), spec["smooth_method"], spec.get("smooth_value"))
    if kind == "chrf":
        finish = chrf_finish(
            int(spec["char_order"]), int(spec["word_order"]), int(spec["beta"]), bool(spec["eps_smoothing"])
        )
        return _identity, finish
    if kind == "ter":
        return _identity, ter_finish
    if kind == "perplexity":
        return _identity, perplexity_finish
    if kind == "classification":
        n_labels = int(spec["n_labels"])
        return classification_additive(n_labels), classification_finish(n_labels, spec["metric"], spec["average"])
    raise HarnessError(f"unknown corpus statistic {kind!r} in a metric result's details")
