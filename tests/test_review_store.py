"""The review database: private file, WAL, ratings reset when an answer changes, export and import round trips."""

from __future__ import annotations

import json
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_review_rubric import DEMO

from fixtures.review.build import simulate_reviews, synthetic_outputs
from harness.cli import main
from harness.errors import HarnessError
from harness.records import OutputRecord
from harness.review.exchange import FORMULA_START, export_rows, format_rows, import_rows, neutralise, restore
from harness.review.items import pair_outputs
from harness.review.rubric import load_rubric
from harness.review.sampling import draw_sample
from harness.review.store import AB, RUBRIC, Comparison, Rating, ReviewStore, winner_of


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
    counted = {c.item_id for c in store.comparisons()}
    assert {c.item_id for c in store.comparisons(current_only=False)} - counted == {changed.item_id}  # pair changed
    assert store.next_item("ben", AB, "", 1) is not None
    assert store.next_item("ana", AB, "", 1) is None  # ana rated the new answer's item before: not blind any more
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


def test_sides_come_from_each_reviewers_secret_key_not_from_the_seed(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(400, disagree_share=0.9))
    store.invite("ana")
    pairs = [i for i in store.items() if i.disagree]
    sides = [store.tuned_side("ana", pair) for pair in pairs]
    assert 0.35 < sides.count("A") / len(sides) < 0.65
    assert [store.tuned_side("ana", pair) for pair in pairs] == sides  # stable for one reviewer
    again = sampled_store(tmp_path / "again.sqlite", synthetic_outputs(400, disagree_share=0.9))
    again.invite("ana")  # same run, same seed, same name: a new secret key
    same = sum(again.tuned_side("ana", pair) == side for pair, side in zip(pairs, sides, strict=True))
    assert 0.35 < same / len(pairs) < 0.65
    (key,) = store.query("SELECT side_key FROM reviewers WHERE name = 'ana'")[0]
    assert len(bytes.fromhex(key)) == 32
    item = next(i for i in store.items() if i.disagree)
    side = store.tuned_side("ana", item)
    assert winner_of(side, side) == "tuned" and winner_of("tie", side) == "tie"
    assert item.sides(side)[0 if side == "A" else 1] == item.tuned_output
    with pytest.raises(HarnessError, match="harness review invite"):
        store.tuned_side("nobody", item)


def test_links_are_issued_once_stored_as_hashes_reissued_and_revoked(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(20))
    secret = store.invite("  Ana   Ruiz ")
    assert store.reviewer_by_secret(secret) == "Ana Ruiz"
    assert store.reviewer_by_secret(secret + "x") is None and store.reviewer_by_secret("") is None
    with pytest.raises(HarnessError, match="already has a link"):
        store.invite("Ana Ruiz")
    newer = store.invite("Ana Ruiz", reissue=True)
    assert store.reviewer_by_secret(secret) is None and store.reviewer_by_secret(newer) == "Ana Ruiz"
    store.revoke("Ana Ruiz")
    assert store.reviewer_by_secret(newer) is None and not store.is_active("Ana Ruiz")
    assert [r.status for r in store.reviewers()] == ["revoked"]
    with pytest.raises(HarnessError, match="no active reviewer named 'Ana Ruiz'"):
        store.revoke("Ana Ruiz")
    assert store.reviewer_by_secret(store.invite("Ana Ruiz", reissue=True)) == "Ana Ruiz"  # reinstated
    for bad in ("", "   ", "a\u0000b", "x" * 61, "tab\u202eevil"):
        with pytest.raises(HarnessError, match="printable characters"):
            store.invite(bad)


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


def test_import_derives_the_winner_from_the_side_shown_and_catches_contradictions(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(30, disagree_share=1.0))
    item = next(i for i in store.items() if i.disagree)
    row = {"kind": "comparison", "eval_set": item.eval_set, "item_id": item.item_id, "reviewer": "ana",
           "pair_hash": item.pair_hash, "choice": "B", "tuned_side": "B"}  # fmt: skip
    path = tmp_path / "ab.jsonl"
    path.write_text(json.dumps(row) + "\n")
    assert import_rows(store, path) == (0, 1)
    assert store.comparisons()[0].winner == "tuned" and store.comparisons()[0].tuned_side == "B"
    assert [r.status for r in store.reviewers()] == ["imported (no link)"]  # an identity, but no way in
    path.write_text(json.dumps(row | {"winner": "base"}) + "\n")
    with pytest.raises(HarnessError, match="ab.jsonl:1: winner 'base' contradicts choice 'B'"):
        import_rows(store, path)
    path.write_text(json.dumps({k: v for k, v in row.items() if k != "tuned_side"}) + "\n")
    with pytest.raises(HarnessError, match="ab.jsonl:1: an A/B choice needs `winner`, or `tuned_side`"):
        import_rows(store, path)


def test_a_comparison_must_name_a_known_outcome(tmp_path):
    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(10))
    with pytest.raises(HarnessError, match="not an A/B outcome"):
        store.add_comparison(Comparison("s", "1", "ana", "t", "h", "A", "draw"))


FORMULAS = ["=HYPERLINK(\"http://x.example\",\"click\")", "+1+1", "-2+3", "@SUM(A1)", "\tlead", "\rcr", "'quoted",
            "plain", "= spaced"]  # fmt: skip


def test_csv_export_neutralises_formulas_is_private_and_round_trips(tmp_path):
    import csv

    store = sampled_store(tmp_path / "review.sqlite", synthetic_outputs(30), min_reviews=1)
    rubric = store.meta().rubric
    scores = {c.name: c.options[-1] for c in rubric.criteria}
    ratings = [Rating(item.eval_set, item.item_id, "ana", f"2026-01-05T09:00:{k:02d}.000+00:00", rubric.version,
                      item.tuned_hash, scores, comment) for k, (item, comment) in enumerate(
                          zip(store.items(), FORMULAS, strict=False))]  # fmt: skip
    store.add_many(ratings, [])
    out = tmp_path / "ratings.csv"
    assert main(["review", "export", "--db", str(store.path), "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    cells = [row["comment"] for row in csv.DictReader(out.open(newline=""))]
    for cell in cells:  # what a spreadsheet would evaluate never starts a cell
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "'=HYPERLINK(" in out.read_text() and "''quoted" in out.read_text()
    out.chmod(0o644)
    assert main(["review", "export", "--db", str(store.path), "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # a re-export makes an existing file private again
    fresh = sampled_store(tmp_path / "fresh.sqlite", synthetic_outputs(30), min_reviews=1)
    assert main(["review", "import", str(out), "--db", str(fresh.path)]) == 0
    assert sorted(r.comment for r in fresh.ratings()) == sorted(FORMULAS)  # exactly what the reviewer wrote


def test_line_separators_inside_answers_survive_sampling(tmp_path):
    records = synthetic_outputs(12)
    odd = "First line\u2028second\u2029third\u0085fourth"
    records[1] = OutputRecord(**(records[1].to_dict() | {"output": odd}))
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    db = tmp_path / "review.sqlite"
    argv = ["review", "sample", "--outputs", str(path), "--rubric", str(DEMO), "--db", str(db), "--size", "12"]
    assert main(argv) == 0
    items = ReviewStore(db).items()
    assert odd in {i.tuned_output for i in items} | {i.base_output for i in items}  # one record, not four lines


@given(st.text(max_size=30))
def test_neutralised_cells_never_start_a_formula_and_restore_exactly(text):
    cell = neutralise(text)
    assert not cell.startswith(FORMULA_START)
    assert restore(cell) == text
