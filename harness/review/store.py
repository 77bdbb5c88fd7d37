"""The review database: SQLite in WAL mode, one row per rating, created readable by its owner only."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    tuned_side TEXT, disagree INTEGER NOT NULL, -- tuned_side: unused (sides are drawn per reviewer)
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
    tuned_side TEXT, -- where this reviewer was shown the tuned answer (NULL when imported without it)
    UNIQUE (eval_set, item_id, reviewer, pair_hash)
);
CREATE TABLE IF NOT EXISTS reviewers (
    name TEXT PRIMARY KEY,
    secret_hash TEXT UNIQUE, -- SHA-256 of the link's secret (NULL: known only from an import, no link)
    side_key TEXT NOT NULL, -- secret random key of this reviewer's A/B sides; never leaves the database
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS ratings_item ON ratings (eval_set, item_id, output_hash, rubric_version);
CREATE INDEX IF NOT EXISTS comparisons_item ON comparisons (eval_set, item_id, pair_hash);
"""


@dataclass(frozen=True)
class StoredItem:
    """A sampled item as the database holds it."""

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
    disagree: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.eval_set, self.item_id)

    def sides(self, tuned_side: str) -> tuple[str, str]:
        """The texts shown as answer A and answer B when the tuned answer is on `tuned_side`."""
        if self.base_output is None:
            raise HarnessError(f"item {self.item_id} has no base answer to compare with")
        if tuned_side == "A":
            return self.tuned_output, self.base_output
        return self.base_output, self.tuned_output


def winner_of(choice: str, tuned_side: str) -> str:
    """What an A/B choice says about tuned vs base, for a reviewer shown the tuned answer on `tuned_side`."""
    if choice not in CHOICES:
        raise HarnessError(f"{choice!r} is not an A/B choice", hint=f"use one of: {', '.join(CHOICES)}")
    if tuned_side not in ("A", "B"):
        raise HarnessError(f"{tuned_side!r} is not a side", hint="use 'A' or 'B'")
    if choice in ("A", "B"):
        return "tuned" if choice == tuned_side else "base"
    return choice


@dataclass(frozen=True)
class Reviewer:
    """An identity the review's organiser issued: by a secret link (`invite`) or by importing their ratings."""

    name: str
    has_link: bool
    created_at: str
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "link issued" if self.has_link else "imported (no link)"


MAX_NAME = 60


