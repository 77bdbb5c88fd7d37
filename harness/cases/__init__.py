"""Adversarial and behavioural cases written as YAML / JSONL files, run as pytest items on both models."""

from harness.cases.collect import CaseFile, CaseItem, collect_case_file, load_cases
from harness.cases.run import CaseResult, run_case
from harness.cases.source import CaseFileError
from harness.cases.spec import Case
from harness.cases.summary import GroupSummary, summarise

__all__ = [
    "Case",
    "CaseFile",
    "CaseFileError",
    "CaseItem",
    "CaseResult",
    "GroupSummary",
    "collect_case_file",
    "load_cases",
    "run_case",
    "summarise",
]
