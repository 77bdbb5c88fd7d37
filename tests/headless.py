"""Headless Chromium for the browser tests (review app, HTML report): one launch recipe, skipped cleanly.

A test module calls `require_chromium()` at import; the `browser` fixture (tests/conftest.py) launches it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def require_chromium() -> ModuleType:
    """playwright's sync API, or skip the calling module saying what is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)
    return sync_api
