"""The HTML promotion report in a real browser (headless Chromium via Playwright): it loads nothing, logs no
error, draws one forest row per gated metric, filters and pages the flipped items, and shows hostile model
output as text. Then the real demo: a passing and a forgetting candidate, each through `--harness-html`.

Skipped when /usr/bin/chromium or the playwright package is missing (CI installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from headless import require_chromium
from test_html_report import SCRIPT_ANSWER, run_document

from harness.html_report.forest import forest_rows
from harness.html_report.page import write_page

REPO = Path(__file__).resolve().parents[1]
MAX_DEMO_PAGE_BYTES = 2_000_000

sync_api = require_chromium()


def open_page(browser, path: Path):
    """A fresh page on `path`, with every console message, request and dialog recorded."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.events = {"console": [], "requests": [], "dialogs": []}
    page.on("console", lambda message: page.events["console"].append(f"{message.type}: {message.text}"))
    page.on("request", lambda request: page.events["requests"].append(request.url))
    page.on("dialog", lambda dialog: (page.events["dialogs"].append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


def assert_quiet(page, path: Path) -> None:
    """No console message (errors, CSP reports), no request but the page itself and its inline image."""
    assert page.events["console"] == []
    assert [url for url in page.events["requests"] if not url.startswith("data:")] == [path.as_uri()]
    assert page.events["dialogs"] == []


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, browser):
    directory = tmp_path_factory.mktemp("report")
    document = run_document(directory)
    path = write_page(document, directory / "gate.html")
    return document, path


def visible(page) -> int:
    return page.locator("article.flip:visible").count()


def test_the_page_loads_quietly_with_one_forest_row_per_gated_metric(browser, synthetic):
    document, path = synthetic
    page = open_page(browser, path)
    assert_quiet(page, path)
    assert page.locator("#forest-table tbody tr").count() == len(forest_rows(document)) == 2
    assert page.locator("#forest-table tr.status-fail td.status").all_inner_texts() == ["FAIL"]
    assert page.eval_on_selector("#forest-plot", "img => img.complete && img.naturalWidth > 0")
    assert page.inner_text("#verdict h1") == "DO NOT PROMOTE"


def test_filters_narrow_the_flipped_items_and_long_lists_are_paged(browser, synthetic):
    _, path = synthetic
    page = open_page(browser, path)
    total = page.locator("article.flip").count()
    assert total == 34 and visible(page) == 25  # 14 exact-match flips, the 20 largest fluency moves; 25 a page
    page.click("#page-next")
    assert visible(page) == total - 25 and page.inner_text("#page-label") == "page 2 of 2"
    page.select_option("#filter-metric", "exact_match")
    assert visible(page) == 14 and page.inner_text("#page-label") == "page 1 of 1"
    page.select_option("#filter-direction", "regressed")
    assert visible(page) == 12
    page.select_option("#filter-category", "odd")
    assert visible(page) == 6
    assert all(
        c == "odd" for c in page.eval_on_selector_all("article.flip:visible", "a => a.map(x => x.dataset.category)")
    )
    page.select_option("#filter-category", "")
    page.fill("#filter-text", "q03")
    assert visible(page) == 1 and "maybe answer 4 or so" in page.inner_text("article.flip:visible .tuned-answer")
    assert page.inner_text("#flip-count") == "1 of 34 item(s) match"
    assert_quiet(page, path)


def test_hostile_model_output_renders_as_text(browser, synthetic):
    _, path = synthetic
    page = open_page(browser, path)
    page.fill("#filter-text", "pwned")
    assert page.title().startswith("DO NOT PROMOTE")  # no payload rewrote the title
    answers = page.locator("article.flip:visible .tuned-answer").all_inner_texts()
    assert SCRIPT_ANSWER in answers and any('"><img src=x onerror=' in a for a in answers)
    assert page.locator("main img").count() == 1  # the forest plot only: no injected image
    assert page.locator("script").count() == 1 and page.locator("#flip-list b, #cases b").count() == 0
    assert "<b>bold</b>" in page.inner_text("#flips")
    assert_quiet(page, path)


# -- the real demo ------------------------------------------------------------------------------


def run_demo(directory: Path, tuned: str) -> tuple[subprocess.CompletedProcess[str], Path, dict]:
    """`pytest suites/ --tuned-model TUNED --harness-html ...`, with a private copy of the response cache."""
    cache = directory / "cache"
    cache.mkdir(exist_ok=True)
    for name in ("responses.sqlite", "fingerprints.json"):
        if (REPO / ".harness" / name).is_file() and not (cache / name).exists():
            shutil.copy(REPO / ".harness" / name, cache / name)  # answers are keyed by fingerprints: only faster
    html, report = directory / f"{tuned.replace(':', '-')}.html", directory / f"{tuned.replace(':', '-')}.json"
    environment = {**os.environ, "HARNESS_CACHE_DIR": str(cache)}
    for variable in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT"):
        environment.pop(variable, None)
    command = [sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider", "--tuned-model", tuned,
               f"--harness-html={html}", f"--harness-json={report}"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=1200)
    return done, html, json.loads(report.read_text()) if report.is_file() else {}


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("demo")
    return {tuned: run_demo(directory, tuned) for tuned in ("demo:clauses-replay", "demo:clauses")}


def test_the_forgetting_demo_shows_its_failure_at_a_glance(browser, demo_runs):
    done, html, report = demo_runs["demo:clauses"]
    assert done.returncode == 1, done.stdout[-3000:]
    assert "  - gated metric: suites/test_general_capability.py::general_accuracy: " in done.stdout
    assert html.stat().st_size < MAX_DEMO_PAGE_BYTES
    page = open_page(browser, html)
    assert_quiet(page, html)
    assert page.inner_text("#verdict h1") == "DO NOT PROMOTE"
    gated = [m for m in report["metrics"] if m["gated"] or m["failures"]]
    assert page.locator("#forest-table tbody tr").count() == len(gated)
    row = page.locator("#forest-table tbody tr", has_text="general_accuracy")
    assert row.get_attribute("class") == "status-fail" and row.locator("td.status").inner_text() == "FAIL"
    page.select_option("#filter-eval_set", "fixtures/data/general_probes.jsonl")
    page.select_option("#filter-direction", "regressed")
    assert visible(page) > 0
    assert page.locator("article.flip:visible", has_text="general_accuracy").count() == visible(page)
    assert "general_knowledge.jsonl" in page.inner_text("#cases")


def test_the_passing_demo_promotes_on_a_quiet_page(browser, demo_runs):
    done, html, report = demo_runs["demo:clauses-replay"]
    assert done.returncode == 0, done.stdout[-3000:]
    assert report["verdict"] == "PROMOTE" and report["reasons"] == []
    assert html.stat().st_size < MAX_DEMO_PAGE_BYTES
    page = open_page(browser, html)
    assert_quiet(page, html)
    assert page.inner_text("#verdict h1") == "PROMOTE"
    assert set(page.locator("#forest-table td.status").all_inner_texts()) == {"PASS"}
