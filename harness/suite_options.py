"""Options of the review, data-quality and monitoring suites, declared by the plugin so that they work
with `pytest suites/` as well as when the suite's own directory is named (pytest reads a sub-directory's
conftest options only when that directory is on the command line)."""

from __future__ import annotations

import pytest

from harness.monitoring import defaults
from harness.review.gate import DEFAULT_THRESHOLDS


def _review(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-review", "human review gate (suites/review)")
    group.addoption("--review-db", metavar="PATH", help="review database (default: <harness cache>/review.sqlite)")
    group.addoption(
        "--require-review",
        action="store_true",
        default=False,
        help="fail, rather than skip, when there is no review (also HARNESS_REQUIRE_REVIEW=1)",
    )
    defaults = DEFAULT_THRESHOLDS
    group.addoption(
        "--review-min-pass-rate",
        type=float,
        default=defaults.min_pass_rate,
        help=f"required Wilson lower bound of the pass rate (default {defaults.min_pass_rate})",
    )
    group.addoption(
        "--review-alpha",
        type=float,
        default=defaults.alpha,
        help=f"significance level of 'tuned worse than base' (A/B; default {defaults.alpha})",
    )
    group.addoption(
        "--review-min-agreement",
        type=float,
        default=defaults.min_agreement,
        help=f"required Krippendorff's alpha (default {defaults.min_agreement})",
    )


def _data(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-data", "fine-tuning data quality (suites/data)")
    group.addoption("--data-spec", metavar="PATH", help="data specification (default: the demo clause spec)")
    group.addoption(
        "--train-data",
        metavar="PATH",
        action="append",
        help="training data JSONL; repeat for several files (default: the clean demo set)",
    )
    group.addoption(
        "--data-eval-sets",
        metavar="DIR",
        action="append",
        help="eval sets to check for contamination; repeatable (default: fixtures/data and suites/)",
    )
    group.addoption("--data-report", metavar="PATH", help="also write the lint report as JSON")


def _monitoring(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-monitor", "production drift (suites/monitoring)")
    group.addoption(
        "--monitor-logs",
        metavar="PATH",
        action="append",
        help="production log JSONL; repeatable (default: the demo logs' stable period)",
    )
    group.addoption(
        "--monitor-reference",
        metavar="PATH",
        action="append",
        help="reference inputs (eval sets or trusted logs); repeatable (default: the demo eval sets)",
    )
    group.addoption(
        "--monitor-window",
        default=defaults.WINDOW,
        metavar="N|SPAN",
        help=f"window: a count or a span (default {defaults.WINDOW})",
    )
    group.addoption("--monitor-since", metavar="ISO_TIME", help="only records at or after this time")
    group.addoption("--monitor-until", metavar="ISO_TIME", help="only records before this time")
    group.addoption(
        "--monitor-alpha",
        type=float,
        default=defaults.ALPHA,
        help=f"chance of any false alarm over the horizon (default {defaults.ALPHA})",
    )
    group.addoption(
        "--monitor-horizon", type=int, default=defaults.HORIZON, help=f"windows the alpha covers ({defaults.HORIZON})"
    )
    group.addoption("--monitor-json", metavar="PATH", help="also write the drift report as JSON")
    group.addoption("--monitor-html", metavar="PATH", help="also write the drift report as an HTML page")


def _judge(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-judge", "model-graded answers (suites/test_judged_answers.py)")
    group.addoption(
        "--judge-model",
        metavar="SPEC",
        help="the judge: a local model directory or openai+http://HOST:PORT/v1?model=NAME (default: the scripted "
        "demo:judge when the base is a demo model, else none: the judged suite is skipped)",
    )
    group.addoption(
        "--allow-self-judge",
        action="store_true",
        default=False,
        help="let the judge be the base or tuned model it grades (it will favour its own answers)",
    )
    group.addoption("--judge-rubric", metavar="PATH", help="rubric YAML (default: fixtures/review/rubric.yaml)")
    group.addoption(
        "--judge-labels",
        metavar="PATH",
        help="human ratings to calibrate the judge: a review export (.jsonl/.csv); default: the --review-db database",
    )
    group.addoption(
        "--judge-min-kappa", type=float, default=0.4, help="judge-human kappa needed to gate on the judge alone"
    )
    group.addoption(
        "--judge-max-drop", type=float, default=0.05, help="allowed drop of a judged pass rate vs base (default 0.05)"
    )
    group.addoption(
        "--judge-min-win-rate",
        type=float,
        default=None,
        help="gate: the lower 95%% bound of the judged win rate must reach this (default: reported only)",
    )


def add_suite_options(parser: pytest.Parser) -> None:
    """Add every suite's option group."""
    for add in (_review, _data, _monitoring, _judge):
        add(parser)
