"""Options of the human-review gate (suites/review).

    pytest suites/review/ [--review-db PATH] [--require-review] [--review-min-pass-rate 0.7]
                          [--review-alpha 0.05] [--review-min-agreement 0.667]

Without a review database the gate is skipped with instructions, so a fresh clone passes; in a
promotion pipeline pass --require-review (or set HARNESS_REQUIRE_REVIEW=1) so that a missing review fails.
pytest reads a sub-directory's options only when that directory is named on the command line, so with
`pytest suites/` use the environment: HARNESS_REQUIRE_REVIEW=1, HARNESS_REVIEW_DB=PATH.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
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


def _option(config: pytest.Config, name: str, default: object) -> object:
    """An option's value; its default when this conftest was loaded after the command line was read."""
    value = config.getoption(name, default=None)
    return default if value is None else value


@pytest.fixture(scope="session")
def review_db(request: pytest.FixtureRequest, harness_session) -> Path:
    """Where the review of the candidate is kept."""
    given = _option(request.config, "--review-db", None) or os.environ.get("HARNESS_REVIEW_DB")
    return Path(str(given)) if given else harness_session.config.harness_cache_dir / "review.sqlite"


@pytest.fixture(scope="session")
def review_required(request: pytest.FixtureRequest) -> bool:
    """Whether a missing review fails the gate instead of skipping it."""
    return bool(_option(request.config, "--require-review", False)) or os.environ.get(
        "HARNESS_REQUIRE_REVIEW", ""
    ).lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def review_thresholds(request: pytest.FixtureRequest):
    """The gate's thresholds from the command line."""
    from harness.review.gate import ReviewThresholds

    return ReviewThresholds(
        min_pass_rate=float(_option(request.config, "--review-min-pass-rate", 0.7)),
        alpha=float(_option(request.config, "--review-alpha", 0.05)),
        min_agreement=float(_option(request.config, "--review-min-agreement", 0.667)),
    )
