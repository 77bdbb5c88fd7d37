"""Per-group pass rates of case outcomes, and which cases regressed or were fixed by the fine-tune."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.records import BASE, TUNED, CaseOutcome


@dataclass(frozen=True)
class GroupSummary:
    """One case file (or category): how many cases, each role's pass rate, and what changed between them."""

    group: str
    n: int  # distinct cases with an outcome on either role
    base_pass_rate: float | None  # None when no base outcome was recorded
    tuned_pass_rate: float | None
    regressed: list[str] = field(default_factory=list)  # passed on base, failed on tuned (sorted)
    fixed: list[str] = field(default_factory=list)  # failed on base, passed on tuned (sorted)


def _rate(results: dict[str, bool]) -> float | None:
    return sum(results.values()) / len(results) if results else None


def summarise(outcomes: Sequence[CaseOutcome], *, by: str = "group") -> list[GroupSummary]:
    """Summaries sorted by group (`by="group"`, the case file) or by `by="category"`.

    A case that was recorded more than once on a role (a rerun) passes on it only if every run passed.
    """
    if by not in ("group", "category"):
        raise ValueError(f"by must be 'group' or 'category', not {by!r}")
    passed: dict[str, dict[str, dict[str, bool]]] = {}
    for outcome in outcomes:
        name = outcome.group if by == "group" else outcome.category
        roles = passed.setdefault(name, {BASE: {}, TUNED: {}})
        if outcome.role not in roles:
            continue
        # Cases are keyed by file + id, so equal ids in two files of one category stay apart.
        key = outcome.case_id if by == "group" else f"{outcome.group}::{outcome.case_id}"
        roles[outcome.role][key] = roles[outcome.role].get(key, True) and outcome.passed
    summaries = []
    for name in sorted(passed):
        base, tuned = passed[name][BASE], passed[name][TUNED]
        both = base.keys() & tuned.keys()
        summaries.append(
            GroupSummary(
                group=name,
                n=len(base.keys() | tuned.keys()),
                base_pass_rate=_rate(base),
                tuned_pass_rate=_rate(tuned),
                regressed=sorted(k for k in both if base[k] and not tuned[k]),
                fixed=sorted(k for k in both if not base[k] and tuned[k]),
            )
        )
    return summaries
