"""Blind A/B that holds: nothing on a page predicts which side is the tuned answer, sides differ per reviewer,
and a reviewer who rated an answer on its own is not asked to compare it."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.stats import binomtest
from test_review_app import GOOD, invite, make_db, signed_in

from fixtures.review.build import synthetic_outputs
from fixtures.review.client import running_server
from harness.review.store import AB, RUBRIC, ReviewStore

PAIRS = 240


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Every A/B page one reviewer is shown over PAIRS disagreements, with the side the database knows."""
    db = make_db(
        tmp_path_factory.mktemp("blind") / "review.sqlite",
        synthetic_outputs(600, disagree_share=1.0, seed=3),
        min_reviews=1,
        size=PAIRS,
    )
    shown = []
    with running_server(db) as url:
        ana = signed_in(url, db, "ana")
        while (fields := ana.next_form(AB)) is not None:
            _, _, page = ana.request("GET", f"/review/{AB}")
            shown.append((fields, page))
            assert ana.submit(AB, fields, {"choice": "tie"}) == 303
    store = ReviewStore(db)
    truth = [store.tuned_side("ana", store.item(int(fields["item"]))) for fields, _ in shown]
    return db, shown, truth


def old_seeded_sides(n: int, seed: int = 0) -> list[str]:
    """How sides used to be drawn: from the sample's seed, indexed by review order (= the item id on the page)."""
    return ["AB"[int(bit)] for bit in np.random.default_rng([seed, 0xAB]).integers(0, 2, size=n)]


def test_no_predictor_from_page_contents_beats_a_coin(pages):
    db, shown, truth = pages
    assert len(shown) >= 200
    old = old_seeded_sides(len(shown) + 10)
    predictors = {
        "the sample's seed, indexed by the item id": lambda fields, page: old[int(fields["item"]) - 1],
        "parity of the item id": lambda fields, page: "AB"[int(fields["item"]) % 2],
        "parity of the form's stamp": lambda fields, page: "AB"[int(fields["stamp"], 16) % 2],
        "the shorter answer is A": lambda fields, page: _shorter(page),
    }
    for name, predict in predictors.items():
        hits = sum(predict(fields, page) == side for (fields, page), side in zip(shown, truth, strict=True))
        test = binomtest(hits, len(shown), 0.5)
        assert 0.38 < hits / len(shown) < 0.62 and test.pvalue > 1e-4, (name, hits, len(shown))


def test_sides_are_balanced_and_drawn_per_reviewer(pages):
    db, shown, truth = pages
    assert binomtest(truth.count("A"), len(truth), 0.5).pvalue > 1e-4
    store = ReviewStore(db)
    invite(db, "ben")
    ben = [store.tuned_side("ben", store.item(int(fields["item"]))) for fields, _ in shown]
    same = sum(a == b for a, b in zip(truth, ben, strict=True))
    assert 0.38 < same / len(truth) < 0.62  # one reviewer's sides say nothing about another's


def _shorter(page: str) -> str:
    a, b = (re.search(rf'id="answer-{s}">(.*?)</div>', page, re.S).group(1) for s in "ab")
    return "A" if len(a) <= len(b) else "B"


def test_a_reviewer_who_rated_an_answer_does_not_compare_it(tmp_path):
    db = make_db(tmp_path / "review.sqlite", synthetic_outputs(60, disagree_share=1.0, seed=5), size=20)
    with running_server(db) as url:
        ana = signed_in(url, db, "ana")
        rated = ana.next_form(RUBRIC)
        store = ReviewStore(db)
        first_pair = ana.next_form(AB)
        assert first_pair["item"] == rated["item"]  # before rating it, the pair is ana's to compare
        assert ana.submit(RUBRIC, rated, GOOD) == 303
        compared = set()
        while (fields := ana.next_form(AB)) is not None:
            compared.add(fields["item"])
            assert ana.submit(AB, fields, {"choice": "A"}) == 303
        assert rated["item"] not in compared
        assert ana.submit(AB, first_pair, {"choice": "A"}) == 409  # a page loaded earlier cannot slip it in
        assert {c.item_id for c in store.comparisons()} == {store.item(int(i)).item_id for i in compared}
        _, _, home = ana.request("GET", "/")
        assert "0 left for you" in home
        ben = signed_in(url, db, "ben")
        assert ben.next_form(AB)["item"] == rated["item"]  # someone who did not rate it compares it
