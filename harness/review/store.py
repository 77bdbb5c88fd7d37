"""The review database: SQLite in WAL mode, one row per rating, created readable by its owner only."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.review.rubric import Rubric, parse_rubric
from harness.review.sampling import ReviewSample

RUBRIC, AB = "rubric", "ab"
CHOICES = ("A", "B", "tie", "both_bad")
WINNERS = ("tuned", "base", "tie", "both_bad")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS strata (name TEXT PRIMARY KEY, population INTEGER NOT NULL, sampled INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    eval_set TEXT NOT NULL, item_id TEXT NOT NULL, position INTEGER NOT NULL, stratum TEXT NOT NULL,
    prompt TEXT NOT NULL, reference TEXT NOT NULL, category TEXT NOT NULL,
    tuned_output TEXT NOT NULL, base_output TEXT, tuned_hash TEXT NOT NULL, pair_hash TEXT,
    tuned_side TEXT, disagree INTEGER NOT NULL,
    UNIQUE (eval_set, item_id)
);
CREATE TABLE IF NOT EXISTS ratings (
    id INTEGER PRIMARY KEY,
    eval_set TEXT NOT NULL, item_id TEXT NOT NULL, reviewer TEXT NOT NULL, created_at TEXT NOT NULL,
    rubric_version TEXT NOT NULL, output_hash TEXT NOT NULL, scores TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '',
    UNIQUE (eval_set, item_id, reviewer, rubric_version, output_hash)
);
CREATE TABLE IF NOT EXISTS comparisons (
    id INTEGER PRIMARY KEY,
    eval_set TEXT NOT NULL, item_id TEXT NOT NULL, reviewer TEXT NOT NULL, created_at TEXT NOT NULL,
    pair_hash TEXT NOT NULL, choice TEXT NOT NULL, winner TEXT NOT NULL, comment TEXT NOT NULL DEFAULT '',
    UNIQUE (eval_set, item_id, reviewer, pair_hash)
);
CREATE INDEX IF NOT EXISTS ratings_item ON ratings (eval_set, item_id, output_hash, rubric_version);
CREATE INDEX IF NOT EXISTS comparisons_item ON comparisons (eval_set, item_id, pair_hash);
"""


@dataclass(frozen=True)
class StoredItem:
    """A sampled item as the database holds it, with its side mapping for A/B (never sent to a page)."""

    id: int
    eval_set: str
    item_id: str
    position: int
    stratum: str
    prompt: str
    reference: str
    category: str
    tuned_output: str
    base_output: str | None
    tuned_hash: str
    pair_hash: str | None
    tuned_side: str | None
    disagree: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.eval_set, self.item_id)

    def sides(self) -> tuple[str, str]:
        """The texts shown as answer A and answer B."""
        if self.base_output is None or self.tuned_side is None:
            raise HarnessError(f"item {self.item_id} has no base answer to compare with")
        if self.tuned_side == "A":
            return self.tuned_output, self.base_output
        return self.base_output, self.tuned_output

    def winner(self, choice: str) -> str:
        """What an A/B choice says about tuned vs base."""
        if choice not in CHOICES:
            raise HarnessError(f"{choice!r} is not an A/B choice", hint=f"use one of: {', '.join(CHOICES)}")
        if choice in ("A", "B"):
            return "tuned" if choice == self.tuned_side else "base"
        return choice


@dataclass(frozen=True)
class ReviewMeta:
    """What a review is about: the candidate, its rubric and how many reviews each item needs."""

    rubric: Rubric
    candidate: str
    base_model: str
    min_reviews: int
    population: int
    confidence: float
    margin: float
    seed: int
    explanation: str
    created_at: str


@dataclass(frozen=True)
class Rating:
    """One reviewer's rubric scores for one answer."""

    eval_set: str
    item_id: str
    reviewer: str
    created_at: str
    rubric_version: str
    output_hash: str
    scores: dict[str, str]
    comment: str = ""


