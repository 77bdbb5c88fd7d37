"""Shared fixtures for the harness's own tests: tiny random models built in seconds, once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True, scope="session")
def _import_extension_modules_once() -> None:
    """In-process pytester runs drop modules imported during the run; pyarrow (via datasets) cannot be
    imported a second time in one process, so it is imported before any of them."""
    import datasets  # noqa: F401


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny random base model and a LoRA adapter on it, as save_pretrained directories."""
    from tiny_models import build_adapter, build_model

    root = tmp_path_factory.mktemp("tiny")
    base = build_model(root / "base")
    return {"base": base, "adapter": build_adapter(base, root / "adapter"), "root": root}


@pytest.fixture(scope="session")
def tiny_pair(tiny_dirs: dict[str, Path]):
    """The tiny base + adapter loaded as a ModelPair (shared weights)."""
    from harness.models.loading import LoadOptions, load_pair

    return load_pair(str(tiny_dirs["base"]), str(tiny_dirs["adapter"]), LoadOptions(batch_size=3))


@pytest.fixture
def run_on_tiny(pytester: pytest.Pytester, tiny_dirs: dict[str, Path]):
    """Run pytest in the pytester directory (its rootdir) on the tiny base and adapter."""

    def run(*args: str, subprocess: bool = False) -> pytest.RunResult:
        runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
        models = ("--base-model", str(tiny_dirs["base"]), "--tuned-model", str(tiny_dirs["adapter"]))
        return runner(*models, "-p", "no:cacheprovider", f"--rootdir={pytester.path}", *args)

    return run


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (the module calls headless.require_chromium() to skip cleanly)."""
    from headless import ARGS, CHROMIUM, require_chromium

    with require_chromium().sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()
