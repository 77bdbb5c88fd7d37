"""`harness data ...` end to end: exit codes, the JSON report, the data suite on the demo sets, review gating."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli import main
from harness.dataquality.augment import augment
from harness.dataquality.records import read_records
from harness.dataquality.review import approve, export
from harness.dataquality.spec import load_spec
from harness.models.base import Generation

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "fixtures" / "data_quality"
SPEC, CLEAN, PLANTED = DEMO / "data_spec.yaml", DEMO / "train_clean.jsonl", DEMO / "train_planted.jsonl"
EVAL_DATA = ROOT / "fixtures" / "data"
PLANTED_IDS = {
    "schema": {"planted-no-label"},
    "exact_duplicate": {"planted-exact-dup"},
    "near_duplicate": {"planted-near-dup"},
    "contamination": {"planted-eval-leak"},
    "off_domain": {f"planted-off-domain-{i}" for i in range(1, 7)},
    "pii": {"planted-pii-1", "planted-pii-2", "planted-pii-3"},
    "unapproved_synthetic": {"clause-train-0006-aug1"},
}


def test_lint_passes_the_clean_demo_set(capsys):
    assert main(["data", "lint", str(SPEC), str(CLEAN), "--eval-sets", str(EVAL_DATA)]) == 0
    assert "PASSED: 0 error(s)" in capsys.readouterr().out


def test_lint_fails_the_planted_set_and_writes_a_json_report(tmp_path, capsys):
    report_path = tmp_path / "reports" / "lint.json"
    code = main(["data", "lint", str(SPEC), str(PLANTED), "--eval-sets", str(EVAL_DATA), "--json", str(report_path)])
    assert code == 1
    report = json.loads(report_path.read_text())
    assert report["passed"] is False and report["records"] > 250
    assert set(report["timings_s"]) >= {"read", "duplicates", "contamination", "pii", "total"}
    for rule, ids in PLANTED_IDS.items():
        named = {f["id"] for f in report["findings"] if f["rule"] == rule}
        named |= {r.split("(id ")[1].rstrip(")") for f in report["findings"] if f["rule"] == rule for r in f["related"]}
        assert ids <= named, rule
    (imbalance,) = [f for f in report["findings"] if f["rule"] == "label_imbalance"]
    assert imbalance["details"] == {"label": "force_majeure", "count": 3}
    leak = next(f for f in report["findings"] if f["rule"] == "contamination")
    assert any("clauses.jsonl:1 (id clause-0001)" in item for item in leak["details"]["eval_items"])
    out = capsys.readouterr().out
    assert "ERROR contamination (1)" in out and "FAILED:" in out
    assert list(report_path.parent.iterdir()) == [report_path]  # atomic write leaves no temporary file


def test_a_bad_spec_exits_2_naming_the_line(tmp_path, capsys):
    spec = tmp_path / "data_spec.yaml"
    spec.write_text("format: text_label\npatterns:\n  required: ['[a-z']\n")
    assert main(["data", "lint", str(spec), str(CLEAN), "--eval-sets", str(EVAL_DATA)]) == 2
    err = capsys.readouterr().err
    assert "data_spec.yaml:3" in err and "invalid regular expression" in err


def test_back_translation_without_a_local_model_is_explained(tmp_path, capsys):
    code = main(
        ["data", "augment", str(SPEC), str(CLEAN), "--method", "back-translation", "--out", str(tmp_path / "c")]
    )
    assert code == 2
    assert "back-translation is unavailable" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def run_suite(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "suites/data/", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_data_suite_passes_on_the_clean_demo_set():
    result = run_suite()
    assert result.returncode == 0, result.stdout[-3000:]
    assert "10 passed" in result.stdout


def test_data_suite_fails_on_the_planted_set_naming_each_problem():
    result = run_suite("--train-data", str(PLANTED), "--data-spec", str(SPEC))
    assert result.returncode == 1
    out = result.stdout
    assert "9 failed, 1 passed" in out  # only the size check passes (a warning)
    for ids in PLANTED_IDS.values():
        for record_id in ids:
            assert f"(id {record_id})" in out, record_id
    assert "label 'force_majeure' has 3 example(s)" in out


@dataclass
class CannedGenerator:
    """A stand-in generator model that answers from a fixed list."""

    answers: list[str]
    role: str = "tuned"
    name: str = "canned"
    fingerprint: str = "canned"

    def generate(self, prompts, settings=None):
        assert all("Rewrite:" in p for p in prompts)
        return [Generation(a, 5, 0.0) for a in self.answers[: len(prompts)]]


def test_augment_filters_candidates_then_approval_gates_export(tmp_path):
    spec = load_spec(SPEC)
    source_rows = [
        "The Customer must pay each invoice issued by the Supplier within 30 days of its date by bank transfer.",
        "The Licensee must keep the source code of the Licensor secret and use it only to perform this contract.",
        "Either the Carrier or the Shipper may terminate this contract by written notice after a material breach.",
        "The total liability of the Agency under this contract will not exceed the fees paid in the prior year.",
    ]
    data = tmp_path / "sources.jsonl"
    data.write_text(
        "".join(json.dumps({"id": f"s{i}", "text": t, "label": "payment"}) + "\n" for i, t in enumerate(source_rows))
    )
    sources, _ = read_records([data], spec)
    answers = [
        "By bank transfer, within 30 days of its date, each invoice issued by the Supplier must be paid by the "
        "Customer.",  # faithful and new: kept
        source_rows[1].upper(),  # a copy: dropped
        "Bake the bread for forty minutes until golden.",  # drifted: dropped
        "Call the Agency on +1 415 555 0132: its total liability under this contract will not exceed the fees paid "
        "in the year before.",  # personal data: dropped
    ]
    candidates = augment(spec, sources, generator=CannedGenerator(answers), generator_name="canned")
    reasons = [c.rejected for c in candidates]
    assert reasons[0] is None, reasons
    assert reasons[1] == "copy of an existing example"
    assert reasons[2].startswith("drifted from its source")
    assert reasons[3] == "contains personal data (phone number)"
    row = candidates[0].row
    assert row["status"] == "pending" and row["source_id"] == "s0" and row["synthetic"] is True
    assert row["id"] == "s0-aug1" and row["label"] == "payment"

    cand_path = tmp_path / "candidates.jsonl"
    cand_path.write_text(json.dumps(row) + "\n")
    reviewed = tmp_path / "reviewed.jsonl"
    reviewed.write_text(json.dumps({"id": row["id"], "status": "approved", "reviewer": "ana"}) + "\n")
    out = tmp_path / "train.jsonl"
    assert export([cand_path], out)["approved"] == 0  # pending: not exported
    assert approve(cand_path, reviewed)["approved"] == 1
    assert export([cand_path], out, CLEAN) == {"written": 302, "approved": 1, "left_out": 0}
    assert main(["data", "lint", str(SPEC), str(out), "--eval-sets", str(EVAL_DATA), "--quiet"]) == 0


def test_a_review_must_name_a_known_id_and_a_reviewer(tmp_path):
    cand = tmp_path / "c.jsonl"
    cand.write_text(json.dumps({"id": "x-aug1", "status": "pending"}) + "\n")
    reviewed = tmp_path / "r.jsonl"
    reviewed.write_text(json.dumps({"id": "x-aug1", "status": "approved"}) + "\n")
    assert main(["data", "approve", str(cand), str(reviewed)]) == 2
    reviewed.write_text(json.dumps({"id": "nope", "status": "approved", "reviewer": "ana"}) + "\n")
    with pytest.raises(Exception, match=r"r.jsonl:1: id 'nope' is not a candidate"):
        approve(cand, reviewed)
    assert json.loads(cand.read_text())["status"] == "pending"
