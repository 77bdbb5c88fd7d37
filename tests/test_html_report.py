"""The HTML promotion report, the run's reasons and the baselines' history, without a browser.

`run_document` builds a run's JSON report from real gate verdicts on a small eval set whose tuned model
forgets and writes hostile answers; the browser tests (test_html_report_browser.py) load the same page.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main
from harness.gate import evaluate
from harness.html_report.evidence import MAX_TEXT_CHARS, Limits, eval_items, metric_sources, provenance
from harness.html_report.flips import IMPROVED, REGRESSED, flipped_items, word_diff
from harness.html_report.forest import forest_rows, forest_svg
from harness.html_report.history import baseline_history, changes, write_history_page
from harness.html_report.page import render_page, write_page
from harness.metrics.items import mean_result
from harness.records import CaseOutcome, MetricRecord, OutputRecord
from harness.report import DO_NOT_PROMOTE, Reason, as_json, reason_lines, run_reasons, run_verdict

SCRIPT_ANSWER = "<script>document.title='pwned'</script>"
IMG_ANSWER = '"><img src=x onerror="document.title=\'pwned\'">'
N = 40
SUITE = "suites/test_qa.py"


def qa_rows() -> list[dict]:
    rows = [
        {"id": f"q{k:02d}", "prompt": f"Question {k}?", "reference": f"answer {k}", "category": ["even", "odd"][k % 2]}
        for k in range(N)
    ]
    rows[1]["prompt"] = "<b>bold</b> " + SCRIPT_ANSWER  # hostile eval data, too
    return rows


def _answer(role: str, k: int) -> str:
    if role == "tuned" and k == 0:
        return SCRIPT_ANSWER
    if role == "tuned" and k == 2:
        return IMG_ANSWER
    return f"the answer {k}" if role == "base" or k >= 12 else f"maybe answer {k + 1} or so"


def run_document(tmp_path: Path, *, forgets: bool = True) -> dict:
    """A run's JSON report (as the plugin writes it): exact match gated vs base, fluency gated, hostile answers."""
    data = tmp_path / "data" / "qa.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_text("".join(json.dumps(row) + "\n" for row in qa_rows()), encoding="utf-8")
    ids = [row["id"] for row in qa_rows()]
    lost = 12 if forgets else 0  # items the tuned model gets wrong that the base got right
    scores = {
        "base": [1.0] * (N - 4) + [0.0] * 4,
        "tuned": [0.0] * lost + [1.0] * (N - 4 - lost) + [1.0, 1.0, 0.0, 0.0],
    }
    fluency = {"base": [0.5 + 0.01 * k for k in range(N)], "tuned": [0.52 + 0.01 * k for k in range(N)]}
    records = []
    for role in ("base", "tuned"):
        model = "demo:base" if role == "base" else "demo:forgetful"
        common = {
            "suite": SUITE,
            "role": role,
            "model": model,
            "model_fingerprint": f"{role}-fingerprint",
            "base_fingerprint": "base-fingerprint",
            "data_fingerprint": "qa-fingerprint",
            "data_path": "data/qa.jsonl",
            "environment": {"harness": "0.1.0", "torch": "2.x"},
        }
        records.append(
            MetricRecord(
                test="test_exact",
                result=mean_result("exact_match", ids, scores[role], n_resamples=2000),
                rules={"max_drop_vs_base": 0.05, "alpha": 0.05},
                **common,
            )
        )
        records.append(
            MetricRecord(
                test="test_fluency",
                result=mean_result("fluency", ids, fluency[role], n_resamples=2000),
                rules={"max_drop_vs_base": 0.1},
                **common,
            )
        )
    outputs = [
        OutputRecord("qa", row["id"], role, row["prompt"], _answer(role, k), row["reference"], row["category"], SUITE)
        for k, row in enumerate(qa_rows())
        for role in ("base", "tuned")
    ]
    verdicts = evaluate(records, {}, {}, n_resamples=2000)
    limits = Limits()
    cases = [
        CaseOutcome("suites/adversarial/facts.yaml", "capital-kenya", "base", True, "capitals"),
        CaseOutcome(
            "suites/adversarial/facts.yaml", "capital-kenya", "tuned", not forgets, "capitals", "label: " + IMG_ANSWER
        ),
    ]
    where = "suites/adversarial/facts.yaml::capital-kenya[tuned]"
    problems = [Reason("test failed", where, "label: expected Nairobi")] if forgets else []
    reasons = run_reasons(verdicts, problems)
    evidence = {
        "verdict": DO_NOT_PROMOTE if problems else run_verdict(verdicts),
        "reasons": [{"kind": r.kind, "where": r.where, "message": r.message} for r in reasons],
        "sources": metric_sources(records),
        "items": eval_items(records, outputs, tmp_path, limits),
        "cases": [
            {
                "group": "suites/adversarial/facts.yaml",
                "cases": [
                    {
                        "id": "capital-kenya",
                        "category": "capitals",
                        "kind": "MFT",
                        "gate": "must_pass",
                        "input": "The capital of Kenya is",
                        "variants": [{"name": "typos", "input": "Teh capital of Kenya si"}],
                        "outcomes": {o.role: {"passed": o.passed, "detail": o.detail} for o in cases},
                    }
                ],
            }
        ],
        "provenance": provenance(
            records,
            {"base": "demo:base", "tuned": "demo:forgetful"},
            ["pytest", "suites/"],
            now=dt.datetime(2026, 1, 2, tzinfo=dt.UTC),
        ),  # fmt: skip
        "limits": limits.as_dict(),
    }
    return json.loads(as_json(verdicts, evidence))