@dataclass(frozen=True)
class Comparison:
    """One reviewer's blind A/B choice, with what it means for tuned vs base."""

    eval_set: str
    item_id: str
    reviewer: str
    created_at: str
    pair_hash: str
    choice: str
    winner: str
    comment: str = ""


def now() -> str:
    """UTC time of a rating, ISO 8601 with milliseconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def default_db(cache_dir: Path | None = None) -> Path:
    """Where the review database lives unless --db says otherwise: <cache dir>/review.sqlite."""
    return Path(cache_dir or os.environ.get("HARNESS_CACHE_DIR") or ".harness") / "review.sqlite"


class ReviewStore:
    """Access to one review database; safe to share between threads (one connection per thread)."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            if not create:
                raise HarnessError(
                    f"no review database at {self.path}",
                    hint="start a review with `harness review sample` (or pass --db PATH)",
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(self.path, 0o600)  # WAL and shared-memory files inherit these permissions
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connection().executescript(SCHEMA)  # IF NOT EXISTS: safe to repeat, runs in its own transaction

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{self.path.resolve().as_posix()}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # a rating acknowledged to a reviewer survives a crash
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on error."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        return self._connection().execute(sql, params).fetchall()

    # -- the sample --------------------------------------------------------------------------------

    def save_sample(self, sample: ReviewSample, rubric: Rubric, *, min_reviews: int, seed: int) -> None:
        """Replace the sampled items (ratings stay: those of unchanged answers still count)."""
        if min_reviews < 1:
            raise HarnessError(f"--min-reviews must be at least 1, got {min_reviews}")
        tuned_models = {item.tuned_model for item in sample.items}
        base_models = {item.base_model for item in sample.items if item.base_output is not None}
        sides = np.random.default_rng([seed, 0xA_B]).integers(0, 2, size=len(sample.items))
        meta = {
            "rubric": rubric.text,
            "rubric_version": rubric.version,
            "candidate": ", ".join(sorted(tuned_models)),
            "base_model": ", ".join(sorted(base_models)),
            "min_reviews": min_reviews,
            "population": sample.population,
            "confidence": sample.confidence,
            "margin": sample.margin,
            "seed": seed,
            "explanation": sample.explain(),
            "created_at": now(),
        }
        with self.transaction() as conn:
            conn.execute("DELETE FROM items")
            conn.execute("DELETE FROM strata")
            conn.executemany(
                "INSERT INTO strata VALUES (?, ?, ?)",
                [(s.name, s.population, s.sampled) for s in sample.strata.values()],
            )
            conn.executemany(
                "INSERT INTO items (eval_set, item_id, position, stratum, prompt, reference, category, tuned_output,"
                " base_output, tuned_hash, pair_hash, tuned_side, disagree) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        item.eval_set,
                        item.item_id,
                        position,
                        sample.stratum_of[item.key],
                        item.prompt,
                        item.reference,
                        item.category,
                        item.tuned_output,
                        item.base_output,
                        item.tuned_hash,
                        item.pair_hash,
                        None if item.base_output is None else "AB"[int(side)],
                        int(item.disagree),
                    )
                    for position, (item, side) in enumerate(zip(sample.items, sides, strict=True))
                ],
            )
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(key, json.dumps(value)) for key, value in meta.items()],
            )

    def meta(self) -> ReviewMeta:
        """The review's settings; a HarnessError when nothing was sampled yet."""
        values = {row["key"]: json.loads(row["value"]) for row in self.query("SELECT key, value FROM meta")}
        if "rubric" not in values:
            raise HarnessError(f"{self.path} holds no review sample", hint="run `harness review sample` first")
        return ReviewMeta(
            rubric=parse_rubric(values["rubric"], f"{self.path} (stored rubric)"),
            candidate=values["candidate"],
            base_model=values["base_model"],
            min_reviews=int(values["min_reviews"]),
            population=int(values["population"]),
            confidence=float(values["confidence"]),
            margin=float(values["margin"]),
            seed=int(values["seed"]),
            explanation=values["explanation"],
            created_at=values["created_at"],
        )

    def items(self) -> list[StoredItem]:
        return [_item(row) for row in self.query("SELECT * FROM items ORDER BY position")]

    def item(self, item_pk: int) -> StoredItem | None:
        rows = self.query("SELECT * FROM items WHERE id = ?", (item_pk,))
        return _item(rows[0]) if rows else None

    def strata(self) -> dict[str, tuple[int, int]]:
        """Stratum name -> (population, sampled)."""
        return {row["name"]: (row["population"], row["sampled"]) for row in self.query("SELECT * FROM strata")}

    # -- what a reviewer sees next -----------------------------------------------------------------

    def next_item(self, reviewer: str, mode: str, rubric_version: str, min_reviews: int) -> StoredItem | None:
        """The first item in review order that this reviewer has not reviewed and that still needs reviews."""
        rows = self.query(
            f"SELECT * FROM ({_queue_sql(mode)}) WHERE mine = 0 AND done < :min ORDER BY position LIMIT 1",
            {"version": rubric_version, "reviewer": reviewer, "min": min_reviews},
        )
        return _item(rows[0]) if rows else None

    def progress(self, reviewer: str, mode: str, rubric_version: str, min_reviews: int) -> dict[str, int]:
        """Counts for the progress bar: the reviewer's own reviews and the whole review's."""
        row = self.query(
            "SELECT COUNT(*) AS total, COALESCE(SUM(mine), 0) AS mine, COALESCE(SUM(MIN(done, :min)), 0) AS filled,"
            " COALESCE(SUM(done >= :min), 0) AS complete, COALESCE(SUM(mine = 0 AND done < :min), 0) AS left"
            f" FROM ({_queue_sql(mode)})",
            {"version": rubric_version, "reviewer": reviewer, "min": min_reviews},
        )[0]
        counts = {key: int(row[key]) for key in ("total", "mine", "filled", "complete", "left")}
        return counts | {"needed": counts["total"] * min_reviews}

    # -- writing ratings ---------------------------------------------------------------------------

    def add_rating(self, rating: Rating) -> None:
        """Store a rating; the same reviewer rating the same answer again replaces their earlier scores."""
        self.add_many([rating], [])

    def add_comparison(self, comparison: Comparison) -> None:
        """Store an A/B choice; a repeat by the same reviewer on the same pair replaces the earlier one."""
        self.add_many([], [comparison])

    def add_many(self, ratings: list[Rating], comparisons: list[Comparison]) -> None:
        """Store ratings and A/B choices in one transaction: all of them or, on an error, none."""
        for comparison in comparisons:
            if comparison.winner not in WINNERS:
                raise HarnessError(f"{comparison.winner!r} is not an A/B outcome", hint=f"use one of: {WINNERS}")
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO ratings (eval_set, item_id, reviewer, created_at, rubric_version, output_hash, scores,"
                " comment) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (eval_set, item_id, reviewer, rubric_version,"
                " output_hash) DO UPDATE SET scores = excluded.scores, comment = excluded.comment,"
                " created_at = excluded.created_at",
                [
                    (
                        r.eval_set,
                        r.item_id,
                        r.reviewer,
                        r.created_at,
                        r.rubric_version,
                        r.output_hash,
                        json.dumps(r.scores, sort_keys=True),
                        r.comment,
                    )
                    for r in ratings
                ],
            )
            conn.executemany(
                "INSERT INTO comparisons (eval_set, item_id, reviewer, created_at, pair_hash, choice, winner, comment)"
                " VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (eval_set, item_id, reviewer, pair_hash) DO UPDATE SET"
                " choice = excluded.choice, winner = excluded.winner, comment = excluded.comment,"
                " created_at = excluded.created_at",
                [
                    (c.eval_set, c.item_id, c.reviewer, c.created_at, c.pair_hash, c.choice, c.winner, c.comment)
                    for c in comparisons
                ],
            )

    # -- reading ratings ---------------------------------------------------------------------------

    def ratings(self, *, current_only: bool = True) -> list[Rating]:
        """Ratings; by default only those of the sampled answers as they are now, under the current rubric."""
        if current_only:
            version = self.meta().rubric.version
            rows = self.query(
                "SELECT r.* FROM ratings r JOIN items i ON r.eval_set = i.eval_set AND r.item_id = i.item_id"
                " AND r.output_hash = i.tuned_hash WHERE r.rubric_version = ? ORDER BY r.id",
                (version,),
            )
        else:
            rows = self.query("SELECT * FROM ratings ORDER BY id")
        return [
            Rating(
                r["eval_set"],
                r["item_id"],
                r["reviewer"],
                r["created_at"],
                r["rubric_version"],
                r["output_hash"],
                json.loads(r["scores"]),
                r["comment"],
            )
            for r in rows
        ]

    def comparisons(self, *, current_only: bool = True) -> list[Comparison]:
        """A/B choices; by default only those about the sampled pairs as they are now."""
        if current_only:
            rows = self.query(
                "SELECT c.* FROM comparisons c JOIN items i ON c.eval_set = i.eval_set AND c.item_id = i.item_id"
                " AND c.pair_hash = i.pair_hash ORDER BY c.id"
            )
        else:
            rows = self.query("SELECT * FROM comparisons ORDER BY id")
        return [
            Comparison(
                r["eval_set"],
                r["item_id"],
                r["reviewer"],
                r["created_at"],
                r["pair_hash"],
                r["choice"],
                r["winner"],
                r["comment"],
            )
            for r in rows
        ]

    def count(self, table: str) -> int:
        if table not in ("ratings", "comparisons", "items"):
            raise ValueError(table)
        return int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])


