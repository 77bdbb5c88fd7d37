"""Options of the review, data-quality and monitoring suites, declared by the plugin so that they work
with `pytest suites/` as well as when the suite's own directory is named (pytest reads a sub-directory's
conftest options only when that directory is on the command line)."""

from __future__ import annotations

import pytest


def _review(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness-review", "human review gate (suites/review)")
    group.addoption("--review-db", metavar="PATH", help="review database (default: <harness cache>/review.sqlite)")
    group.addoption(
        "--require-review",
        action="store_true",
        default=False,
        help="fail, rather than skip, when there is no review (also HARNESS_REQUIRE_REVIEW=1)",
    )
    group.addoption(
        "--review-min-pass-rate", type=float, default=0.7, help="required Wilson lower bound of the pass rate"
    )
    group.addoption(
        "--review-alpha", type=float, default=0.05, help="significance level of 'tuned worse than base' (A/B)"
    )
    group.addoption("--review-min-agreement", type=float, default=0.667, help="required Krippendorff's alpha")


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
    group.addoption("--monitor-window", default="1d", metavar="N|SPAN", help="window: a count or a span (default 1d)")
    group.addoption("--monitor-since", metavar="ISO_TIME", help="only records at or after this time")
    group.addoption("--monitor-until", metavar="ISO_TIME", help="only records before this time")
    group.addoption(
        "--monitor-alpha", type=float, default=0.05, help="chance of any false alarm over the horizon (default 0.05)"
    )
    group.addoption("--monitor-horizon", type=int, default=30, help="windows the alpha covers (default 30)")
    group.addoption("--monitor-json", metavar="PATH", help="also write the drift report as JSON")
    group.addoption("--monitor-html", metavar="PATH", help="also write the drift report as an HTML page")


def add_suite_options(parser: pytest.Parser) -> None:
    """Add every suite's option group."""
    for add in (_review, _data, _monitoring):
        add(parser)