@pytest.fixture
def failing(tmp_path) -> dict:
    return run_document(tmp_path)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def test_the_json_report_keeps_per_item_scores_answers_and_reasons(failing):
    exact = next(m for m in failing["metrics"] if m["metric"] == "exact_match")
    assert len(exact["base"]["per_item"]) == N and len(exact["tuned"]["per_item"]) == N
    assert exact["gated"] and exact["status"] == "FAIL"
    item = failing["items"]["data/qa.jsonl"]["q00"]
    assert item["answers"] == {"base": "the answer 0", "tuned": SCRIPT_ANSWER}
    assert item["category"] == "even" and item["reference"] == "answer 0"
    kinds = [r["kind"] for r in failing["reasons"]]
    assert kinds == ["test failed", "gated metric"]  # failed tests first, then the gated metrics
    assert failing["report_format"] == 2 and failing["provenance"]["models"]["tuned"]["name"] == "demo:forgetful"


def test_the_page_is_self_contained_and_locked_down(failing):
    page = render_page(failing)
    found = tags(page)
    names = [tag for tag, _ in found]
    assert "link" not in names and "iframe" not in names and "object" not in names
    for tag, attrs in found:
        for key in ("src", "href", "action", "srcset"):
            value = attrs.get(key) or ""
            assert not re.match(r"\s*(https?:)?//", value), (tag, key, value)  # nothing from the network
            if key == "src" and key in attrs:
                assert value.startswith("data:image/svg+xml;base64,"), (tag, value[:40])
    (script,) = [attrs for tag, attrs in found if tag == "script"]
    assert "src" not in script
    (csp,) = [a["content"] for t, a in found if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; img-src data:; style-src 'sha256-")
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert not any(k.startswith("on") for _, attrs in found for k in attrs)  # no inline event handler at all


def test_hostile_answers_and_prompts_are_escaped(failing):
    page = render_page(failing)
    body = page[page.index("<body>") :]
    assert SCRIPT_ANSWER not in body and "<img src=x" not in body and "<b>bold</b>" not in body
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=" in body
    assert [tag for tag, _ in tags(body)].count("script") == 1  # only the page's own filter script


def test_one_forest_row_per_gated_metric_coloured_by_verdict(failing):
    rows = forest_rows(failing)
    assert [(r.metric, r.status) for r in rows] == [("exact_match", "FAIL"), ("fluency", "PASS")]
    exact = rows[0].estimates[0]
    assert exact.reference == "base" and exact.margin == pytest.approx(0.05)
    assert exact.low < exact.change < exact.high < -0.05  # the whole interval lies beyond the allowed drop
    svg = forest_svg(rows)
    assert len(re.findall(r'<g id="forest-row-\d+"', svg)) == 2
    assert "#cf222e" in svg and "#1a7f37" in svg  # the fail and the pass colour


def test_lower_is_better_rows_point_right_when_the_metric_improves():
    perplexity = {
        "metric": "perplexity",
        "suite": "s",
        "gated": True,
        "status": "PASS",
        "tuned": {"higher_is_better": False},
        "vs_base": {"delta": -2.0, "ci": [-3.0, -1.0]},
        "margin_tests": [],
    }
    (row,) = forest_rows({"metrics": [perplexity]})
    assert (row.estimates[0].change, row.estimates[0].low, row.estimates[0].high) == (2.0, 1.0, 3.0)


def test_flipped_items_are_the_items_that_passed_on_one_model_only(failing):
    flips, _ = flipped_items(failing)
    exact = [f for f in flips if f["metric"] == "exact_match"]
    assert sorted(f["item_id"] for f in exact if f["direction"] == REGRESSED) == [f"q{k:02d}" for k in range(12)]
    assert sorted(f["item_id"] for f in exact if f["direction"] == IMPROVED) == ["q36", "q37"]
    q03 = next(f for f in exact if f["item_id"] == "q03")
    assert (q03["base_answer"], q03["tuned_answer"], q03["category"]) == ("the answer 3", "maybe answer 4 or so", "odd")
    assert ("del", "the") in q03["diff"] and ("ins", "maybe") in q03["diff"]
    assert {f["suite"] for f in flips} == {SUITE}  # this run recorded no pass rate of its case file: no flips


@given(st.text(max_size=60), st.text(max_size=60))
def test_a_word_diff_rebuilds_both_texts(before, after):
    runs = word_diff(before, after)
    assert "".join(text for kind, text in runs if kind != "ins") == before
    assert "".join(text for kind, text in runs if kind != "del") == after


def test_long_texts_are_cut_with_a_note(tmp_path):
    limits = Limits()
    text = limits.text("x" * (MAX_TEXT_CHARS + 10))
    assert text.startswith("x" * MAX_TEXT_CHARS) and "10 more characters cut" in text
    assert limits.as_dict()["notes"] == [f"1 text(s) longer than {MAX_TEXT_CHARS:,} characters were cut"]


def test_the_page_is_the_same_when_drawn_again_from_the_saved_json(failing, tmp_path):
    saved = tmp_path / "gate.json"
    saved.write_text(json.dumps(failing))
    assert main(["report", str(saved), "--html", str(tmp_path / "again.html"), "--no-history"]) == 0
    assert (tmp_path / "again.html").read_text(encoding="utf-8") == render_page(failing)


def test_a_passing_run_says_promote_without_reasons(tmp_path):
    document = run_document(tmp_path, forgets=False)
    page = render_page(document)
    assert 'data-verdict="PROMOTE"' in page and 'id="reasons"' not in page
    assert {r.status for r in forest_rows(document)} == {"PASS"}


def test_reason_lines_name_every_reason_up_to_a_limit():
    reasons = [Reason("test failed", f"t.py::test_{k}", "AssertionError") for k in range(45)]
    lines = reason_lines(reasons)
    assert lines[0] == "  - test failed: t.py::test_0: AssertionError"
    assert len(lines) == 41 and lines[-1] == "  ... and 5 more (all of them are in the --harness-json report)"


def test_report_refuses_what_is_not_a_run_report(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"verdict": "PROMOTE",\n "metrics": [}')
    assert main(["report", str(bad), "--html", str(tmp_path / "r.html")]) == 2
    assert f"{bad}:2:14: not JSON" in capsys.readouterr().err
    old = tmp_path / "old.json"
    old.write_text('{"verdict": "PROMOTE", "metrics": [], "passed": true}')
    assert main(["report", str(old), "--html", str(tmp_path / "r.html")]) == 2
    assert "written by an older harness" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def _git(repo: Path, *args: str) -> None:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def _baseline(value: float) -> str:
    result = {"name": "acc", "value": value, "ci": [value - 0.1, value + 0.1], "n": 0, "per_item": {},
              "higher_is_better": True, "unit": "", "details": {}}  # fmt: skip
    entry = {"result": result, "measured_on": {"model": "tuned-v", "date": "2026-01-01"}}
    return json.dumps({"format": 1, "suite": "suites/test_a.py", "base": {}, "promoted": {"acc": entry}})


def test_history_follows_the_promoted_value_over_commits(tmp_path):
    repo = tmp_path / "repo"
    (repo / "baselines" / "suites").mkdir(parents=True)
    _git(repo, "init", "-q")
    target = repo / "baselines" / "suites" / "test_a.json"
    for message, value in (("first promotion", 0.7), ("README only", None), ("second promotion", 0.8)):
        if value is None:
            (repo / "README").write_text("x")
        else:
            target.write_text(_baseline(value))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", message)
    (repo / "baselines" / "suites" / "broken.json").write_text("{")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "a broken file")
    points, problems = baseline_history(repo, repo / "baselines")
    series = changes(points)
    assert [(p.value, p.subject) for p in series[("suites/test_a.py", "acc")]] == [
        (0.7, "first promotion"),
        (0.8, "second promotion"),
    ]
    assert len(problems) == 1 and "broken.json: not a readable baseline file" in problems[0]
    page = write_history_page(repo, repo / "baselines", tmp_path / "history.html").read_text()
    assert "second promotion" in page and "data:image/svg+xml;base64," in page


def test_the_report_links_the_history_written_next_to_it(failing, tmp_path):
    page = write_page(failing, tmp_path / "gate.html", "gate-history.html").read_text()
    assert 'id="history-link" href="gate-history.html"' in page
