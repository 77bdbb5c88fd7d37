"""The SQLite response cache: hits, misses, invalidation, damaged files and concurrent writers."""

from __future__ import annotations

import multiprocessing
import sqlite3
import warnings

import pytest

from harness.models.base import DecodingSettings, Generation, Loglikelihood, RollingLoglikelihood
from harness.models.cache import CachedModel, CacheFileWarning, ResponseCache


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
