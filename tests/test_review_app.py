"""The review app over HTTP: issued links and cookies, Host/Origin/CSRF refusals, blind A/B, escaping, no lost
rating."""

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
    with running_server(db) as url:
        yield url, db


def invite(db: Path, name: str) -> str:
    """A new link's secret for `name` (replacing any earlier link)."""
    store = ReviewStore(db)
    try:
        return store.invite(name, reissue=True)
    finally:
        store.close()


def signed_in(url: str, db: Path, name: str = "ana") -> Reviewer:
    reviewer = Reviewer(url, name)
    reviewer.sign_in(invite(db, name))
    return reviewer


def test_a_personal_link_opens_a_session_for_its_reviewer_and_leaves_the_address_bar(hostile_server):
    url, db = hostile_server
    secret = invite(db, "ana")
    stranger = Reviewer(url, "eve")
    assert stranger.request("GET", "/")[0] == 403
    assert stranger.request("GET", "/?key=wrong")[0] == 403
    assert stranger.request("GET", "/?key=" + "x" * 5000)[0] == 403
    status, headers, _ = stranger.request("GET", f"/?key={secret}")
    assert status == 303 and headers["location"] == "/"
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    stranger.cookie = headers["set-cookie"].split(";")[0]
    status, _, page = stranger.request("GET", "/review/rubric")
    assert status == 200 and "Reviewer: <strong>ana</strong>" in page  # the name comes from the link
    assert 'name="reviewer"' not in stranger.request("GET", "/")[2]  # and cannot be typed or changed
    store = ReviewStore(db)
    assert secret not in {row[0] for row in store.query("SELECT secret_hash FROM reviewers")}
    assert secret.encode() not in db.read_bytes()  # only a hash of the secret is stored


def test_the_name_cannot_be_changed_in_the_app(hostile_server):
    url, db = hostile_server
    ana = signed_in(url, db, "ana")
    status, _, _ = ana.request("POST", "/reviewer", {"csrf": ana.next_form("rubric")["csrf"], "reviewer": "ben"})
    assert status in (404, 405)
    assert ana.submit("rubric", ana.next_form("rubric") | {"reviewer": "ben"}, GOOD) == 303
    assert [r.reviewer for r in ReviewStore(db).ratings()] == ["ana"]


def test_the_session_cookie_is_named_for_this_server_alone(tmp_path):
    db = make_db(tmp_path / "review.sqlite", hostile_outputs())
    secret = invite(db, "ana")
    cookies = []
    with running_server(db) as url:
        reviewer = Reviewer(url, "ana")
        reviewer.sign_in(secret)
        assert reviewer.cookie.startswith(f"harness_review_{url.rsplit(':', 1)[1]}_")
        cookies.append(reviewer.cookie)
    with running_server(db) as url:
        replay = Reviewer(url, "mallory", cookie=cookies[0])  # the last server's session is worthless here
        assert replay.request("GET", "/review/rubric")[0] == 403
        reviewer = Reviewer(url, "ana")
        reviewer.sign_in(secret)  # the link itself keeps working
        assert reviewer.request("GET", "/review/rubric")[0] == 200
        assert reviewer.cookie.split("=")[0] != cookies[0].split("=")[0]


def test_a_revoked_link_stops_working_at_once_and_its_reviews_stop_counting(hostile_server):
    url, db = hostile_server
    ana = signed_in(url, db, "ana")
    assert ana.submit("rubric", ana.next_form("rubric"), GOOD) == 303
    store = ReviewStore(db)
    assert len(store.ratings()) == 1
    store.revoke("ana")
    assert ana.request("GET", "/review/rubric")[0] == 403  # the open session ends too
    assert ana.request("GET", "/?key=anything")[0] == 403
    assert store.ratings() == [] and store.count("ratings") == 1  # kept, not counted
    assert store.revoked_counts() == (1, 0)


