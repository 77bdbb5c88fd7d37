"""The review app in a real browser (headless Chromium via Playwright): rating by keyboard, blind A/B, inert
hostile answers, forms posted without the CSRF token or from another origin refused, and reviewers with different
links kept apart.

Skipped when /usr/bin/chromium or the playwright package is missing (CI installs both).
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
from headless import require_chromium
from test_review_app import GOOD, hostile_outputs, invite, make_db

from fixtures.review.client import running_server
from harness.review.store import ReviewStore

sync_api = require_chromium()


@pytest.fixture
def review(tmp_path, browser):
    """A running app on a hostile run, and a fresh browser page with a record of CSP reports and dialogs."""
    db = make_db(tmp_path / "review.sqlite", hostile_outputs())
    with running_server(db) as url:
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.events = {"console": [], "dialogs": []}
        page.on("console", lambda message: page.events["console"].append(message.text))
        page.on("dialog", lambda dialog: (page.events["dialogs"].append(dialog.message), dialog.dismiss()))
        yield page, url, db
        context.close()


def sign_in(page, url: str, db: Path, name: str = "Paula") -> None:
    """Open the reviewer's personal link, as they would from the message the organiser sent."""
    page.goto(f"{url}/?key={invite(db, name)}")
    assert "key" not in page.url  # redirected: the secret is not left in the address bar
    page.wait_for_selector("#start-rubric")
    assert page.inner_text(".who strong") == name  # the name comes from the link
    assert page.locator("#reviewer, a[href*=change]").count() == 0  # and cannot be changed


def csp_reports(page) -> list[str]:
    return [m for m in page.events["console"] if "Content Security Policy" in m]


def test_a_reviewer_rates_answers_with_the_keyboard(review):
    page, url, db = review
    sign_in(page, url, db)
    with page.expect_navigation():  # the keyboard handler is a static script: wait until the page has loaded
        page.click("#start-rubric")
    first_item = page.input_value("input[name=item]")
    assert page.eval_on_selector("#progress", "p => p.value") == 0
    for key in ("4", "1", "5", "1", "1"):  # accuracy 4, factual pass, coherence 5, tone neutral, guidelines pass
        page.keyboard.press(key)
    with page.expect_navigation():  # the app's CSP forbids string evaluation, so wait on the page load instead
        page.keyboard.press("Enter")
    assert page.input_value("input[name=item]") != first_item
    assert page.eval_on_selector("#progress", "p => p.value") == 1
    (rating,) = ReviewStore(db).ratings()
    assert rating.reviewer == "Paula"
    assert rating.scores == {"accuracy": "4", "factual_correctness": "pass", "coherence": "5", "tone": "neutral",
                             "guideline_adherence": "pass"}  # fmt: skip
    page.keyboard.press("3")  # Enter with questions left open highlights the first one instead of saving
    page.keyboard.press("Enter")
    assert page.locator("fieldset.criterion.active").get_attribute("data-criterion") == "factual_correctness"
    assert len(ReviewStore(db).ratings()) == 1
    assert csp_reports(page) == []  # the app's own pages need no inline script or style


def test_ab_sides_are_hidden_from_the_reviewer(review):
    page, url, db = review
    sign_in(page, url, db)
    with page.expect_navigation():  # the keyboard handler is a static script: wait until the page has loaded
        page.click("#start-ab")
    html = page.content().lower()
    assert "tuned" not in html and "base" not in html  # no label, class, attribute or comment names a model
    item = ReviewStore(db).item(int(page.input_value("input[name=item]")))
    shown_a = page.inner_text("#answer-a")
    with page.expect_navigation():
        page.keyboard.press("b")
    (comparison,) = ReviewStore(db).comparisons()
    side = ReviewStore(db).tuned_side("Paula", item)
    assert (shown_a == item.tuned_output) == (side == "A")
    assert comparison.choice == "B" and comparison.winner == ("tuned" if side == "B" else "base")


