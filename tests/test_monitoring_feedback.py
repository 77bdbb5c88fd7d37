"""Production feedback into regression cases: candidates stay pending and uncollected; approved ones load as cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from harness.cases import CaseFileError, load_cases
from harness.cli import main
from harness.errors import HarnessError
from harness.monitoring.feedback import (
    DEFAULT_CANDIDATES,
    approve,
    feedback_candidates,
    is_collected,
    key_terms,
    write_candidates,
)
from harness.monitoring.logs import Feedback, LogRecord
from harness.plugin import pytest_collect_file

T0 = datetime(2024, 3, 11, tzinfo=UTC)
GDPR = "Clause: The Vendor shall notify the Client of any personal data breach within 72 hours.\nType:"
GDPR_SUMMARY = "Clause: The Vendor shall notify the Client of any personal data breach within 72 hours.\nSummary:"


def record(k: int, text: str, output: str, feedback: Feedback | None) -> LogRecord:
    return LogRecord(f"req-{k}", T0 + timedelta(minutes=k), text, output, "logs.jsonl", k, feedback=feedback)


RECORDS = [
    record(1, "Clause: The Buyer shall pay within 30 days.\nType:", "payment", Feedback(thumbs="up")),
    record(2, GDPR, "confidentiality", Feedback(thumbs="down", correction="data_protection")),
    record(
        3,
        GDPR_SUMMARY,
        "The Client must keep the information secret.",
        Feedback(correction="The Vendor must report a data breach within 72 hours."),
    ),
    record(4, "Clause: The Seller may end this Agreement.\nType:", "payment", Feedback(flag="wrong type")),
    record(5, "Clause: Something else.\nType:", "termination", Feedback(thumbs="down")),
    record(6, GDPR, "confidentiality", Feedback(correction="data_protection")),  # the same input again
]


def test_candidates_come_from_flagged_or_corrected_requests_only():
    candidates = feedback_candidates(RECORDS)
    assert [c["id"] for c in candidates] == ["prod-req-2", "prod-req-3", "prod-req-4"]
    assert all(c["status"] == "pending" and c["kind"] == "MFT" for c in candidates)
    label, summary, flagged = candidates
    assert label["expect"] == {"label": "data_protection"}
    assert label["choices"] == ["confidentiality", "data_protection", "payment", "termination"]
    assert label["source"]["times_reported"] == 2 and label["source"]["log"] == "logs.jsonl:2"
    assert summary["expect"] == {"contains": ["72", "Vendor", "report"]}
    assert flagged["expect"] == {"not_contains": "payment"} and "wrong type" in flagged["description"]


def test_key_terms_are_what_the_correction_adds():
    assert key_terms("The Vendor must pay $5,000 within 30 days.", "The Vendor must pay within 10 days.") == [
        "$5,000",
        "30",
    ]


def test_candidates_round_trip_into_a_case_file_the_harness_accepts(tmp_path):
    candidates_path = tmp_path / "suites" / "monitoring" / "candidates" / "production.yaml"
    cases_path = tmp_path / "suites" / "adversarial" / "production.yaml"
    assert write_candidates(candidates_path, feedback_candidates(RECORDS)) == (3, 0)
    with pytest.raises(CaseFileError, match="unknown field 'status'"):
        load_cases(candidates_path)  # a pending candidate is not a runnable case, even if copied by hand

    counts = approve(candidates_path, ids=["prod-req-2", "prod-req-3"], reviewer="ana", out=cases_path)
    assert (counts["approved"], counts["added"], counts["pending"], counts["collected"]) == (2, 2, 1, 1)
    cases = load_cases(cases_path, tmp_path)
    assert [(c.id, c.kind) for c in cases] == [("prod-req-2", "MFT"), ("prod-req-3", "MFT")]
    assert cases[0].choices and cases[0].checks[0].name == "label"
    assert cases[1].prompt(cases[1].input) == GDPR_SUMMARY
    reviewed = {c["id"]: c for c in yaml.safe_load(candidates_path.read_text())["cases"]}
    assert reviewed["prod-req-2"]["status"] == "approved" and reviewed["prod-req-2"]["reviewer"] == "ana"
    assert reviewed["prod-req-4"]["status"] == "pending"

    decisions = tmp_path / "reviewed.jsonl"
    decisions.write_text(
        json.dumps({"id": "prod-req-4", "status": "rejected", "reviewer": "bo", "note": "needs a real answer"})
        + "\n"
        + json.dumps({"id": "prod-req-2", "status": "approved", "reviewer": "bo"})
        + "\n"
    )
    counts = approve(candidates_path, reviewed=decisions, out=cases_path)
    assert (counts["rejected"], counts["added"], counts["already_in_cases"], counts["pending"]) == (1, 0, 1, 0)
    assert len(load_cases(cases_path, tmp_path)) == 2

    # New feedback adds new candidates and keeps the decisions already made.
    more = [record(9, "Clause: New one.\nType:", "payment", Feedback(correction="termination"))]
    assert write_candidates(candidates_path, feedback_candidates(RECORDS + more)) == (1, 3)
    statuses = {c["id"]: c["status"] for c in yaml.safe_load(candidates_path.read_text())["cases"]}
    assert statuses == {
        "prod-req-2": "approved",
        "prod-req-3": "approved",
        "prod-req-4": "rejected",
        "prod-req-9": "pending",
    }


def test_approving_into_a_hand_written_case_file_keeps_its_cases_and_comments(tmp_path):
    candidates_path = tmp_path / "candidates.yaml"
    write_candidates(candidates_path, feedback_candidates(RECORDS))
    cases_path = tmp_path / "adversarial" / "mine.yaml"
    cases_path.parent.mkdir()
    cases_path.write_text(
        '# my cases\ndescription: mine\ncases:\n  - id: mine-1\n    input: hi\n    expect: {contains: "x"}\n'
    )
    approve(candidates_path, ids=["prod-req-4"], out=cases_path)
    assert cases_path.read_text().startswith("# my cases\n")
    assert [c.id for c in load_cases(cases_path, tmp_path)] == ["mine-1", "prod-req-4"]


def test_pending_candidates_are_never_collected():
    default = Path.cwd() / DEFAULT_CANDIDATES
    assert not is_collected(default)
    assert pytest_collect_file(default, None) is None  # the plugin's own rule agrees
    assert is_collected(Path("suites/adversarial/candidates/production.yaml"))
    with pytest.raises(HarnessError, match="pending candidates would run as tests"):
        write_candidates(Path("suites/adversarial/candidates/production.yaml"), [])


def test_unknown_ids_and_empty_approvals_are_user_errors(tmp_path):
    path = tmp_path / "candidates.yaml"
    write_candidates(path, feedback_candidates(RECORDS))
    with pytest.raises(HarnessError, match="no candidate has id 'prod-req-22' \\(did you mean 'prod-req-2'\\?\\)"):
        approve(path, ids=["prod-req-22"], out=tmp_path / "adversarial" / "p.yaml")
    with pytest.raises(HarnessError, match="nothing to approve"):
        approve(path, out=tmp_path / "adversarial" / "p.yaml")


def test_cli_feedback_then_approve(tmp_path, capsys):
    logs = tmp_path / "logs.jsonl"
    rows = [
        {
            "id": r.id,
            "timestamp": r.timestamp.isoformat(),
            "input": r.input,
            "output": r.output,
            "feedback": {k: v for k, v in vars(r.feedback).items() if v is not None},
        }
        for r in RECORDS
    ]
    logs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    candidates = tmp_path / "candidates.yaml"
    assert main(["monitor", "feedback", str(logs), "--out", str(candidates)]) == 0
    assert "3 new candidate(s)" in capsys.readouterr().out
    cases = tmp_path / "suites" / "adversarial" / "production.yaml"
    assert main(["monitor", "approve", str(candidates), "--ids", "prod-req-2", "--out", str(cases)]) == 0
    assert "1 case(s) added" in capsys.readouterr().out
    assert [c.id for c in load_cases(cases, tmp_path)] == ["prod-req-2"]
    assert main(["monitor", "approve", str(candidates), "--out", str(cases)]) == 2
