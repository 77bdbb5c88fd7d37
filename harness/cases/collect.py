"""Case files as pytest nodes: a file collector, and one item per case and model role.

Tuned items fail when their case fails (per the case's `gate`); base items never fail the run.
They are the reference the tuned model is compared with: they pass, record their outcome, and
carry it in `user_properties` (and, when the case failed, a report section with the details).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cases.render import failure_block
from harness.cases.run import CaseResult, one_line, run_case
from harness.cases.source import CaseFileError, read_case_file
from harness.cases.spec import Case, build_cases, pass_rate_rules
from harness.errors import HarnessError
from harness.records import BASE, ROLES, CaseOutcome
from harness.session import get_session


class CaseFailed(Exception):
    """A tuned item's case failed; the message is the whole report block."""


def relative_name(path: Path, root: Path) -> str:
    """`path` relative to the rootdir, with forward slashes (the group name of its outcomes)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def case_file_rules(path: Path, root: Path) -> dict[str, float]:
    """The gate rules of a case file's pass rate (its top-level `pass_rate`), read again at the end of a run."""
    raw = read_case_file(path, relative_name(path, root))
    defaults: dict[Any, Any] = {}
    for block in raw.defaults:
        defaults |= block.data if isinstance(block.data, dict) else {}
    return pass_rate_rules(defaults)


def load_cases(path: Path, root: Path | None = None) -> list[Case]:
    """The checked cases of one case file; CaseFileError lists every problem with its line and field."""
    root = root or path.parent
    where = relative_name(path, root)
    cases, problems = build_cases(read_case_file(path, where), path)
    if problems:
        raise CaseFileError(where, problems)
    return cases


class CaseFile(pytest.File):
    """A YAML / JSONL case file: each case becomes `<id>[base]` and `<id>[tuned]`."""

    def collect(self) -> Iterator[pytest.Item]:
        for case in load_cases(self.path, self.config.rootpath):
            for role in ROLES:
                yield CaseItem.from_parent(self, name=f"{case.id}[{role}]", case=case, role=role)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
        """A bad case file shows as its problems (file:line: field: what is wrong), never a traceback.

        Anything else that breaks while reading the file is a harness bug: it shows as one collection
        error naming the file (the traceback with --full-trace).
        """
        if isinstance(excinfo.value, HarnessError):
            return f"invalid case file:\n{excinfo.value}"
        if self.config.getoption("fulltrace", False):
            return super().repr_failure(excinfo)
        where = relative_name(self.path, self.config.rootpath)
        error = f"{type(excinfo.value).__name__}: {one_line(str(excinfo.value))}".rstrip(": ")
        return (
            f"{where}: the harness failed while reading this case file ({error}).\n"
            "  This is a harness bug, not a mistake you can see in the file: please report it with the file"
            " (--full-trace shows the traceback)."
        )


class CaseItem(pytest.Item):
    """One case on one model role."""

    def __init__(self, *, case: Case, role: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.role = role
        self.extra_keyword_matches.update({case.kind, case.category})  # -k INV, -k invented_precedents

    def setup(self) -> None:
        """Load the models here, as a fixture would, so that a case's call time is its model calls only."""
        get_session(self.config).model_pair()

    def runtest(self) -> None:
        harness = get_session(self.config)
        pair = harness.model_pair()
        result = run_case(self.case, pair.by_role(self.role))
        group = relative_name(self.path, self.config.rootpath)
        harness.record_case(
            CaseOutcome(group, self.case.id, self.role, result.passed, self.case.category, result.detail)
        )
        self.user_properties.append(("case_passed", result.passed))
        if result.passed:
            return
        self.user_properties.append(("case_failure", result.detail))
        block = failure_block(self.case, self.role, result, group)
        if self.role == BASE or self.case.gate == "report":
            why = "base: a reference" if self.role == BASE else "gate: report"
            self.add_report_section("call", f"case failure, not gated ({why})", block)
            return
        if self.case.gate == "no_regression":
            on_base: CaseResult = run_case(self.case, pair.base)
            if not on_base.passed:
                why = "fails on base too; gate: no_regression"
                self.add_report_section("call", f"case failure, not gated ({why})", block)
                return
            block += "\n  the base model passes this case (gate: no_regression): a regression"
        raise CaseFailed(block)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """A failed case is its report block; a user error its message; anything else pytest's usual report."""
        if isinstance(excinfo.value, CaseFailed):
            return str(excinfo.value)
        if isinstance(excinfo.value, HarnessError):
            return f"HarnessError: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.case.line - 1, f"{self.case.id}[{self.role}]"


def collect_case_file(file_path: Path, parent: pytest.Collector) -> CaseFile:
    """The collector the plugin returns for a case file inside an `adversarial` directory."""
    return CaseFile.from_parent(parent, path=file_path)
