"""`--shard I/N` runs and `harness merge`: N jobs plus a merged verdict run equal one unsharded run."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.cli import main as harness_main
from harness.errors import HarnessError
from harness.merge_cli import merge_caches
from harness.models.cache import ResponseCache
from harness.shards import Shard

REPO = Path(__file__).resolve().parents[1]
SUITES = ["suites/test_general_capability.py", "suites/test_clause_summaries.py"]


@given(st.lists(st.text(max_size=12), unique=True, max_size=60), st.integers(1, 9))
def test_every_item_is_in_exactly_one_share_whatever_else_is_there(ids, count):
    shards = [Shard(i, count) for i in range(count)]
    for item in ids:
        assert sum(shard.keeps("eval", item) for shard in shards) == 1
    # An item's share depends on the item alone: not on the other items or their order.
    assert [shards[0].keeps("eval", i) for i in ids] == [shards[0].keeps("eval", i) for i in reversed(ids)][::-1]


def test_shares_are_balanced_enough_to_split_work():
    kept = [sum(Shard(i, 4).keeps("probes", f"item-{n}") for n in range(4000)) for i in range(4)]
    assert sum(kept) == 4000 and min(kept) > 900, kept


@pytest.mark.parametrize("text", ["4/4", "-1/4", "1", "a/b", "0/0", "1/2/3"])
def test_a_share_that_is_not_i_of_n_is_refused_with_an_example(text):
    with pytest.raises(HarnessError, match="is not a share I/N") as info:
        Shard.parse(text)
    assert "--shard 0/4" in str(info.value)


def pytest_run(*args: str, cache: Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_CACHE_DIR": str(cache), "SOURCE_DATE_EPOCH": "1767225600"}
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_XDIST_WORKER_COUNT", None)
    command = [sys.executable, "-m", "pytest", *SUITES, "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_sharded_then_merged_gives_the_unsharded_report_byte_for_byte(tmp_path):
    # One report path and one cache directory for both verdict runs: the report names them.
    report, cache = tmp_path / "gate.json", tmp_path / "cache"
    whole = pytest_run(f"--harness-json={report}", cache=cache)
    assert whole.returncode == 0, whole.stdout[-3000:]
    unsharded = report.read_bytes()
    report.unlink()
    cache.rename(tmp_path / "unsharded-cache")

    caches = []
    for index in range(3):
        shard = pytest_run("--shard", f"{index}/3", cache=tmp_path / f"shard{index}")
        assert shard.returncode == 0, shard.stdout[-3000:]  # partial metrics may fail: not this job's verdict
        assert f"shard {index}/3:" in shard.stdout and "not a verdict" in shard.stdout
        assert "verdict: PROMOTE" not in shard.stdout and not report.exists()
        caches.append(tmp_path / f"shard{index}" / "responses.sqlite")
    shard_answers = [len(ResponseCache(c)) for c in caches]
    assert min(shard_answers) > 0

    merged_cache = cache / "responses.sqlite"
    assert harness_main(["merge", *map(str, caches), "--into", str(merged_cache)]) == 0
    assert len(ResponseCache(merged_cache)) == sum(shard_answers)  # the shares are disjoint

    verdict = pytest_run(f"--harness-json={report}", cache=cache)
    assert verdict.returncode == 0, verdict.stdout[-3000:]
    calls = next(line for line in verdict.stdout.splitlines() if line.startswith("model calls:"))
    for role in calls.removeprefix("model calls: ").split("; "):  # every answer came from the shards
        asked, cached = role.split(" answers (")[0].split()[-1], role.split("(")[1].split()[0]
        assert asked == cached, calls
    assert report.read_bytes() == unsharded


def test_a_shard_cannot_promote_or_write_baselines(tmp_path):
    for flag in ("--promote", "--update-baselines"):
        result = pytest_run("--shard", "0/2", flag, cache=tmp_path)
        assert result.returncode == 4 and f"cannot be combined with {flag}" in result.stdout + result.stderr


def _cache_with(path: Path, rows: dict[str, dict]) -> Path:
    cache = ResponseCache(path)
    cache.put_many(rows)
    cache.close()
    return path


def test_merge_counts_answers_that_disagree_and_keeps_the_first(tmp_path, capsys):
    first = _cache_with(tmp_path / "a.sqlite", {"k1": {"text": "yes"}, "k2": {"text": "same"}})
    second = _cache_with(tmp_path / "b.sqlite", {"k1": {"text": "no"}, "k2": {"text": "same"}, "k3": {"text": "x"}})
    into = tmp_path / "merged.sqlite"
    assert merge_caches([first, second], into) == {"added": 3, "same": 1, "conflicts": 1}
    assert ResponseCache(into).get_many(["k1"]) == {"k1": {"text": "yes"}}
    assert harness_main(["merge", str(second), "--into", str(into)]) == 1  # conflicts: exit 1
    assert "1 conflicting" in capsys.readouterr().out


def test_merge_refuses_what_is_not_a_cache_and_leaves_it_alone(tmp_path, capsys):
    notes = tmp_path / "notes.sqlite"
    with sqlite3.connect(notes) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    before = notes.read_bytes()
    assert harness_main(["merge", str(notes), "--into", str(tmp_path / "m.sqlite")]) == 2
    assert "is not a response cache" in capsys.readouterr().err
    assert notes.read_bytes() == before
    assert harness_main(["merge", str(tmp_path / "missing.sqlite"), "--into", str(tmp_path / "m.sqlite")]) == 2
    assert "does not exist" in capsys.readouterr().err
