"""`harness review report --judge-model`: the judge grades the reviewed answers and the report shows its
agreement with the reviewers per criterion (Cohen's kappa and the confusion matrix), in text and JSON."""

from __future__ import annotations

import json

import pytest
from test_review_rubric import DEMO

from fixtures.review.build import simulate_reviews, synthetic_outputs, write_outputs
from harness.cli import main
from harness.review.store import ReviewStore


def report(db, *extra: str) -> int:
    return main(["review", "report", "--db", str(db), *extra])


@pytest.fixture
def reviewed_db(tmp_path, monkeypatch):
    """A sampled review of 120 synthetic clause summaries, rated by three simulated reviewers without noise."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    outputs = write_outputs(synthetic_outputs(120), tmp_path / "outputs.jsonl")
    db = tmp_path / "review.sqlite"
    assert main(["review", "sample", "--outputs", str(outputs), "--rubric", str(DEMO), "--db", str(db)]) == 0
    simulate_reviews(ReviewStore(db), noise=0.0)
    return db


def test_the_report_shows_the_judges_agreement_with_the_reviewers(reviewed_db, tmp_path, capsys):
    capsys.readouterr()
    path = tmp_path / "report.json"
    assert report(reviewed_db, "--json", str(path), "--judge-model", "demo:judge") == 0
    out = capsys.readouterr().out
    reviewed = len(ReviewStore(reviewed_db).items())
    assert f"judge demo:judge (log-likelihood of each option) on the {reviewed} reviewed answers" in out
    assert "human pass: judge pass/fail" in out and "PASSED: the review allows promotion" in out
    judged = json.loads(path.read_text())["judge"]
    assert judged["answers"] == reviewed and set(judged["errors"].values()) == {0}
    criteria = judged["criteria"]
    assert set(criteria) == {"accuracy", "factual_correctness", "coherence", "tone", "guideline_adherence"}
    for agreed in criteria.values():
        counts = agreed["confusion_human_rows_judge_columns"]["counts"]
        assert sum(map(sum, counts)) == agreed["n"] == 3 * reviewed  # one pair per rating: 3 reviewers each
    # Reviewers call an answer too casual exactly when it says "basically"; the rule sees that too.
    assert criteria["tone"]["kappa"] == 1.0
    # A cut-off answer has no invented words: the rule passes it on facts, the reviewers fail it, so they
    # disagree on some answers, and the kappa says so.
    assert criteria["factual_correctness"]["confusion_human_rows_judge_columns"]["counts"][1][0] > 0
    assert 0 < criteria["factual_correctness"]["kappa"] < 1
    tone_line = next(line for line in out.splitlines() if line.startswith("tone "))
    assert "1.000" in tone_line


def test_the_judges_answers_come_from_the_response_cache_the_second_time(reviewed_db, tmp_path, monkeypatch):
    from harness.demo.judge import DemoJudge

    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert report(reviewed_db, "--json", str(first), "--judge-model", "demo:judge") == 0

    def never(self, requests):
        raise AssertionError("asked the judge again")

    monkeypatch.setattr(DemoJudge, "loglikelihood", never)
    assert report(reviewed_db, "--json", str(second), "--judge-model", "demo:judge") == 0
    assert json.loads(first.read_text())["judge"] == json.loads(second.read_text())["judge"]


def test_without_a_judge_the_report_has_no_judge_section(reviewed_db, tmp_path, capsys):
    capsys.readouterr()
    path = tmp_path / "report.json"
    assert report(reviewed_db, "--json", str(path)) == 0
    assert "judge demo:judge" not in capsys.readouterr().out and "judge" not in json.loads(path.read_text())


def test_a_judge_that_cannot_be_loaded_is_one_clear_error(reviewed_db, tmp_path, capsys):
    capsys.readouterr()
    assert report(reviewed_db, "--judge-model", str(tmp_path / "missing")) == 2
    assert "--judge-model" in capsys.readouterr().err
