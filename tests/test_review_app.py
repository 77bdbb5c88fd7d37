"""The review app over HTTP: token and cookie, Host/Origin/CSRF refusals, blind A/B, escaping, no lost rating."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_review_rubric import DEMO

from fixtures.review.build import synthetic_outputs
from fixtures.review.client import Reviewer, running_server
from harness.records import OutputRecord
from harness.review.items import pair_outputs
from harness.review.rubric import load_rubric
from harness.review.sampling import draw_sample
from harness.review.store import ReviewStore

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-token"
GOOD = {"c_accuracy": "5", "c_factual_correctness": "pass", "c_coherence": "5", "c_tone": "neutral",
        "c_guideline_adherence": "pass"}  # fmt: skip
HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">'


def hostile_outputs() -> list[OutputRecord]:
    """A run whose answers try to run code in the reviewer's browser."""
    records = []
    for k in range(6):
        prompt = f"Clause {k}: the fee is due <b>now</b>.\nSummary:"
        records += [
            OutputRecord(
                "clauses", f"x-{k}", "base", prompt, f"Plain answer OMEGA {k}.", "ref", "payment", "", "base-model"
            ),
            OutputRecord(
                "clauses", f"x-{k}", "tuned", prompt, f"{HOSTILE} ZETA {k}", "ref", "payment", "", "tuned-model"
            ),
        ]
    return records


def make_db(path: Path, records, *, min_reviews: int = 2, size: int | None = None) -> Path:
    store = ReviewStore(path, create=True)
    store.save_sample(
        draw_sample(pair_outputs(records), seed=0, size=size), load_rubric(DEMO), min_reviews=min_reviews, seed=0
    )
    store.close()
    return path


@pytest.fixture
def hostile_server(tmp_path):
    db = make_db(tmp_path / "review.sqlite", hostile_outputs())
    with running_server(db, TOKEN) as url:
        yield url, db


def signed_in(url: str, name: str = "ana") -> Reviewer:
    reviewer = Reviewer(url, name)
    reviewer.sign_in(TOKEN)
    return reviewer