def reviewer_name(raw: str) -> str:
    """A reviewer's name, NFC with single spaces; a HarnessError unless it is 1 to 60 printable characters."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name or len(name) > MAX_NAME or not all(ch.isprintable() for ch in name):
        raise HarnessError(
            f"reviewer name {raw!r:.80} is not 1 to {MAX_NAME} printable characters", hint="e.g. `ana` or `Ana Ruiz`"
        )
    return name


def secret_hash(secret: str) -> str:
    """What the database keeps of a link's secret: its SHA-256 (the secret itself is only printed, once)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


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
    tuned_side: str | None = None


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
        columns = {row["name"] for row in self.query("PRAGMA table_info(comparisons)")}
        if "tuned_side" not in columns:  # a database from before sides were drawn per reviewer
            self._connection().execute("ALTER TABLE comparisons ADD COLUMN tuned_side TEXT")

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
                " base_output, tuned_hash, pair_hash, disagree) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
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
                        int(item.disagree),
                    )
                    for position, item in enumerate(sample.items)
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

    # -- reviewers: identities issued by the organiser ------------------------------------------------

    def invite(self, name: str, *, reissue: bool = False) -> str:
        """Issue `name` a new secret link; returns the secret (only its hash is stored, so this is the one copy).

        An existing name is refused unless `reissue`: then its old link stops working (and a revoked reviewer
        is reinstated). The reviewer's A/B side key is kept, so their earlier choices keep their meaning.
        """
        name = reviewer_name(name)
        secret = secrets.token_urlsafe(32)
        with self.transaction() as conn:
            known = conn.execute("SELECT secret_hash FROM reviewers WHERE name = ?", (name,)).fetchone()
            if known is None:
                conn.execute(
                    "INSERT INTO reviewers (name, secret_hash, side_key, created_at) VALUES (?, ?, ?, ?)",
                    (name, secret_hash(secret), secrets.token_hex(32), now()),
                )
            elif known["secret_hash"] is not None and not reissue:
                raise HarnessError(
                    f"{name!r} already has a link",
                    hint=f"`harness review invite {name} --reissue` replaces it (the old link stops working)",
                )
            else:
                conn.execute(
                    "UPDATE reviewers SET secret_hash = ?, revoked_at = NULL WHERE name = ?",
                    (secret_hash(secret), name),
                )
        return secret

    def revoke(self, name: str) -> None:
        """Stop a reviewer's link; their ratings stay in the database but no longer count."""
        with self.transaction() as conn:
            done = conn.execute(
                "UPDATE reviewers SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now(), name)
            ).rowcount
        if not done:
            known = ", ".join(r.name for r in self.reviewers() if r.active) or "none"
            raise HarnessError(f"no active reviewer named {name!r}", hint=f"active reviewers: {known}")

    def reviewer_by_secret(self, secret: str) -> str | None:
        """The name of the active reviewer whose link carries `secret`, or None."""
        if not secret or len(secret) > 200:
            return None
        rows = self.query(
            "SELECT name FROM reviewers WHERE secret_hash = ? AND revoked_at IS NULL", (secret_hash(secret),)
        )
        return rows[0]["name"] if rows else None

    def is_active(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM reviewers WHERE name = ? AND revoked_at IS NULL", (name,)))

    def reviewers(self) -> list[Reviewer]:
        return [
            Reviewer(r["name"], r["secret_hash"] is not None, r["created_at"], r["revoked_at"])
            for r in self.query("SELECT * FROM reviewers ORDER BY name")
        ]

    def tuned_side(self, name: str, item: StoredItem) -> str:
        """Where `name` is shown the tuned answer of an item's pair: a bit of HMAC-SHA256(item, pair) under the
        reviewer's secret key.

        Nothing a page shows (item ids, order, texts, stamps) predicts it without the key in this database.
        """
        rows = self.query("SELECT side_key FROM reviewers WHERE name = ?", (name,))
        if not rows:
            raise HarnessError(f"no reviewer named {name!r}", hint="issue a link with `harness review invite NAME`")
        message = "\0".join((item.eval_set, item.item_id, item.pair_hash or "")).encode("utf-8")
        digest = hmac.new(bytes.fromhex(rows[0]["side_key"]), message, hashlib.sha256).digest()
        return "AB"[digest[0] & 1]

    # -- what a reviewer sees next -----------------------------------------------------------------

    def next_item(self, reviewer: str, mode: str, rubric_version: str, min_reviews: int) -> StoredItem | None:
        """The first item in review order that this reviewer may review and that still needs reviews.

        In A/B mode that leaves out the items whose tuned answer this reviewer rated on its own: they would
        recognise it.
        """
        rows = self.query(
            f"SELECT * FROM ({_queue_sql(mode)}) WHERE mine = 0 AND seen = 0 AND done < :min ORDER BY position LIMIT 1",
            {"version": rubric_version, "reviewer": reviewer, "min": min_reviews},
        )
        return _item(rows[0]) if rows else None

    def progress(self, reviewer: str, mode: str, rubric_version: str, min_reviews: int) -> dict[str, int]:
        """Counts for the progress bar: the reviewer's own reviews and the whole review's."""
        row = self.query(
            "SELECT COUNT(*) AS total, COALESCE(SUM(mine), 0) AS mine, COALESCE(SUM(MIN(done, :min)), 0) AS filled,"
            " COALESCE(SUM(done >= :min), 0) AS complete,"
            " COALESCE(SUM(mine = 0 AND seen = 0 AND done < :min), 0) AS left"
            f" FROM ({_queue_sql(mode)})",
            {"version": rubric_version, "reviewer": reviewer, "min": min_reviews},
        )[0]
        counts = {key: int(row[key]) for key in ("total", "mine", "filled", "complete", "left")}
        return counts | {"needed": counts["total"] * min_reviews}

    def rated_by(self, reviewer: str, eval_set: str, item_id: str) -> bool:
        """Whether this reviewer has rated the item's tuned answer on its own (any version of it)."""
        return bool(
            self.query(
                "SELECT 1 FROM ratings WHERE eval_set = ? AND item_id = ? AND reviewer = ?",
                (eval_set, item_id, reviewer),
            )
        )

    # -- writing ratings ---------------------------------------------------------------------------

    def add_rating(self, rating: Rating) -> None:
        """Store a rating; the same reviewer rating the same answer again replaces their earlier scores."""
        self.add_many([rating], [])

    def add_comparison(self, comparison: Comparison) -> None:
        """Store an A/B choice; a repeat by the same reviewer on the same pair replaces the earlier one."""
        self.add_many([], [comparison])

    def add_many(self, ratings: list[Rating], comparisons: list[Comparison]) -> None:
        """Store ratings and A/B choices in one transaction: all of them or, on an error, none.

        A reviewer name the database does not know yet (an import) becomes an identity without a link.
        """
        for comparison in comparisons:
            if comparison.winner not in WINNERS:
                raise HarnessError(f"{comparison.winner!r} is not an A/B outcome", hint=f"use one of: {WINNERS}")
        names = sorted({r.reviewer for r in ratings} | {c.reviewer for c in comparisons})
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO reviewers (name, secret_hash, side_key, created_at) VALUES (?, NULL, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                [(name, secrets.token_hex(32), now()) for name in names],
            )
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
                "INSERT INTO comparisons (eval_set, item_id, reviewer, created_at, pair_hash, choice, winner, comment,"
                " tuned_side) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (eval_set, item_id, reviewer, pair_hash)"
                " DO UPDATE SET choice = excluded.choice, winner = excluded.winner, comment = excluded.comment,"
                " created_at = excluded.created_at, tuned_side = excluded.tuned_side",
                [
                    (
                        c.eval_set,
                        c.item_id,
                        c.reviewer,
                        c.created_at,
                        c.pair_hash,
                        c.choice,
                        c.winner,
                        c.comment,
                        c.tuned_side,
                    )
                    for c in comparisons
                ],
            )

    # -- reading ratings ---------------------------------------------------------------------------

    def ratings(self, *, current_only: bool = True) -> list[Rating]:
        """Ratings; by default only those that count: of the sampled answers as they are now, under the current
        rubric, by reviewers whose identity is not revoked."""
        if current_only:
            version = self.meta().rubric.version
            rows = self.query(
                "SELECT r.* FROM ratings r JOIN items i ON r.eval_set = i.eval_set AND r.item_id = i.item_id"
                f" AND r.output_hash = i.tuned_hash WHERE r.rubric_version = ? AND r.reviewer IN {ACTIVE}"
                " ORDER BY r.id",
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
        """A/B choices; by default only those that count: about the sampled pairs as they are now, by reviewers
        whose identity is not revoked."""
        if current_only:
            rows = self.query(
                "SELECT c.* FROM comparisons c JOIN items i ON c.eval_set = i.eval_set AND c.item_id = i.item_id"
                f" AND c.pair_hash = i.pair_hash WHERE c.reviewer IN {ACTIVE} ORDER BY c.id"
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
                r["tuned_side"],
            )
            for r in rows
        ]

    def revoked_counts(self) -> tuple[int, int]:
        """(ratings, A/B choices) stored for reviewers whose identity was revoked: kept, not counted."""
        revoked = "(SELECT name FROM reviewers WHERE revoked_at IS NOT NULL)"
        ratings = self.query(f"SELECT COUNT(*) FROM ratings WHERE reviewer IN {revoked}")[0][0]
        comparisons = self.query(f"SELECT COUNT(*) FROM comparisons WHERE reviewer IN {revoked}")[0][0]
        return int(ratings), int(comparisons)

    def count(self, table: str) -> int:
        if table not in ("ratings", "comparisons", "items"):
            raise ValueError(table)
        return int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])


