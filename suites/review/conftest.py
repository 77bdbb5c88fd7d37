"""Options of the human-review gate (suites/review).

    pytest suites/review/ [--review-db PATH] [--require-review] [--review-min-pass-rate 0.7]
                          [--review-alpha 0.05] [--review-min-agreement 0.667]

Without a review database the gate is skipped with instructions, so a fresh clone passes; in a
promotion pipeline pass --require-review (or set HARNESS_REQUIRE_REVIEW=1) so that a missing review fails.
The options are declared by the plugin (harness/suite_options.py), so `pytest suites/ --require-review` works too.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def review_db(request: pytest.FixtureRequest, harness_session) -> Path:
    """Where the review of the candidate is kept."""
    given = request.config.getoption("--review-db") or os.environ.get("HARNESS_REVIEW_DB")
    return Path(str(given)) if given else harness_session.config.harness_cache_dir / "review.sqlite"


@pytest.fixture(scope="session")
def review_required(request: pytest.FixtureRequest) -> bool:
    """Whether a missing review fails the gate instead of skipping it."""
    return bool(request.config.getoption("--require-review")) or os.environ.get(
        "HARNESS_REQUIRE_REVIEW", ""
    ).lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def review_thresholds(request: pytest.FixtureRequest):
    """The gate's thresholds from the command line."""
    from harness.review.gate import ReviewThresholds

    return ReviewThresholds(
        min_pass_rate=float(request.config.getoption("--review-min-pass-rate")),
        alpha=float(request.config.getoption("--review-alpha")),
        min_agreement=float(request.config.getoption("--review-min-agreement")),
    )
