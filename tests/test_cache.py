"""The SQLite response cache: hits, misses, invalidation, damaged files and concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import warnings

import pytest

from harness.models.base import DecodingSettings, Generation, Loglikelihood, RollingLoglikelihood
from harness.models.cache import (
    APPLICATION_ID,
    CachedModel,
    CacheFileWarning,
    CacheRowWarning,
    ResponseCache,
    request_key,
    row_digest,
)


class CountingModel:
    """A fake model that answers deterministically and counts what it was asked."""

    def __init__(self, fingerprint: str = "fp-1") -> None:
        self.role, self.name, self.fingerprint = "tuned", "fake", fingerprint
        self.asked: list[str] = []

    def generate(self, prompts, settings=DecodingSettings()):
        self.asked += list(prompts)
        return [Generation(p.upper()[: settings.max_new_tokens], len(p), 0.5) for p in prompts]

    def loglikelihood(self, requests):
        self.asked += [c + x for c, x in requests]
        return [Loglikelihood(-float(len(c + x)), True, len(x)) for c, x in requests]

    def loglikelihood_rolling(self, texts):
        self.asked += list(texts)
        return [RollingLoglikelihood(-float(len(t)), len(t)) for t in texts]


def test_second_request_is_a_hit_and_returns_the_same_answer(tmp_path):
    inner = CountingModel()
    model = CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"))
    first = model.generate(["a", "b"])
    again = model.generate(["b", "a", "c"])
    assert inner.asked == ["a", "b", "c"]
    assert again[:2] == [first[1], first[0]]
    assert (model.hits, model.misses) == (2, 3)
    assert model.loglikelihood([("x", " y")]) == model.loglikelihood([("x", " y")])
    assert model.loglikelihood_rolling(["t"])[0] == RollingLoglikelihood(-1.0, 1)
    assert inner.asked.count("x y") == 1 and inner.asked.count("t") == 1


def test_sampled_answers_are_asked_again_unless_the_run_opts_in(tmp_path):
    hot = DecodingSettings(max_new_tokens=8, temperature=0.7, seed=3)
    inner = CountingModel()
    model = CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"))
    model.generate(["a"], hot)
    model.generate(["a"], hot)
    assert inner.asked == ["a", "a"] and (model.hits, model.misses) == (0, 2)

    inner = CountingModel()
    opted_in = CachedModel(inner, ResponseCache(tmp_path / "c.sqlite"), cache_sampled=True)
    opted_in.generate(["a", "a", "b"], hot)  # two copies of "a": two samples, two entries
    opted_in.generate(["a", "a", "b"], hot)
    assert inner.asked == ["a", "a", "b"] and opted_in.hits == 3
    opted_in.generate(["a"], DecodingSettings(max_new_tokens=8, temperature=0.7, seed=4))  # another seed
    assert inner.asked == ["a", "a", "b", "a"]


def test_answers_survive_a_new_process_view_of_the_file(tmp_path):
    CachedModel(CountingModel(), ResponseCache(tmp_path / "c.sqlite")).generate(["hello"])
    inner = CountingModel()
    assert CachedModel(inner, ResponseCache(tmp_path / "c.sqlite")).generate(["hello"])[0].text == "HELLO"
    assert inner.asked == []


def test_a_changed_model_or_setting_is_never_served_a_stale_answer(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    CachedModel(CountingModel("fp-1"), cache).generate(["hello"])
    changed = CountingModel("fp-2")
    CachedModel(changed, cache).generate(["hello"])
    assert changed.asked == ["hello"]
    same_model = CountingModel("fp-1")
    CachedModel(same_model, cache).generate(["hello"], DecodingSettings(max_new_tokens=2))
    assert same_model.asked == ["hello"]


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b""])
def test_a_corrupt_file_is_set_aside_with_a_warning(tmp_path, content):
    path = tmp_path / "c.sqlite"
    path.write_bytes(content)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = ResponseCache(path)
    if content:
        assert any(issubclass(w.category, CacheFileWarning) for w in caught)
        assert list(tmp_path.glob("c.sqlite.unreadable-*"))
    assert len(cache) == 0
    CachedModel(CountingModel(), cache).generate(["x"])
    assert len(cache) == 1


def test_a_foreign_sqlite_file_is_not_read_as_answers(tmp_path):
    path = tmp_path / "c.sqlite"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE responses (key TEXT, value TEXT, created REAL)")
    other.execute("INSERT INTO responses VALUES ('k', '{}', 0)")
    other.commit()
    other.close()
    with pytest.warns(CacheFileWarning, match="not a response cache"):
        cache = ResponseCache(path)
    assert len(cache) == 0


def _ask_everything(model) -> list:
    """One of each request kind, so every kind of cached answer is exercised."""
    return [
        *model.generate(["alpha", "beta", "gamma"]),
        *model.loglikelihood([("x", " y"), ("long context", " z")]),
        *model.loglikelihood_rolling(["some text", "more"]),
    ]


def _rows(path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT key, value, digest FROM responses ORDER BY key").fetchall()


def _rewrite(path, rows: list[tuple[str, str, str]]) -> None:
    """Overwrite rows' values and digests in place, as damage or a hand edit would."""
    db = sqlite3.connect(path)
    db.executemany("UPDATE responses SET value = ?, digest = ? WHERE key = ?", [(v, d, k) for k, v, d in rows])
    db.commit()
    db.close()


