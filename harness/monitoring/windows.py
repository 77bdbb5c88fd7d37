"""Split time-sorted log records into windows: by count (`200`) or by time (`1d`, `12h`, `30m`, `1w`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harness.errors import HarnessError
from harness.monitoring.logs import LogRecord

_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_SPEC = re.compile(r"\s*([0-9]{1,9})\s*([mhdw]?)\s*")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_WINDOWS = 10_000  # each window is a full set of drift tests; more means a wrong --window or a wrong timestamp
MAX_SPAN = timedelta(weeks=520)


@dataclass(frozen=True)
class WindowSpec:
    """How to cut windows: `size` records each, or calendar-aligned spans of `span` (UTC)."""

    text: str
    size: int | None = None
    span: timedelta | None = None


@dataclass(frozen=True)
class Window:
    """Consecutive records: a window's position, its time range (end exclusive for time windows) and records."""

    index: int
    start: datetime
    end: datetime
    records: tuple[LogRecord, ...]

    def __len__(self) -> int:
        return len(self.records)

    @property
    def label(self) -> str:
        """A short name for reports: the start date (and time when windows are shorter than a day)."""
        if self.end - self.start >= timedelta(days=1) and self.start.time() == datetime.min.time():
            return self.start.strftime("%Y-%m-%d")
        return self.start.strftime("%Y-%m-%d %H:%M")


def parse_window(text: str | int) -> WindowSpec:
    """`200` -> 200 records per window; `1d`, `12h`, `30m`, `2w` -> time spans aligned to UTC."""
    match = _SPEC.fullmatch(str(text))
    if not match or int(match.group(1)) < 1:
        raise HarnessError(
            f"--window {text!r} is neither a count nor a time span",
            hint="write a record count such as 200, or a span such as 1d, 12h, 30m or 1w",
        )
    amount, unit = int(match.group(1)), match.group(2)
    if not unit:
        return WindowSpec(str(text), size=amount)
    if amount > MAX_SPAN // _UNITS[unit]:  # compared before multiplying: timedelta overflows past 999,999,999 days
        raise HarnessError(f"--window {text!r} is longer than ten years", hint="use a span such as 1d or 1w")
    return WindowSpec(str(text), span=amount * _UNITS[unit])


def _too_many(spec: WindowSpec, count: int, first: LogRecord, last: LogRecord) -> HarnessError:
    """The error for a window setting that would cut the logs into more than MAX_WINDOWS windows."""
    return HarnessError(
        f"--window {spec.text} cuts the logs into {count:,} windows, more than {MAX_WINDOWS:,}: they span "
        f"{first.timestamp:%Y-%m-%d %H:%M} ({first.where}) to {last.timestamp:%Y-%m-%d %H:%M} ({last.where})",
        hint="pass a larger --window (e.g. 1d or 1w, or a bigger count), or narrow the period with --since/--until; "
        "check those two lines' timestamps",
    )


def split_windows(records: Sequence[LogRecord], spec: WindowSpec) -> list[Window]:
    """Windows over time-sorted records; time windows include empty spans so a silent day is visible."""
    records = sorted(records, key=lambda r: r.timestamp)
    if not records:
        return []
    if spec.size is not None:
        if (count := -(-len(records) // spec.size)) > MAX_WINDOWS:
            raise _too_many(spec, count, records[0], records[-1])
        chunks = [records[i : i + spec.size] for i in range(0, len(records), spec.size)]
        return [Window(k, c[0].timestamp, c[-1].timestamp, tuple(c)) for k, c in enumerate(chunks)]
    assert spec.span is not None
    span = spec.span
    first = EPOCH + span * ((records[0].timestamp - EPOCH) // span)
    count = (records[-1].timestamp - first) // span + 1
    if count > MAX_WINDOWS:
        raise _too_many(spec, count, records[0], records[-1])
    buckets: list[list[LogRecord]] = [[] for _ in range(count)]
    for record in records:
        buckets[(record.timestamp - first) // span].append(record)
    return [Window(k, first + k * span, first + (k + 1) * span, tuple(b)) for k, b in enumerate(buckets)]


def select_period(records: Sequence[LogRecord], since: datetime | None, until: datetime | None) -> list[LogRecord]:
    """The records with since <= timestamp < until (either bound optional)."""
    return [r for r in records if (since is None or r.timestamp >= since) and (until is None or r.timestamp < until)]