def _queue_sql(mode: str) -> str:
    """Sampled items with `mine` (this reviewer's valid reviews) and `done` (everyone's), for one mode."""
    if mode == RUBRIC:
        return (
            "SELECT i.*,"
            " (SELECT COUNT(*) FROM ratings r WHERE r.eval_set = i.eval_set AND r.item_id = i.item_id"
            "  AND r.output_hash = i.tuned_hash AND r.rubric_version = :version) AS done,"
            " (SELECT COUNT(*) FROM ratings r WHERE r.eval_set = i.eval_set AND r.item_id = i.item_id"
            "  AND r.output_hash = i.tuned_hash AND r.rubric_version = :version AND r.reviewer = :reviewer) AS mine"
            " FROM items i"
        )
    if mode == AB:
        return (
            "SELECT i.*,"
            " (SELECT COUNT(*) FROM comparisons c WHERE c.eval_set = i.eval_set AND c.item_id = i.item_id"
            "  AND c.pair_hash = i.pair_hash) AS done,"
            " (SELECT COUNT(*) FROM comparisons c WHERE c.eval_set = i.eval_set AND c.item_id = i.item_id"
            "  AND c.pair_hash = i.pair_hash AND c.reviewer = :reviewer) AS mine"
            " FROM items i WHERE i.disagree = 1"
        )
    raise HarnessError(f"unknown review mode {mode!r}", hint="use 'rubric' or 'ab'")


def _item(row: sqlite3.Row) -> StoredItem:
    return StoredItem(
        id=row["id"],
        eval_set=row["eval_set"],
        item_id=row["item_id"],
        position=row["position"],
        stratum=row["stratum"],
        prompt=row["prompt"],
        reference=row["reference"],
        category=row["category"],
        tuned_output=row["tuned_output"],
        base_output=row["base_output"],
        tuned_hash=row["tuned_hash"],
        pair_hash=row["pair_hash"],
        tuned_side=row["tuned_side"],
        disagree=bool(row["disagree"]),
    )