def test_every_response_carries_a_strict_content_security_policy(hostile_server):
    url, db = hostile_server
    reviewer = signed_in(url, db)
    for path in ("/", "/review/rubric", "/review/ab", "/static/review.js", "/nothing"):
        _, headers, _ = reviewer.request("GET", path)
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "default-src 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_an_unknown_host_header_is_refused(hostile_server):
    url, db = hostile_server
    reviewer = Reviewer(url, "ana")
    status, headers, _ = reviewer.request("GET", f"/?key={invite(db, 'ana')}", headers={"Host": "attacker.example"})
    assert status == 421 and "set-cookie" not in headers  # DNS rebinding gets nothing
    port = url.rsplit(":", 1)[1]
    assert reviewer.request("GET", "/", headers={"Host": f"localhost:{port}"})[0] == 403  # allowed host, no session


def test_untrusted_answers_are_escaped_never_markup(hostile_server):
    url, db = hostile_server
    reviewer = signed_in(url, db)
    for mode in ("rubric", "ab"):
        _, _, page = reviewer.request("GET", f"/review/{mode}")
        assert "&lt;script&gt;" in page and "&lt;img src=x onerror=" in page
        assert "<script>document" not in page and "<img src=x" not in page and "<b>now</b>" not in page
        assert page.count("<script") == 1  # only the app's own script file
        assert re.search(r'<script src="/static/review.js" defer></script>', page)


def test_posts_without_token_or_from_another_origin_are_refused(hostile_server):
    url, db = hostile_server
    reviewer = signed_in(url, db)
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
    reviewer = signed_in(url, db)
    fields = reviewer.next_form("rubric")
    assert reviewer.request("POST", "/review/rubric", fields | GOOD | {"stamp": "stale"})[0] == 409
    assert reviewer.request("POST", "/review/rubric", fields | {"c_accuracy": "9"})[0] == 400
    assert ReviewStore(db).count("ratings") == 0


def test_sampling_again_while_serving_takes_effect_and_voids_open_pages(hostile_server, tmp_path):
    url, db = hostile_server
    reviewer = signed_in(url, db)
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
    reviewer = signed_in(url, db)
    store = ReviewStore(db)
    seen_sides = set()
    while (fields := reviewer.next_form("ab")) is not None:
        _, _, page = reviewer.request("GET", "/review/ab")
        lowered = page.lower()
        assert "tuned" not in lowered and "base" not in lowered and "model" not in lowered
        item = store.item(int(fields["item"]))
        assert item is not None and fields["stamp"] != item.pair_hash
        answer_a = re.search(r'id="answer-a">(.*?)</div>', page, re.S).group(1)
        side = store.tuned_side("ana", item)
        assert ("ZETA" in answer_a) == (side == "A")  # ZETA marks the tuned answers of this run
        seen_sides.add(side)
        assert reviewer.submit("ab", fields, {"choice": "A"}) == 303
        comparison = next(c for c in store.comparisons() if c.item_id == item.item_id)
        assert comparison.winner == ("tuned" if side == "A" else "base") and comparison.tuned_side == side
    assert seen_sides <= {"A", "B"}  # balance over many pairs: test_review_blinding.py


def test_reviewers_resume_where_they_left_off_and_stay_blind_to_each_other(hostile_server):
    url, db = hostile_server
    ana = signed_in(url, db, "ana")
    first = ana.next_form("rubric")
    assert ana.submit("rubric", first, GOOD) == 303
    again = signed_in(url, db, "ana")  # a new browser session, same reviewer
    assert again.next_form("rubric")["item"] != first["item"]
    ben = signed_in(url, db, "ben")
    assert ben.next_form("rubric")["item"] == first["item"]  # still needs a second, independent review
    _, _, page = ben.request("GET", "/review/rubric")
    assert "ana" not in page and "checked" not in page
    _, _, home = again.request("GET", "/")
    assert "1 rated by you" in home


