"""The gate's terminal summary: lines that carry their own severity, so nothing guesses colours from their text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from harness.config import RunFlags
    from harness.session import HarnessSession

Severity = Literal["info", "error", "warning", "success"]
_COLOURS: dict[Severity, dict[str, bool]] = {
    "info": {},
    "error": {"red": True},
    "warning": {"yellow": True},
    "success": {"green": True},
}
GATE_FAILED = "failed the gate"  # the key of failed gated metrics in pytest's closing line
GATE_INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class ReportLine:
    """One line of the terminal summary, with what it says about the run (which picks its colour)."""

    text: str
    severity: Severity = "info"
    bold: bool = False

    def style(self) -> dict[str, bool]:
        """Keyword arguments of pytest's TerminalReporter.write_line."""
        return {**_COLOURS[self.severity], "bold": self.bold}


def verdict_severity(verdict: str) -> Severity:
    """PROMOTE is a success, DO NOT PROMOTE an error, INCONCLUSIVE a warning."""
    from harness.report import DO_NOT_PROMOTE, PROMOTE

    return "success" if verdict == PROMOTE else "error" if verdict == DO_NOT_PROMOTE else "warning"


def headline(verdict: str, stats: Mapping[str, Sequence[Any]], allow_inconclusive: bool) -> str:
    """'verdict: PROMOTE', or the verdict with every reason the run does not exit 0."""
    reasons = []
    if tests := len(stats.get("failed", [])) + len(stats.get("error", [])):
        reasons.append(f"{tests} test(s) failed or errored (must-pass cases, floors, collection)")
    if gated := len(stats.get(GATE_FAILED, [])):
        reasons.append(f"{gated} gated metric(s) failed")
    if undecided := len(stats.get(GATE_INCONCLUSIVE, [])):
        allowed = " (allowed by --allow-inconclusive)" if allow_inconclusive else ""
        reasons.append(f"{undecided} gated metric(s) inconclusive{allowed}")
    return f"verdict: {verdict}" + (f": {'; '.join(reasons)}" if reasons else "")


def summary(harness: HarnessSession, stats: dict[str, list[Any]], flags: RunFlags) -> dict[str, list[ReportLine]]:
    """The controller's closing sections, by title (empty when the run has nothing to say).

    Adds the failed and inconclusive gated metrics to pytest's `stats`, so its closing line counts them too:
    "4 passed, 1 failed the gate, 2 inconclusive in 3.2s".
    """
    from harness.report import DO_NOT_PROMOTE, case_lines, reason_lines, run_reasons, terminal_lines

    sections: dict[str, list[ReportLine]] = {}
    if harness.case_outcomes:
        from harness.cases.summary import summarise

        sections["adversarial and behavioural cases"] = case_lines(summarise(harness.case_outcomes))
    broken = any(p.kind == "collection error" for p in harness.problems)
    calls = harness.model_calls_line()
    if not harness.verdicts and not harness.messages and not broken and not calls:
        return sections
    if failed := [v for v in harness.verdicts if v.failures]:
        stats.setdefault(GATE_FAILED, []).extend(failed)
    if undecided := [v for v in harness.verdicts if v.inconclusive and not v.failures]:
        stats.setdefault(GATE_INCONCLUSIVE, []).extend(undecided)
    lines = terminal_lines(harness.verdicts) if harness.verdicts else []
    if calls:  # the terminal's alone: reports hold what the models said, not timings
        lines.append(ReportLine(calls))
    lines += harness.messages
    if verdict := harness.run_verdict:
        severity = verdict_severity(verdict)
        lines.append(ReportLine(headline(verdict, stats, flags.allow_inconclusive), severity, bold=True))
        unexplained = verdict == DO_NOT_PROMOTE and not harness.errors and not any(v.failures for v in harness.verdicts)
        reasons = run_reasons(harness.verdicts, harness.session_problems(unexplained), harness.errors)
        below = "info" if severity == "success" else severity  # stale references under a PROMOTE stay plain
        lines += [ReportLine(line, below) for line in reason_lines(reasons)]
    sections["promotion gate: tuned vs base and promoted"] = lines
    return sections
