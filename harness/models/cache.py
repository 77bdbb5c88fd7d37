"""A response cache on SQLite, so a rerun does not ask the model again what it already answered.

Keys are the model's fingerprint + the request + the decoding settings, so a changed model or a
changed setting never gets a stale answer. Greedy results are deterministic and cached; the
database runs in WAL mode so several pytest-xdist workers can read and write it at once.

Each row carries a digest binding its value to its key, checked when the cache opens and on every read,
with the value's shape (the fields of a Generation, say): a damaged row, or a value moved under another
key, is dropped and its answer asked for again, with one warning per run naming the file and the count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import sqlite3
import time
import typing
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import HarnessError
from harness.models.base import DecodingSettings, Generation, Loglikelihood, Model, RollingLoglikelihood

APPLICATION_ID = 0x4C4C4D48  # "LLMH": marks a file as this harness's cache
SCHEMA_VERSION = 2  # 2: every row carries a digest of its key and value
T = TypeVar("T")
_DAMAGED = object()  # what a row that fails its check decodes to


class CacheFileWarning(UserWarning):
    """The cache file was unreadable or not ours; it was set aside and a new one started."""


class CacheRowWarning(CacheFileWarning):
    """Rows of the cache failed their check (damaged, or moved under another key); they were dropped."""


def _digest(key: Any, value: Any) -> str:
    """sha256 of a row's key and value bytes (SQL function row_digest); '-' when either is missing or not UTF-8."""
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        return "-"
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return "-"
    return hashlib.sha256(key + b"\n" + value).hexdigest()


def row_digest(key: str, value: str) -> str:
    """The digest stored with a row: it binds the value to its key, so a damaged or moved value is caught."""
    return _digest(key.encode(), value.encode())


# Checked in SQLite over the stored bytes, so a value that is not even UTF-8 is just a row that fails.
INTACT = "digest IS row_digest(CAST(key AS BLOB), CAST(value AS BLOB))"
INTACT_VALUE = f"CASE WHEN {INTACT} THEN value END"  # the value text, or NULL when the digest fails


def _decoded(value: str | None, check: Callable[[Any], bool] | None = None) -> Any:
    """A row's decoded value, or _DAMAGED when its digest failed (None), its JSON is bad or `check` rejects it."""
    if value is None:
        return _DAMAGED
    try:
        decoded = json.loads(value)
    except ValueError:
        return _DAMAGED
    return decoded if check is None or check(decoded) else _DAMAGED


def _fits(value: Any, kind: Any) -> bool:
    """Whether a JSON value fits a field annotated `kind` (bool is not an int; an int is a float)."""
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return not isinstance(kind, type) or isinstance(value, kind)


def shape_check(record: type) -> Callable[[Any], bool]:
    """A check that a decoded cache value holds the fields of `record` (a dataclass such as Generation)."""
    hints = typing.get_type_hints(record)
    required = {
        f.name
        for f in dataclasses.fields(record)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }

    def fits(value: Any) -> bool:
        return (
            isinstance(value, dict)
            and required <= value.keys() <= hints.keys()
            and all(_fits(item, hints[name]) for name, item in value.items())
        )

    return fits