def _run(path) -> tuple[list, CountingModel, list[warnings.WarningMessage]]:
    """A later run: open the cache, ask everything, and keep the warnings it raised."""
    inner = CountingModel()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = _ask_everything(CachedModel(inner, ResponseCache(path)))
    return answers, inner, [w for w in caught if issubclass(w.category, CacheFileWarning)]


def _damage(kind: str, key: str, value: str, digest: str) -> tuple[str, str, str]:
    """One row damaged in one of the ways a cache file meets."""
    if kind == "invalid JSON":
        return key, value[: len(value) // 2], digest
    if kind == "invalid JSON, digest recomputed":
        return key, value[:-1], row_digest(key, value[:-1])
    if kind == "wrong shape, digest recomputed":
        return key, '{"logprob": "high"}', row_digest(key, '{"logprob": "high"}')
    return key, value.replace('"text": "', '"text": "X', 1), digest  # valid JSON, the right shape, a wrong answer


@pytest.mark.parametrize(
    "kind", ["invalid JSON", "invalid JSON, digest recomputed", "wrong shape, digest recomputed", "one byte changed"]
)
def test_a_damaged_row_is_dropped_with_one_warning_and_asked_again(tmp_path, kind):
    path = tmp_path / "c.sqlite"
    fresh = _ask_everything(CountingModel())
    assert _ask_everything(CachedModel(CountingModel(), ResponseCache(path))) == fresh
    damaged_key = request_key("fp-1", "generate", "beta", DecodingSettings().key())
    _rewrite(path, [_damage(kind, *row) for row in _rows(path) if row[0] == damaged_key])

    answers, inner, caught = _run(path)
    assert answers == fresh and inner.asked == ["beta"]
    assert len(caught) == 1 and issubclass(caught[0].category, CacheRowWarning)
    assert f"response cache {path}: 1 row failed" in str(caught[0].message)

    answers, inner, caught = _run(path)  # the answer was rewritten: the next run is clean
    assert answers == fresh and inner.asked == [] and caught == []


@pytest.mark.parametrize("digests", ["stay", "move with the values"])
def test_shifted_values_are_dropped_and_the_numbers_equal_a_fresh_run(tmp_path, digests):
    path = tmp_path / "c.sqlite"
    fresh = _ask_everything(CountingModel())
    _ask_everything(CachedModel(CountingModel(), ResponseCache(path)))
    rows = _rows(path)
    shifted = rows[1:] + rows[:1]  # each key gets the next row's value: valid JSON, wrong answer
    if digests == "stay":
        _rewrite(path, [(key, value, digest) for (key, _, digest), (_, value, _) in zip(rows, shifted, strict=True)])
    else:
        _rewrite(path, [(key, value, digest) for (key, _, _), (_, value, digest) in zip(rows, shifted, strict=True)])

    answers, inner, caught = _run(path)
    assert answers == fresh
    assert len(inner.asked) == len(rows) == 7
    assert len(caught) == 1 and f"response cache {path}: 7 rows failed their check" in str(caught[0].message)
    answers, inner, caught = _run(path)
    assert answers == fresh and inner.asked == [] and caught == []


def test_a_value_that_is_not_utf8_is_a_dropped_row_not_an_error(tmp_path):
    path = tmp_path / "c.sqlite"
    CachedModel(CountingModel(), ResponseCache(path)).generate(["a"])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE responses SET value = CAST(X'7B22E922' AS TEXT)")
    with pytest.warns(CacheRowWarning, match="1 row failed"):
        cache = ResponseCache(path)
    inner = CountingModel()
    assert CachedModel(inner, cache).generate(["a"])[0].text == "A" and inner.asked == ["a"]


def test_rows_dropped_in_several_reads_make_one_warning(tmp_path):
    path = tmp_path / "c.sqlite"
    CachedModel(CountingModel(), ResponseCache(path)).generate(["a", "b"])
    _rewrite(path, [_damage("wrong shape, digest recomputed", *row) for row in _rows(path)])
    cache = ResponseCache(path)  # a right digest: only the read, which knows the shape, can tell
    model = CachedModel(CountingModel(), cache)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert model.generate(["a"])[0].text == "A"
        assert model.generate(["b"])[0].text == "B"
    assert [w.category for w in caught] == [CacheRowWarning]
    assert cache.dropped == 2 and model.misses == 2


def test_an_old_cache_without_row_digests_is_set_aside(tmp_path):
    path = tmp_path / "c.sqlite"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
    old.execute("INSERT INTO responses VALUES ('k', '{}', 0)")
    old.execute(f"PRAGMA application_id={APPLICATION_ID}")
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()
    with pytest.warns(CacheFileWarning, match="schema version 1 \\(written by an older harness, without row digests"):
        cache = ResponseCache(path)
    assert len(cache) == 0 and list(tmp_path.glob("c.sqlite.unreadable-*"))
    assert CachedModel(CountingModel(), cache).generate(["x"])[0].text == "X" and len(cache) == 1


def _writer(path: str, start: int) -> None:
    model = CachedModel(CountingModel(), ResponseCache(path))
    for k in range(start, start + 40):
        model.generate([f"prompt {k}", f"shared {k % 10}"])


def test_two_processes_write_at_once(tmp_path):
    path = str(tmp_path / "c.sqlite")
    ResponseCache(path).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, s)) for s in (0, 20)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert len(ResponseCache(path)) == 60 + 10
