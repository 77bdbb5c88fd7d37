"""A response cache on SQLite, so a rerun does not ask the model again what it already answered.

Keys are the model's fingerprint + the request + the decoding settings, so a changed model or a
changed setting never gets a stale answer. Greedy results are deterministic and cached; the
database runs in WAL mode so several pytest-xdist workers can read and write it at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from harness.models.base import DecodingSettings, Generation, Loglikelihood, Model, RollingLoglikelihood

APPLICATION_ID = 0x4C4C4D48  # "LLMH": marks a file as this harness's cache
SCHEMA_VERSION = 1
T = TypeVar("T")


class CacheFileWarning(UserWarning):
    """The cache file was unreadable or not ours; it was set aside and a new one started."""


class ResponseCache:
    """Key -> JSON value store in one SQLite file, safe for concurrent processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = self._open()
        except sqlite3.DatabaseError as exc:
            self._set_aside(str(exc))
            self._connection = self._open()

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        try:
            app_id = connection.execute("PRAGMA application_id").fetchone()[0]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and (app_id != APPLICATION_ID or "responses" not in tables):
                raise sqlite3.DatabaseError(f"not a response cache (application_id={app_id}, tables={sorted(tables)})")
            if tables:
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    raise sqlite3.DatabaseError(f"cache schema version {version}, expected {SCHEMA_VERSION}")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if not tables:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)"
                )
                connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                connection.execute("COMMIT")
            connection.execute("SELECT count(*) FROM responses LIMIT 1").fetchone()
        except sqlite3.DatabaseError:
            connection.close()
            raise
        return connection

    def _set_aside(self, reason: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(str(self.path) + suffix)
            if candidate.exists():
                candidate.rename(Path(str(aside) + suffix))
        warnings.warn(
            f"response cache {self.path} could not be used ({reason}); it was moved to {aside} "
            "and a new cache was started",
            CacheFileWarning,
            stacklevel=3,
        )

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, value in self._connection.execute(
                f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk
            ):
                found[key] = json.loads(value)
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        now = time.time()
        rows = [(key, json.dumps(value, sort_keys=True), now) for key, value in items.items()]
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            self._connection.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", rows)
            self._connection.execute("COMMIT")
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        return self._connection.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._connection.close()


def request_key(fingerprint: str, operation: str, request: Any, settings: str = "") -> str:
    """sha256 of everything that decides a response."""
    payload = json.dumps([fingerprint, operation, request, settings], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class CachedModel:
    """A Model that answers from the cache and asks the wrapped model only for what is missing."""

    def __init__(self, inner: Model, cache: ResponseCache, *, cache_sampled: bool = False) -> None:
        self.inner = inner
        self.cache = cache
        self.cache_sampled = cache_sampled  # sampled answers are kept only when the run opts in
        self.role = inner.role
        self.name = inner.name
        self.fingerprint = inner.fingerprint
        self.hits = 0
        self.misses = 0
        self.seconds = 0.0  # spent answering, cache lookups included

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"CachedModel({self.inner!r})"

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        """Add the time spent inside to `seconds` (cache lookups and model calls alike)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started

    def _through_cache(
        self,
        requests: Sequence[Any],
        operation: str,
        settings: str,
        compute: Callable[[list[Any]], list[T]],
        encode: Callable[[T], dict[str, Any]],
        decode: Callable[[dict[str, Any]], T],
    ) -> list[T]:
        with self._timed():
            keys = [request_key(self.fingerprint, operation, request, settings) for request in requests]
            found = self.cache.get_many(keys)
            missing = [i for i, key in enumerate(keys) if key not in found]
            self.hits += len(requests) - len(missing)
            self.misses += len(missing)
            if missing:
                computed = compute([requests[i] for i in missing])
                new = {keys[i]: encode(value) for i, value in zip(missing, computed, strict=True)}
                self.cache.put_many(new)
                found.update(new)
            return [decode(found[key]) for key in keys]

    def generate(self, prompts: Sequence[str], settings: DecodingSettings = DecodingSettings()) -> list[Generation]:
        """Greedy answers through the cache; sampled ones too with cache_sampled, else asked afresh."""
        if settings.sampled and not self.cache_sampled:
            with self._timed():
                self.misses += len(prompts)
                return self.inner.generate(list(prompts), settings)
        if settings.sampled:
            # The k-th copy of a prompt in one request list is its own sample, so its own cache entry.
            copies: dict[str, int] = {}
            requests: list[Any] = []
            for prompt in prompts:
                requests.append([prompt, copies.get(prompt, 0)])
                copies[prompt] = copies.get(prompt, 0) + 1
            ask = lambda todo: self.inner.generate([prompt for prompt, _ in todo], settings)  # noqa: E731
        else:
            requests = list(prompts)
            ask = lambda todo: self.inner.generate(todo, settings)  # noqa: E731
        return self._through_cache(requests, "generate", settings.key(), ask, asdict, lambda d: Generation(**d))

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        return self._through_cache(
            [list(r) for r in requests],
            "loglikelihood",
            "",
            lambda todo: self.inner.loglikelihood([tuple(r) for r in todo]),
            asdict,
            lambda data: Loglikelihood(**data),
        )

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[RollingLoglikelihood]:
        return self._through_cache(
            list(texts),
            "loglikelihood_rolling",
            "",
            self.inner.loglikelihood_rolling,
            asdict,
            lambda data: RollingLoglikelihood(**data),
        )