class ResponseCache:
    """Key -> JSON value store in one SQLite file, safe for concurrent processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dropped = 0  # rows that failed their check and were dropped by this process
        self._warned = False
        self._damaged_at_open: list[int] = []  # rowids whose digest failed when the file was opened
        try:
            self._connection = self._open()
        except sqlite3.DatabaseError as exc:
            self._set_aside(str(exc))
            self._connection = self._open()
        self._note_dropped(self._drop(self._damaged_at_open))

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        connection.create_function("row_digest", 2, _digest, deterministic=True)
        try:
            app_id = connection.execute("PRAGMA application_id").fetchone()[0]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and (app_id != APPLICATION_ID or "responses" not in tables):
                raise sqlite3.DatabaseError(f"not a response cache (application_id={app_id}, tables={sorted(tables)})")
            if tables:
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    older = " (written by an older harness, without row digests)" if version < SCHEMA_VERSION else ""
                    raise sqlite3.DatabaseError(f"cache schema version {version}{older}, expected {SCHEMA_VERSION}")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if not tables:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS responses "
                    "(key TEXT PRIMARY KEY, value TEXT NOT NULL, digest TEXT NOT NULL, created REAL)"
                )
                connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                connection.execute("COMMIT")
            # Every digest is checked once per process (about 1 s a million rows); reads check again, with shape.
            self._damaged_at_open = [
                rowid for (rowid,) in connection.execute(f"SELECT rowid FROM responses WHERE NOT ({INTACT})")
            ]
        except sqlite3.DatabaseError:
            connection.close()
            raise
        return connection

    def _set_aside(self, reason: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            candidate = Path(str(self.path) + suffix)
            with contextlib.suppress(FileNotFoundError):  # another process may have moved it already
                candidate.rename(Path(str(aside) + suffix))
        warnings.warn(
            f"response cache {self.path} could not be used ({reason}); it was moved to {aside} "
            "and a new cache was started",
            CacheFileWarning,
            stacklevel=3,
        )

    def _drop(self, rowids: Sequence[int], check: Callable[[Any], bool] | None = None) -> int:
        """Delete the rows that still fail their check (another process may have rewritten them); how many."""
        if not rowids:
            return 0
        dropped = 0
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            for rowid in rowids:
                row = self._connection.execute(
                    f"SELECT {INTACT_VALUE} FROM responses WHERE rowid = ?", (rowid,)
                ).fetchone()
                if row is not None and _decoded(row[0], check) is _DAMAGED:
                    self._connection.execute("DELETE FROM responses WHERE rowid = ?", (rowid,))
                    dropped += 1
            self._connection.execute("COMMIT")
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        return dropped

    def _note_dropped(self, count: int) -> None:
        """Count dropped rows; the first drop of this process is one warning naming the file and the count."""
        if not count:
            return
        self.dropped += count
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"response cache {self.path}: {count} row{'s' if count != 1 else ''} failed their check (a damaged "
                "value, or a value under another request's key) and were dropped; their answers are asked for "
                "again and rewritten",
                CacheRowWarning,
                stacklevel=3,
            )

    def get_many(self, keys: Sequence[str], check: Callable[[Any], bool] | None = None) -> dict[str, Any]:
        """The stored values of these keys; a row failing its digest, JSON or `check` is dropped (a miss)."""
        found: dict[str, Any] = {}
        damaged: list[int] = []
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for rowid, key, value in self._connection.execute(
                f"SELECT rowid, key, {INTACT_VALUE} FROM responses WHERE key IN ({marks})", chunk
            ):
                decoded = _decoded(value, check)
                if decoded is _DAMAGED:
                    damaged.append(rowid)
                else:
                    found[key] = decoded
        self._note_dropped(self._drop(damaged, check))
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        if not items:
            return
        now = time.time()
        texts = {key: json.dumps(value, sort_keys=True) for key, value in items.items()}
        rows = [(key, text, row_digest(key, text), now) for key, text in texts.items()]
        self._connection.execute("BEGIN IMMEDIATE")
        try:
            self._connection.executemany(
                "INSERT OR REPLACE INTO responses (key, value, digest, created) VALUES (?, ?, ?, ?)", rows
            )
            self._connection.execute("COMMIT")
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        return self._connection.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._connection.close()


def intact_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """Every row of a cache file whose digest holds, as (key, decoded value), read-only: the file is not
    changed, moved or created. Raises HarnessError when it is missing or not a response cache."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"response cache {path} does not exist", hint="give the responses.sqlite of a run")
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    connection.create_function("row_digest", 2, _digest, deterministic=True)
    try:
        app_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID or version != SCHEMA_VERSION:
            raise HarnessError(
                f"{path} is not a response cache of this harness version (application_id={app_id}, "
                f"schema {version}, expected {SCHEMA_VERSION})",
                hint="merge the responses.sqlite files that shard runs of this harness wrote",
            )
        for key, value in connection.execute(f"SELECT key, {INTACT_VALUE} FROM responses ORDER BY key"):
            decoded = _decoded(value)
            if decoded is not _DAMAGED:
                yield key, decoded
    except sqlite3.DatabaseError as exc:
        raise HarnessError(
            f"{path} cannot be read as a response cache: {exc}", hint="is it a responses.sqlite?"
        ) from None
    finally:
        connection.close()


_SHAPES: dict[type, Callable[[Any], bool]] = {
    record: shape_check(record) for record in (Generation, Loglikelihood, RollingLoglikelihood)
}


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
        record: type[T],
    ) -> list[T]:
        """Answers from the cache where a row holds a `record`, from `compute` (then stored) for the rest."""
        with self._timed():
            keys = [request_key(self.fingerprint, operation, request, settings) for request in requests]
            found = self.cache.get_many(keys, _SHAPES[record])
            missing = [i for i, key in enumerate(keys) if key not in found]
            self.hits += len(requests) - len(missing)
            self.misses += len(missing)
            # A model that answers each request on its own (a server) is asked in chunks, each stored as it
            # comes, so an interrupted run resumes without asking again; a batching model in one go.
            chunk = getattr(self.inner, "answers_per_write", None) or max(1, len(missing))
            for start in range(0, len(missing), chunk):
                part = missing[start : start + chunk]
                computed = compute([requests[i] for i in part])
                new = {keys[i]: asdict(value) for i, value in zip(part, computed, strict=True)}
                self.cache.put_many(new)
                found.update(new)
            return [record(**found[key]) for key in keys]

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
        return self._through_cache(requests, "generate", settings.key(), ask, Generation)

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        return self._through_cache(
            [list(r) for r in requests],
            "loglikelihood",
            "",
            lambda todo: self.inner.loglikelihood([tuple(r) for r in todo]),
            Loglikelihood,
        )

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[RollingLoglikelihood]:
        return self._through_cache(
            list(texts),
            "loglikelihood_rolling",
            "",
            self.inner.loglikelihood_rolling,
            RollingLoglikelihood,
        )
