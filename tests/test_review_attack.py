"""One person cannot make a passing review: a single link, a rename, constant ratings and clicking through all
leave the gate failing, with the reasons in the report; `invite`, `reviewers` and `revoke` on the command line."""

from __future__ import annotations

import re

from test_review_app import GOOD, make_db, signed_in

from fixtures.review.build import simulate_reviews, synthetic_outputs
from fixtures.review.client import Reviewer, running_server
from harness.cli import main
from harness.review.store import AB, RUBRIC, ReviewStore


def click_through(reviewer: Reviewer) -> None:
    """What the attacker did: every answer 5/pass, every pair a tie, as fast as the server answers."""
    for mode, answers in ((AB, {"choice": "tie"}), (RUBRIC, GOOD)):
        while (fields := reviewer.next_form(mode)) is not None:
            assert reviewer.submit(mode, fields, answers) == 303


def test_one_link_clicked_through_with_constant_ratings_cannot_pass(tmp_path, capsys):
    db = make_db(tmp_path / "review.sqlite", synthetic_outputs(80, seed=7), min_reviews=1, size=40)
    with running_server(db) as url:
        mallory = signed_in(url, db, "mallory")
        click_through(mallory)
        status, _, _ = mallory.request("POST", "/reviewer", {"csrf": "x", "reviewer": "someone else"})
        assert status in (404, 405)  # no renaming to pose as a second reviewer
        again = Reviewer(url, "mallory")
        again.cookie = mallory.cookie
        assert again.next_form(RUBRIC) is None  # a second session of the same link is the same reviewer
    capsys.readouterr()
    assert main(["review", "report", "--db", str(db)]) == 1
    out = capsys.readouterr().out
    assert "FAILED: the review blocks promotion" in out
    assert "FAIL reviewers: 1 distinct issued identities reviewed; each answer needs 2" in out
    assert re.search(r"FAIL complete: 0/40 sampled answers have ratings from 2 distinct reviewers", out)
    assert "mallory gave the same scores to all 40 answers" in out
    assert "chose 'tie' for all" in out
    assert re.search(r"median \d+\.\d s between submissions \(implausibly short", out)
    table = [line for line in out.split("criterion")[1].split("\n\n")[0].splitlines()[1:] if line[:1] != " "]
    assert len(table) == 6 and all(row.endswith(" -  undef.") for row in table)  # kappa -, alpha undefined
    assert out.count("undefined: fewer than two reviewers") >= 6
    assert "Krippendorff's alpha 1.000" not in out


def test_two_reviewers_agreeing_on_a_constant_get_undefined_alpha_and_fail(tmp_path, capsys):
    db = make_db(tmp_path / "review.sqlite", synthetic_outputs(80, seed=7), min_reviews=2, size=30)
    with running_server(db) as url:
        for name in ("mallory", "trent"):
            click_through(signed_in(url, db, name))
    capsys.readouterr()
    assert main(["review", "report", "--db", str(db), "--min-seconds", "0"]) == 1
    out = capsys.readouterr().out
    assert "FAIL agreement on accuracy: Krippendorff's alpha undefined: all 60 paired ratings are the same value" in out
    assert "undef." in out and "PASS complete: 30/30" in out


def test_invite_reviewers_and_revoke_from_the_command_line(tmp_path, capsys):
    db = make_db(tmp_path / "review.sqlite", synthetic_outputs(300, seed=8), min_reviews=2, size=120)
    assert main(["review", "invite", "ana,ben", "chi", "--db", str(db), "--url", "http://127.0.0.1:9000"]) == 0
    links = dict(re.findall(r"^\s+(\w+): (http://127\.0\.0\.1:9000/\?key=\S+)$", capsys.readouterr().out, re.M))
    assert sorted(links) == ["ana", "ben", "chi"] and len(set(links.values())) == 3
    store = ReviewStore(db)
    assert {name: store.reviewer_by_secret(link.split("key=")[1]) for name, link in links.items()} == {
        name: name for name in links
    }
    assert main(["review", "invite", "ana", "--db", str(db)]) == 2
    assert "'ana' already has a link" in capsys.readouterr().err
    simulate_reviews(store, ("ana", "ben", "chi"), noise=0.0)
    assert main(["review", "reviewers", "--db", str(db)]) == 0
    table = capsys.readouterr().out
    assert re.search(r"^ana\s+link issued\s+120\s+\d+\s+\d+\.\d\s*$", table, re.M), table
    assert main(["review", "report", "--db", str(db)]) == 0, capsys.readouterr().out
    assert "reviewers: ana, ben, chi" in capsys.readouterr().out
    assert main(["review", "revoke", "ben", "chi", "--db", str(db)]) == 0
    assert store.reviewer_by_secret(links["ben"].split("key=")[1]) is None
    assert main(["review", "report", "--db", str(db)]) == 1  # one reviewer left: not enough
    out = capsys.readouterr().out
    assert "reviewers: ana;" in out and "of revoked reviewers not counted" in out
    assert "FAIL reviewers: 1 distinct issued identities" in out
    assert main(["review", "revoke", "nobody", "--db", str(db)]) == 2
    assert "no active reviewer named 'nobody'" in capsys.readouterr().err
