"""Spreading requests over the replicas of one deployment, as many at a time as each keeps up with.

Each replica has its own concurrency limit, adapted as answers come back (additive increase,
multiplicative decrease, as TCP does): a rate limit (429) or an overload answer (503, a timeout) halves
it; an answer as fast as the replica's best grows it by one per window of answers, up to a maximum. A
replica that refuses connections rests for a while (doubling, up to 30 s) and the others take its share.
A request goes to the replica with the most free room, so a slow replica gets fewer.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from harness.errors import HarnessError

LATENCY_HOLDS = 2.0  # an answer within this factor of the replica's fastest counts as "latency holds"
MAX_REST = 30.0  # seconds a refusing replica rests at most


class ServerUnreachable(HarnessError):
    """No replica answered within the retries (connection refused, timeouts, overload)."""


class ServerRefused(HarnessError):
    """The server answered a request with an error status that retrying will not change."""

    def __init__(self, message: str, *, hint: str, status: int, reason: str) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.reason = reason


@dataclass
class Replica:
    """One server of a deployment, with its adaptive concurrency limit."""

    url: str
    limit: float
    maximum: int
    in_flight: int = 0
    answered: int = 0
    fastest: float = float("inf")
    rest_until: float = 0.0
    rests: int = 0
    history: list[int] = field(default_factory=list)  # the limit after each change, for tests and reports

    def room(self) -> float:
        return int(self.limit) - self.in_flight


class ReplicaPool:
    """The replicas of one deployment; `slot()` lends the one with the most free room."""

    def __init__(
        self, urls: Sequence[str], *, start: int, maximum: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if not urls:
            raise ValueError("a deployment needs at least one URL")
        self.replicas = [Replica(url, limit=float(min(start, maximum)), maximum=maximum) for url in urls]
        self._clock = clock
        self._ready = threading.Condition()

    @property
    def capacity(self) -> int:
        """The most requests that may ever be in flight at once over all replicas."""
        return sum(replica.maximum for replica in self.replicas)

    @contextlib.contextmanager
    def slot(self) -> Iterator[Replica]:
        """Wait until some resting-free replica has room, and lend it for one request."""
        with self._ready:
            while True:
                now = self._clock()
                awake = [r for r in self.replicas if r.rest_until <= now]
                free = [r for r in awake if r.room() > 0]
                if free:
                    replica = max(free, key=lambda r: (r.room() / r.limit, -r.in_flight))
                    replica.in_flight += 1
                    break
                wake = min((r.rest_until for r in self.replicas if r.rest_until > now), default=now + 1.0)
                self._ready.wait(timeout=max(0.01, min(1.0, wake - now)))
        try:
            yield replica
        finally:
            with self._ready:
                replica.in_flight -= 1
                self._ready.notify_all()

    def answered(self, replica: Replica, seconds: float) -> None:
        """An answer came: the replica is healthy; grow its limit while its latency holds."""
        with self._ready:
            replica.rests = 0
            replica.answered += 1
            replica.fastest = min(replica.fastest, seconds)
            if seconds <= LATENCY_HOLDS * replica.fastest and replica.limit < replica.maximum:
                replica.limit = min(float(replica.maximum), replica.limit + 1.0 / replica.limit)
                self._changed(replica)

    def overloaded(self, replica: Replica) -> None:
        """A rate limit, an overload answer or a timeout: halve the replica's limit."""
        with self._ready:
            replica.limit = max(1.0, replica.limit / 2)
            self._changed(replica)

    def refused(self, replica: Replica) -> None:
        """The replica refused the connection: let it rest, longer each time in a row."""
        with self._ready:
            replica.rest_until = self._clock() + min(MAX_REST, 0.5 * 2**replica.rests)
            replica.rests += 1

    def _changed(self, replica: Replica) -> None:
        if not replica.history or replica.history[-1] != int(replica.limit):
            replica.history.append(int(replica.limit))
        self._ready.notify_all()
