"""The review database: private file, WAL, ratings reset when an answer changes, export and import round trips."""

from __future__ import annotations

import json
import stat

import pytest
from test_review_rubric import DEMO

from fixtures.review.build import simulate_reviews, synthetic_outputs
from harness.cli import main
from harness.errors import HarnessError
from harness.records import OutputRecord
from harness.review.exchange import export_rows, format_rows, import_rows
from harness.review.items import pair_outputs
from harness.review.rubric import load_rubric
from harness.review.sampling import draw_sample
from harness.review.store import AB, RUBRIC, Comparison, ReviewStore


def sampled_store(path, records, *, min_reviews=2, size=None):
    store = ReviewStore(path, create=True)
    store.save_sample(
        draw_sample(pair_outputs(records), seed=0, size=size), load_rubric(DEMO), min_reviews=min_reviews, seed=0
    )
    return store


def test_the_database_is_private_and_in_wal_mode(tmp_path):
    store = sampled_store(tmp_path / "sub" / "review.sqlite", synthetic_outputs(30))
    simulate_reviews(store)
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    for path in tmp_path.glob("sub/review.sqlite*"):  # the database, its WAL and shared-memory files
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    with pytest.raises(HarnessError, match="(?s)no review database at .*harness review sample"):
        ReviewStore(tmp_path / "none.sqlite")
    assert not (tmp_path / "none.sqlite").exists()  # reading never creates an empty database


def test_a_changed_answer_resets_its_ratings_and_its_ab_choices(tmp_path):
    records = synthetic_outputs(40, seed=9)
    store = sampled_store(tmp_path / "review.sqlite", records, min_reviews=1, size=40)
    simulate_reviews(store, reviewers=("ana",))
    before = store.progress("ana", RUBRIC, store.meta().rubric.version, 1)
    assert before["complete"] == before["total"] == 40 and before["left"] == 0
    changed = next(i for i in store.items() if i.disagree)
    rerun = [
        OutputRecord(**(r.to_dict() | {"output": r.output + " Also, it renews yearly."}))
        if (r.eval_set, r.item_id, r.role) == (changed.eval_set, changed.item_id, "tuned")
        else r
        for r in records
    ]
    store.save_sample(draw_sample(pair_outputs(rerun), seed=0, size=40), load_rubric(DEMO), min_reviews=1, seed=0)
    after = store.progress("ana", RUBRIC, store.meta().rubric.version, 1)
    assert after["complete"] == 39 and after["left"] == 1  # only the changed answer needs a new rating
    nxt = store.next_item("ana", RUBRIC, store.meta().rubric.version, 1)
    assert nxt is not None and nxt.key == changed.key
    assert store.next_item("ana", AB, "", 1).key == changed.key  # its A/B pair changed too
    assert len(store.ratings()) == 39 and len(store.ratings(current_only=False)) == 40  # kept, not counted


def test_a_new_rubric_version_asks_for_new_ratings(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(20), min_reviews=1)
    simulate_reviews(store, reviewers=("ana",))
    edited = tmp_path / "rubric.yaml"
    edited.write_text(DEMO.read_text().replace("Right and complete.", "Right, and nothing is missing."))
    store.save_sample(
        draw_sample(pair_outputs(synthetic_outputs(20)), seed=0), load_rubric(edited), min_reviews=1, seed=0
    )
    assert store.ratings() == [] and store.count("ratings") == 20


def test_the_side_mapping_is_seeded_and_balanced(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(400, disagree_share=0.9))
    sides = [i.tuned_side for i in store.items() if i.disagree]
    assert 0.35 < sides.count("A") / len(sides) < 0.65
    again = sampled_store(tmp_path / "again.sqlite", synthetic_outputs(400, disagree_share=0.9))
    assert [i.tuned_side for i in again.items() if i.disagree] == sides
    item = next(i for i in store.items() if i.disagree)
    assert item.winner(item.tuned_side) == "tuned" and item.winner("tie") == "tie"
    assert item.sides()[0 if item.tuned_side == "A" else 1] == item.tuned_output


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_then_import_restores_every_rating(tmp_path, fmt):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(60))
    simulate_reviews(store, noise=0.2)
    path = tmp_path / f"ratings.{fmt}"
    assert main(["review", "export", "--db", str(store.path), "--out", str(path)]) == 0
    fresh = sampled_store(tmp_path / "fresh.sqlite", synthetic_outputs(60))
    assert main(["review", "import", str(path), "--db", str(fresh.path)]) == 0
    assert export_rows(fresh) == export_rows(store)
    assert fresh.count("ratings") == store.count("ratings") > 0
    assert fresh.count("comparisons") == store.count("comparisons") > 0


def test_import_refuses_a_bad_file_naming_the_line_and_stores_nothing(tmp_path, capsys):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(30))
    simulate_reviews(store)
    rows = export_rows(store)
    rows[3]["scores"]["accuracy"] = "11"
    path = tmp_path / "bad.jsonl"
    path.write_text(format_rows(rows, "jsonl"))
    fresh = sampled_store(tmp_path / "fresh.sqlite", synthetic_outputs(30))
    assert main(["review", "import", str(path), "--db", str(fresh.path)]) == 2
    assert "bad.jsonl:4: criterion 'accuracy': '11' is not one of" in capsys.readouterr().err
    assert fresh.count("ratings") == 0


def test_import_derives_the_winner_from_the_hidden_side_and_catches_contradictions(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(30, disagree_share=1.0))
    item = next(i for i in store.items() if i.disagree)
    row = {"kind": "comparison", "eval_set": item.eval_set, "item_id": item.item_id, "reviewer": "ana",
           "pair_hash": item.pair_hash, "choice": item.tuned_side}  # fmt: skip
    path = tmp_path / "ab.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert import_rows(store, path) == (0, 1)
    assert store.comparisons()[0].winner == "tuned"
    path.write_text(json.dumps(row | {"winner": "base"}) + "\n")
    with pytest.raises(HarnessError, match="ab.jsonl:1: winner 'base' contradicts choice"):
        import_rows(store, path)


def test_a_comparison_must_name_a_known_outcome(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(10))
    with pytest.raises(HarnessError, match="not an A/B outcome"):
        store.add_comparison(Comparison("s", "1", "ana", "t", "h", "A", "draw"))
