"""`harness review sample/report` end to end: the printed size and reason, exit codes, the JSON report."""

from __future__ import annotations

import json

from test_review_rubric import DEMO

from fixtures.review.build import simulate_reviews, synthetic_outputs, write_outputs
from harness.cli import main
from harness.review.store import ReviewStore


def test_sample_prints_the_size_and_why_then_report_tracks_the_review(tmp_path, capsys):
    outputs = write_outputs(synthetic_outputs(2000), tmp_path / "outputs.jsonl")
    db = tmp_path / "review.sqlite"
    args = ["review", "sample", "--outputs", str(outputs), "--rubric", str(DEMO), "--db", str(db)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "323 of 2,000 items for ±5% at 95%" in out and "base and tuned disagree on" in out
    assert "harness review invite NAME" in out and "harness review serve" in out
    first = [i.key for i in ReviewStore(db).items()]

    assert main(["review", "report", "--db", str(db)]) == 1  # nothing reviewed yet
    assert "FAIL complete: 0/323" in capsys.readouterr().out

    simulate_reviews(ReviewStore(db), noise=0.0)
    report = tmp_path / "report.json"
    assert main(["review", "report", "--db", str(db), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "PASSED: the review allows promotion" in out and "reviewers: ana, ben, chi" in out
    data = json.loads(report.read_text())
    assert data["passed"] and data["criteria"]["overall"]["agreement"]["alpha"] == 1.0
    assert data["ab"]["wins"] > data["ab"]["losses"]

    assert main([*args, "--margin", "0.03"]) == 0  # a tighter margin: a bigger sample; unchanged answers keep ratings
    out = capsys.readouterr().out
    assert "of 2,000 items for ±3% at 95%" in out and "earlier rating(s) still count" in out
    assert main(args) == 0
    assert [i.key for i in ReviewStore(db).items()] == first  # same seed, same sample


def test_a_missing_outputs_file_or_rubric_is_one_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HARNESS_CACHE_DIR", raising=False)
    assert main(["review", "sample", "--outputs", str(tmp_path / "none.jsonl"), "--rubric", str(DEMO)]) == 2
    assert "no such outputs file" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    outputs = write_outputs(synthetic_outputs(5), tmp_path / "outputs.jsonl")
    assert main(["review", "sample", "--outputs", str(outputs)]) == 2  # no demo rubric outside the repository
    assert "no rubric given" in capsys.readouterr().err
    assert main(["review", "report"]) == 2
    assert "no review database at .harness/review.sqlite" in capsys.readouterr().err


def test_bad_sample_options_are_refused_before_the_database_is_created(tmp_path, capsys):
    outputs = write_outputs(synthetic_outputs(20), tmp_path / "outputs.jsonl")
    db = tmp_path / "review.sqlite"
    base = ["review", "sample", "--outputs", str(outputs), "--rubric", str(DEMO), "--db", str(db)]
    for extra, message in ((["--oversample", "nan"], "--oversample must be a number"),
                           (["--min-reviews", "0"], "--min-reviews must be at least 1")):  # fmt: skip
        assert main([*base, *extra]) == 2
        assert message in capsys.readouterr().err
        assert not db.exists()