def test_concurrent_reviewers_lose_no_rating(tmp_path):
    db = make_db(tmp_path / "review.sqlite", synthetic_outputs(40), min_reviews=20, size=30)
    reviewers: list[Reviewer] = []
    with running_server(db) as url:
        reviewers = [signed_in(url, db, f"reviewer-{k:02d}") for k in range(20)]
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
        [sys.executable, "-m", "harness.cli", "review", "serve", "--db", str(db), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        url = ""
        deadline = time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            line = server.stdout.readline()
            if match := re.search(r"at (http://127\.0\.0\.1:\d+) ", line):
                url = match.group(1)
        assert url, "the server printed no link"
        reviewers = [signed_in(url, db, f"reviewer-{k:02d}") for k in range(20)]

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
    assert host_names("0.0.0.0", 8080, ["reviews.internal"]) == {"0.0.0.0:8080", "reviews.internal:8080",
                                                                 "reviews.internal"}  # fmt: skip
    on_80 = host_names("127.0.0.1", 80)  # browsers leave the default port out of Host
    assert {"127.0.0.1", "localhost", "[::1]", "127.0.0.1:80", "localhost:80"} <= on_80
    assert "attacker.example" not in on_80 and "localhost:8765" not in on_80
    assert {"127.0.0.1", "localhost"} <= host_names("127.0.0.1", 443)


def test_the_host_check_takes_the_default_port_form_behind_allow_host(tmp_path):
    import asyncio

    from harness.review.app import build_app
    from harness.review.security import Guard, host_names

    app = build_app(ReviewStore(make_db(tmp_path / "review.sqlite", hostile_outputs())), Guard(
        host_names("127.0.0.1", 80, ["reviews.internal"]), 80))  # fmt: skip

    async def status(host: str) -> int:
        """What the app answers to GET / with this Host header (called as ASGI, as uvicorn would)."""
        sent: list[dict] = []
        scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "query_string": b"",
                 "headers": [(b"host", host.encode())], "http_version": "1.1", "scheme": "http",
                 "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 50000), "root_path": ""}  # fmt: skip

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent[0]["status"]

    for host in ("127.0.0.1", "localhost", "reviews.internal", "reviews.internal:80", "localhost:80"):
        assert asyncio.run(status(host)) == 403, host  # answered (no session yet), not refused as 421
    assert asyncio.run(status("evil.example")) == 421


def test_an_oversized_or_malformed_item_id_is_a_400_not_a_crash(hostile_server):
    url, db = hostile_server
    reviewer = signed_in(url, db)
    fields = reviewer.next_form("rubric")
    for bad in (str(2**63), "9" * 5000, "-1", "1e3", "١٢", ""):
        status, _, page = reviewer.request("POST", "/review/rubric", fields | GOOD | {"item": bad})
        assert status == 400 and "item id" in page, bad
    assert reviewer.submit("rubric", fields, GOOD) == 303


def test_bidi_controls_in_answers_are_shown_not_obeyed(tmp_path):
    spoof = "Fee: \u202e000,001$\u202c due \u2066now\u2069"
    records = [
        OutputRecord("clauses", "b-1", role, "Clause \u202eprompt", spoof if role == "tuned" else "Base answer.",
                     "ref", "payment", "", f"{role}-model")
        for role in ("base", "tuned")
    ]  # fmt: skip
    db = make_db(tmp_path / "review.sqlite", records, min_reviews=1)
    with running_server(db) as url:
        reviewer = signed_in(url, db)
        for mode in ("rubric", "ab"):
            _, _, page = reviewer.request("GET", f"/review/{mode}")
            assert "\u202e" not in page and "\u2066" not in page
            assert "Fee: &lt;U+202E&gt;000,001$&lt;U+202C&gt; due &lt;U+2066&gt;now&lt;U+2069&gt;" in page
            assert "Clause &lt;U+202E&gt;prompt" in page


def test_serve_issues_links_for_the_named_reviewers(tmp_path):
    db = make_db(tmp_path / "review.sqlite", hostile_outputs())
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "harness.cli", "review", "serve", "--db", str(db), "--port", "0",
               "--reviewers", "ana,ben"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        links: dict[str, str] = {}
        for line in server.stdout:
            if match := re.match(r"\s+(\w+): (http://127\.0\.0\.1:\d+)/\?key=(\S+)$", line):
                links[match.group(1)] = match.group(3)
                url = match.group(2)
            if line.startswith("review app for"):
                break
        assert sorted(links) == ["ana", "ben"]
        ben = Reviewer(url, "ben")
        ben.sign_in(links["ben"])
        assert "Reviewer: <strong>ben</strong>" in ben.request("GET", "/")[2]
    finally:
        server.kill()
        server.wait(10)
        server.stdout.close()