def test_hostile_answers_render_as_inert_text(review):
    page, url, db = review
    sign_in(page, url, db)
    for mode in ("rubric", "ab"):
        page.goto(f"{url}/review/{mode}")
        page.wait_for_timeout(200)
        assert "pwned" not in page.title() and "clause-summaries" in page.title()  # neither payload ran
        answers = page.locator(".answer")
        assert answers.locator("img, script, b").count() == 0
        assert "<script>document.title=" in answers.first.inner_text() or "<script>" in page.inner_text("main")
    assert "<b>now</b>" in page.inner_text("#prompt")
    assert page.events["dialogs"] == []


def test_posts_without_the_token_or_from_another_origin_are_refused(review, tmp_path):
    page, url, db = review
    sign_in(page, url, db)
    page.goto(f"{url}/review/rubric")
    item = page.input_value("input[name=item]")
    stamp = page.input_value("input[name=stamp]")
    fields = f"item={item}&stamp={stamp}&c_accuracy=5&c_factual_correctness=pass&c_coherence=5&c_tone=neutral" \
             "&c_guideline_adherence=pass"  # fmt: skip
    post_without_csrf = """body => fetch('/review/rubric', {method: 'POST', body, redirect: 'manual',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'}}).then(r => r.status)"""
    status = page.evaluate(post_without_csrf, fields)  # same origin, session cookie sent, but no CSRF token
    assert status == 403

    csrf = page.input_value("input[name=csrf]")  # even a stolen token does not help another site
    attacker = f"""<form id=f method=post action="{url}/review/rubric">
        {
        "".join(
            f'<input name="{k}" value="{v}">'
            for k, v in [kv.split("=") for kv in (fields + "&csrf=" + csrf).split("&")]
        )
    }
        </form><script>document.getElementById('f').submit()</script>"""

    class Attacker(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(attacker.encode())

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_url(f"{url}/review/rubric")
        assert "Refused" in page.inner_text("main")
    finally:
        server.shutdown()
    assert ReviewStore(db).count("ratings") == 0


def test_two_reviewers_with_different_links_cannot_see_or_change_each_others_ratings(review, browser):
    page, url, db = review
    sign_in(page, url, db, "Paula")
    other = browser.new_context()  # a second person: their own browser, their own link
    try:
        rita = other.new_page()
        sign_in(rita, url, db, "Rita")
        page.goto(f"{url}/review/rubric")
        item = page.input_value("input[name=item]")
        for key in ("4", "1", "5", "1", "1"):
            page.keyboard.press(key)
        page.fill("#comment", "Paula's private note")
        with page.expect_navigation():
            page.click("#submit")
        rita.goto(f"{url}/review/rubric")
        assert rita.input_value("input[name=item]") == item  # the same answer, to be rated independently
        assert "Paula" not in rita.content() and rita.locator("input:checked").count() == 0
        csrf, stamp = rita.input_value("input[name=csrf]"), rita.input_value("input[name=stamp]")
        forged = {"csrf": csrf, "item": item, "stamp": stamp, "reviewer": "Paula"} | {k: "1" for k in GOOD} | {
            "c_factual_correctness": "fail", "c_tone": "neutral", "c_guideline_adherence": "fail"}  # fmt: skip
        post = """form => fetch('/review/rubric', {method: 'POST', redirect: 'manual', body: new URLSearchParams(form),
            headers: {'Content-Type': 'application/x-www-form-urlencoded'}}).then(r => r.type + r.status)"""
        assert rita.evaluate(post, forged) == "opaqueredirect0"  # saved: as Rita's rating, whatever the form says
        paulas_csrf = page.input_value("input[name=csrf]")
        assert rita.evaluate(post, forged | {"csrf": paulas_csrf}) == "basic403"  # Paula's token is not Rita's
        by = {r.reviewer: r for r in ReviewStore(db).ratings()}
        assert sorted(by) == ["Paula", "Rita"]
        assert by["Paula"].scores["accuracy"] == "4" and by["Paula"].comment == "Paula's private note"
        assert by["Rita"].scores["accuracy"] == "1"
        rita.goto(f"{url}/")
        assert "1 rated by you" in rita.inner_text("main")
        page.goto(f"{url}/")
        assert "1 rated by you" in page.inner_text("main")
    finally:
        other.close()