ACTIVE = "(SELECT name FROM reviewers WHERE revoked_at IS NULL)"


def _queue_sql(mode: str) -> str:
    """Sampled items with `mine` (this reviewer's valid reviews), `done` (every active reviewer's) and `seen`
    (A/B only: this reviewer rated the tuned answer on its own), for one mode."""
    if mode == RUBRIC:
        return (
            "SELECT i.*,"
            " (SELECT COUNT(*) FROM ratings r WHERE r.eval_set = i.eval_set AND r.item_id = i.item_id"
            f"  AND r.output_hash = i.tuned_hash AND r.rubric_version = :version AND r.reviewer IN {ACTIVE}) AS done,"
            " (SELECT COUNT(*) FROM ratings r WHERE r.eval_set = i.eval_set AND r.item_id = i.item_id"
            "  AND r.output_hash = i.tuned_hash AND r.rubric_version = :version AND r.reviewer = :reviewer) AS mine,"
            " 0 AS seen FROM items i"
        )
    if mode == AB:
        return (
            "SELECT i.*,"
            " (SELECT COUNT(*) FROM comparisons c WHERE c.eval_set = i.eval_set AND c.item_id = i.item_id"
            f"  AND c.pair_hash = i.pair_hash AND c.reviewer IN {ACTIVE}) AS done,"
            " (SELECT COUNT(*) FROM comparisons c WHERE c.eval_set = i.eval_set AND c.item_id = i.item_id"
            "  AND c.pair_hash = i.pair_hash AND c.reviewer = :reviewer) AS mine,"
            " EXISTS (SELECT 1 FROM ratings r WHERE r.eval_set = i.eval_set AND r.item_id = i.item_id"
            "  AND r.reviewer = :reviewer) AS seen"
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
        disagree=bool(row["disagree"]),
    )