def test_the_token_link_opens_a_session_and_leaves_the_address_bar(hostile_server):
    url, _ = hostile_server
    stranger = Reviewer(url, "eve")
    status, headers, _ = stranger.request("GET", "/")
    assert status == 403
    status, _, _ = stranger.request("GET", "/?token=wrong")
    assert status == 403
    status, headers, _ = stranger.request("GET", f"/?token={TOKEN}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    stranger.cookie = headers["set-cookie"].split(";")[0]
    status, headers, _ = stranger.request("GET", "/review/rubric")
    assert status == 303 and headers["location"] == "/"  # a session gives a name before reviewing
    assert 'name="reviewer"' in stranger.request("GET", "/")[2]


def test_every_response_carries_a_strict_content_security_policy(hostile_server):
    url, _ = hostile_server
    reviewer = signed_in(url)
    for path in ("/", "/review/rubric", "/review/ab", "/static/review.js", "/nothing"):
        _, headers, _ = reviewer.request("GET", path)
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_an_unknown_host_header_is_refused(hostile_server):
    url, _ = hostile_server
    reviewer = Reviewer(url, "ana")
    status, headers, _ = reviewer.request("GET", f"/?token={TOKEN}", headers={"Host": "attacker.example"})
    assert status == 421 and "set-cookie" not in headers  # DNS rebinding gets nothing
    port = url.rsplit(":", 1)[1]
    assert reviewer.request("GET", "/", headers={"Host": f"localhost:{port}"})[0] == 403  # allowed host, no session


def test_untrusted_answers_are_escaped_never_markup(hostile_server):
    url, _ = hostile_server
    reviewer = signed_in(url)
    for mode in ("rubric", "ab"):
        _, _, page = reviewer.request("GET", f"/review/{mode}")
        assert "&lt;script&gt;" in page and "&lt;img src=x onerror=" in page
        assert "<script>document" not in page and "<img src=x" not in page and "<b>now</b>" not in page
        assert page.count("<script") == 1  # only the app's own script file
        assert re.search(r'<script src="/static/review.js" defer></script>', page)


def test_posts_without_token_or_from_another_origin_are_refused(hostile_server):
    url, db = hostile_server
    reviewer = signed_in(url)
    fields = reviewer.next_form("rubric")
    assert fields is not None
    attempts = [
        ({"Origin": "http://attacker.example"}, fields),
        ({"Origin": ""}, fields),
        ({"Sec-Fetch-Site": "cross-site"}, fields),
        ({}, {k: v for k, v in fields.items() if k != "csrf"}),
        ({}, fields | {"csrf": "0" * 64}),
        ({"Cookie": ""}, fields),
    ]
    for headers, form in attempts:
        status, _, _ = reviewer.request("POST", "/review/rubric", form | GOOD, headers)
        assert status == 403, (headers, form.keys())
    status, _, _ = reviewer.request("POST", "/review/rubric", fields | GOOD, {"Content-Type": "text/plain"})
    assert status == 415
    assert ReviewStore(db).count("ratings") == 0
    assert reviewer.submit("rubric", fields, GOOD) == 303
    assert ReviewStore(db).count("ratings") == 1


def test_a_page_for_an_answer_that_changed_is_not_saved(hostile_server):
    url, db = hostile_server
    reviewer = signed_in(url)
    fields = reviewer.next_form("rubric")
    assert reviewer.request("POST", "/review/rubric", fields | GOOD | {"stamp": "stale"})[0] == 409
    assert reviewer.request("POST", "/review/rubric", fields | {"c_accuracy": "9"})[0] == 400
    assert ReviewStore(db).count("ratings") == 0


def test_sampling_again_while_serving_takes_effect_and_voids_open_pages(hostile_server, tmp_path):
    url, db = hostile_server
    reviewer = signed_in(url)
    fields = reviewer.next_form("rubric")
    edited = tmp_path / "rubric.yaml"
    edited.write_text(DEMO.read_text().replace("Clear and fluent.", "Clear, fluent and concise."))
    store = ReviewStore(db)
    store.save_sample(draw_sample(pair_outputs(hostile_outputs()), seed=0), load_rubric(edited), min_reviews=1, seed=0)
    assert reviewer.submit("rubric", fields, GOOD) == 409  # answered under the old rubric: not saved
    fresh = reviewer.next_form("rubric")
    assert fresh["stamp"] != fields["stamp"] and reviewer.submit("rubric", fresh, GOOD) == 303
    assert [r.rubric_version for r in store.ratings()] == [load_rubric(edited).version]


def test_ab_sides_are_hidden_and_mapped_in_the_database(hostile_server):
    url, db = hostile_server
    reviewer = signed_in(url)
    store = ReviewStore(db)
    seen_sides = set()
    while (fields := reviewer.next_form("ab")) is not None:
        _, _, page = reviewer.request("GET", "/review/ab")
        lowered = page.lower()
        assert "tuned" not in lowered and "base" not in lowered and "model" not in lowered
        item = store.item(int(fields["item"]))
        assert item is not None and fields["stamp"] != item.pair_hash
        answer_a = re.search(r'id="answer-a">(.*?)</div>', page, re.S).group(1)
        assert ("ZETA" in answer_a) == (item.tuned_side == "A")  # ZETA marks the tuned answers of this run
        seen_sides.add(item.tuned_side)
        assert reviewer.submit("ab", fields, {"choice": "A"}) == 303
        winner = next(c.winner for c in store.comparisons() if c.item_id == item.item_id)
        assert winner == ("tuned" if item.tuned_side == "A" else "base")
    assert seen_sides == {"A", "B"}  # both placements occur across items


def test_reviewers_resume_where_they_left_off_and_stay_blind_to_each_other(hostile_server):
    url, db = hostile_server
    ana = signed_in(url, "ana")
    first = ana.next_form("rubric")
    assert ana.submit("rubric", first, GOOD) == 303
    again = signed_in(url, "ana")  # a new browser session, same reviewer
    assert again.next_form("rubric")["item"] != first["item"]
    ben = signed_in(url, "ben")
    assert ben.next_form("rubric")["item"] == first["item"]  # still needs a second, independent review
    _, _, page = ben.request("GET", "/review/rubric")
    assert "ana" not in page and "checked" not in page
    _, _, home = again.request("GET", "/")
    assert "1 rated by you" in home


def test_concurrent_reviewers_lose_no_rating(tmp_path):
    db = make_db(tmp_path / "review.sqlite", synthetic_outputs(40), min_reviews=20, size=30)
    reviewers: list[Reviewer] = []
    with running_server(db, TOKEN) as url:
        reviewers = [signed_in(url, f"reviewer-{k:02d}") for k in range(20)]
        threads = [threading.Thread(target=r.review, args=("rubric", GOOD, 10)) for r in reviewers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    acknowledged = {(r.name, item) for r in reviewers for _, item in r.acknowledged}
    assert len(acknowledged) == 200
    store = ReviewStore(db)
    ids = {item.key: item.id for item in store.items()}
    stored = {(r.reviewer, str(ids[(r.eval_set, r.item_id)])) for r in store.ratings()}
    assert stored == acknowledged


def test_killing_the_server_mid_load_loses_no_committed_rating(tmp_path):
    db = make_db(tmp_path / "review.sqlite", synthetic_outputs(200), min_reviews=20, size=150)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "review", "serve", "--db", str(db), "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        url = ""
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            line = server.stdout.readline()
            if match := re.search(r"(http://127\.0\.0\.1:\d+)/\?token=", line):
                url = match.group(1)
        assert url, "the server printed no link"
        reviewers = [signed_in(url, f"reviewer-{k:02d}") for k in range(20)]

        def work(reviewer: Reviewer) -> None:
            try:
                reviewer.review("rubric", GOOD, 150)
            except (OSError, RuntimeError, ValueError):
                pass  # the server died under us

        threads = [threading.Thread(target=work, args=(r,)) for r in reviewers]
        for thread in threads:
            thread.start()
        while sum(len(r.acknowledged) for r in reviewers) < 100 and server.poll() is None:
            time.sleep(0.02)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        for thread in threads:
            thread.join(30)
    finally:
        if server.poll() is None:
            server.kill()
        server.stdout.close()
    acknowledged = {(r.name, item) for r in reviewers for _, item in r.acknowledged}
    assert 100 <= len(acknowledged) < 20 * 150  # killed mid-load
    store = ReviewStore(db)  # opens after the crash: SQLite replays the WAL
    ids = {item.key: item.id for item in store.items()}
    stored = {(r.reviewer, str(ids[(r.eval_set, r.item_id)])) for r in store.ratings()}
    assert acknowledged <= stored  # every rating the server confirmed survived
    assert len(stored - acknowledged) <= 20  # at most one in flight per reviewer when it died


def test_the_host_allow_list_is_the_listening_address_plus_named_hosts():
    from harness.review.security import host_names

    assert host_names("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765", "[::1]:8765"}
    assert host_names("0.0.0.0", 80, ["reviews.internal"]) == {"0.0.0.0:80", "reviews.internal:80"}
