"""Which collected tests run: this shard's cases only, and no [base] run whose stored results still hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.recorder import relative
from harness.records import BASE
from harness.session import HarnessSession


def select(items: list[pytest.Item], config: pytest.Config, harness: HarnessSession, reuse_base: bool) -> None:
    """With --shard, deselect other shares' cases; with --reuse-base, skip [base] runs whose stored results
    still match the base model and eval data."""
    if harness.shard:
        from harness.cases.collect import CaseItem

        shard = harness.shard
        kept: list[pytest.Item] = []
        outside: list[pytest.Item] = []
        for item in items:  # one pass: a membership test per item would be quadratic in the case count
            other = isinstance(item, CaseItem) and not shard.keeps(str(item.path.name), item.case.id)
            (outside if other else kept).append(item)
        if outside:
            config.hook.pytest_deselected(items=outside)
            items[:] = kept
    if reuse_base:
        _skip_reused_base(items, config.rootpath, harness)


def _skip_reused_base(items: list[pytest.Item], rootpath: Path, harness: HarnessSession) -> None:
    from harness.baselines import BaselineStore, is_fresh

    try:
        base_fingerprint = harness.base_fingerprint()
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    store = BaselineStore(harness.config.baselines_directory)
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("model") != BASE:
            continue
        suite = relative(Path(str(item.path)), rootpath)
        stored = [e for e in store.load(suite)[BASE].values() if e.test == getattr(item, "originalname", item.name)]
        if stored and all(is_fresh(e, base_fingerprint, rootpath) for e in stored):
            item.add_marker(pytest.mark.skip(reason=f"base results reused from {store.path_for(suite)}"))
