"""The items that flipped between base and tuned, per metric, with their texts and a word-level diff.

For a pass/fail metric (every per-item score 0 or 1) an item flipped when it passed on one model only:
`regressed` (pass on base, fail on tuned) or `improved`. For a graded metric (ROUGE, log-likelihood) the
items whose score moved most each way are listed (MAX_GRADED per direction), since every item moves a little.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

REGRESSED, IMPROVED = "regressed", "improved"
MAX_FLIPS = 500  # per metric and direction, so that a run where everything flipped still makes a small page
MAX_GRADED = 20  # graded metrics: the largest moves each way
_TOKENS = re.compile(r"\s+|[^\s]+")


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, text) runs turning `before` into `after` word by word: kind is same, del or ins."""
    a, b = _TOKENS.findall(before), _TOKENS.findall(after)
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("del", "".join(a[i1:i2])))
        if j2 > j1:
            runs.append(("ins", "".join(b[j1:j2])))
    return runs


def _is_binary(*scores: Mapping[str, float]) -> bool:
    return all(v in (0.0, 1.0) for s in scores for v in s.values())


def _worse(tuned: float, base: float, higher_is_better: bool) -> float:
    return base - tuned if higher_is_better else tuned - base


def _case_context(document: Mapping[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """case file -> case id -> an item-like context (input, outcomes as answers)."""
    context: dict[str, dict[str, dict[str, Any]]] = {}
    for case_file in document.get("cases", []):
        entries = context.setdefault(case_file["group"], {})
        for case in case_file["cases"]:
            answers = {
                role: "passed" if outcome["passed"] else f"failed: {outcome['detail']}"
                for role, outcome in case["outcomes"].items()
            }
            entries[case["id"]] = {
                "prompt": case["input"],
                "reference": "",
                "category": case["category"],
                "choices": [],
                "answers": answers,
            }
    return context


def flipped_items(document: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """Every flipped item of every metric measured on both models, and notes on what was cut."""
    items = document.get("items", {})
    cases = _case_context(document)
    flips: list[dict[str, Any]] = []
    notes: list[str] = []
    for metric in document.get("metrics", []):
        base, tuned = metric.get("base"), metric.get("tuned")
        if not base or not tuned:
            continue
        source = metric.get("source", {})
        data_path = source.get("data_path", "")
        context = cases.get(metric["suite"]) if source.get("test") == "cases" else items.get(data_path, {})
        context = context or {}
        b, t = base.get("per_item", {}), tuned.get("per_item", {})
        shared = sorted(set(b) & set(t))
        higher = bool(tuned.get("higher_is_better", True))
        binary = _is_binary(b, t)
        moves = [(item, _worse(t[item], b[item], higher)) for item in shared if t[item] != b[item]]
        for direction, chosen in (
            (REGRESSED, [m for m in moves if m[1] > 0]),
            (IMPROVED, [m for m in moves if m[1] < 0]),
        ):
            chosen.sort(key=lambda m: (-abs(m[1]), m[0]))
            limit = MAX_FLIPS if binary else MAX_GRADED
            if len(chosen) > limit:
                notes.append(
                    f"{metric['metric']} ({metric['suite']}): {len(chosen)} items {direction}, the "
                    f"{limit} {'first' if binary else 'largest moves'} shown"
                )
            for item_id, _ in chosen[:limit]:
                flips.append(_flip(metric, data_path, item_id, direction, b[item_id], t[item_id], context, binary))
    return flips, notes


def _flip(
    metric: Mapping[str, Any],
    data_path: str,
    item_id: str,
    direction: str,
    base_score: float,
    tuned_score: float,
    context: Mapping[str, Mapping[str, Any]],
    binary: bool,
) -> dict[str, Any]:
    entry = context.get(item_id, {})
    answers = entry.get("answers", {})
    base_answer, tuned_answer = answers.get("base", ""), answers.get("tuned", "")
    is_case = metric.get("source", {}).get("test") == "cases"  # its "answers" are outcomes: no diff to read
    return {
        "suite": metric["suite"],
        "metric": metric["metric"],
        "eval_set": data_path or metric["suite"],
        "item_id": item_id,
        "direction": direction,
        "graded": not binary,
        "category": entry.get("category", ""),
        "base_score": base_score,
        "tuned_score": tuned_score,
        "prompt": entry.get("prompt", ""),
        "reference": entry.get("reference", ""),
        "choices": entry.get("choices", []),
        "base_answer": base_answer,
        "tuned_answer": tuned_answer,
        "diff": word_diff(base_answer, tuned_answer) if (base_answer or tuned_answer) and not is_case else [],
    }


def facets(flips: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The values each filter offers: suite, eval set, category, direction, metric."""
    keys = {
        "suite": "suite",
        "eval_set": "eval_set",
        "category": "category",
        "direction": "direction",
        "metric": "metric",
    }
    return {name: sorted({str(f[key]) for f in flips if f[key]}) for name, key in keys.items()}
