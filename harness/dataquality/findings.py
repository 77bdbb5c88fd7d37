"""What a lint rule reports: one finding per problem, naming the record, the rule and the fix."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ERROR, WARNING, NOTE, OFF = "error", "warning", "note", "off"
SEVERITIES = (ERROR, WARNING, NOTE)  # a rule at severity OFF is not reported


@dataclass(frozen=True)
class Finding:
    """One problem: which rule, how bad, where (file:line and record id), what is wrong and how to fix it."""

    rule: str
    severity: str
    message: str
    fix: str
    file: str | None = None
    line: int | None = None
    record_id: str | None = None
    related: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """`file:line (id X)`, or the file alone, or `dataset` for findings about the whole set."""
        if self.file is None:
            return "dataset"
        place = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{place} (id {self.record_id})" if self.record_id is not None else place

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "id": self.record_id,
            "message": self.message,
            "fix": self.fix,
            "related": list(self.related),
            "details": self.details,
        }


@dataclass
class LintReport:
    """Every finding of one lint run, with the number of records and the seconds each stage took."""

    spec_path: str
    data_paths: list[str]
    n_records: int
    findings: list[Finding]
    timings: dict[str, float] = field(default_factory=dict)
    eval_sets: list[str] = field(default_factory=list)
    contamination: dict[str, Any] = field(default_factory=dict)  # n-gram size, eval items checked, boilerplate

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def passed(self) -> bool:
        """True when there are no errors (warnings and notes do not fail the data)."""
        return self.count(ERROR) == 0

    def by_rule(self, *rules: str, severity: str | None = None) -> list[Finding]:
        """Findings of the given rules (all rules when none are named), optionally of one severity."""
        return [
            f for f in self.findings if (not rules or f.rule in rules) and (severity is None or f.severity == severity)
        ]

    def rule_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, Counter[str]] = {}
        for f in self.findings:
            counts.setdefault(f.rule, Counter())[f.severity] += 1
        return {rule: dict(sorted(c.items())) for rule, c in sorted(counts.items())}
