"""Split time-sorted log records into windows: by count (`200`) or by time (`1d`, `12h`, `30m`, `1w`).

Only windows that hold records exist: a silent span costs nothing, so one stray timestamp years away makes one
extra window, not millions. Such strays are named by `outlying_records`, and a window setting that would still
make more than MAX_WINDOWS windows is refused with the lines at both ends of the log.
"""

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
    counted: bool = False  # cut by record count (several windows may start in the same minute)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def label(self) -> str:
        """A short name for reports: the start date (and time when windows are shorter than a day)."""
        if self.end - self.start >= timedelta(days=1) and self.start.time() == datetime.min.time():
            return self.start.strftime("%Y-%m-%d")
        return self.start.strftime("%Y-%m-%d %H:%M")

    @property
    def id(self) -> str:
        """A name unique within a report: the label, numbered for count windows."""
        return f"{self.label} #{self.index + 1}" if self.counted else self.label


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


def outlying_records(records: Sequence[LogRecord]) -> list[LogRecord]:
    """Records far outside the bulk of the log: more than the bulk's length (at least a day) before or after it.

    The bulk runs from the 1st to the 99th percentile of the timestamps, so logs under 100 records have none.
    """
    times = sorted(r.timestamp for r in records)
    if len(times) < 100:
        return []
    low, high = times[len(times) // 100], times[-(len(times) // 100) - 1]
    margin = max(high - low, timedelta(days=1))
    return sorted((r for r in records if r.timestamp < low - margin or r.timestamp > high + margin), key=_time)


def describe_outliers(outliers: Sequence[LogRecord], shown: int = 5) -> str:
    """'N record(s) far outside the bulk of the log: file:line (time), ...'."""
    named = ", ".join(f"{r.where} ({r.timestamp:%Y-%m-%d %H:%M})" for r in outliers[:shown])
    more = f" and {len(outliers) - shown} more" if len(outliers) > shown else ""
    return f"{len(outliers)} record(s) lie far outside the bulk of the log's timestamps: {named}{more}"


def _time(record: LogRecord) -> datetime:
    return record.timestamp


def _too_many(
    spec: WindowSpec, count: int, first: LogRecord, last: LogRecord, records: Sequence[LogRecord]
) -> HarnessError:
    """The error for a window setting that would cut the logs into more than MAX_WINDOWS windows."""
    outliers = outlying_records(records)
    strays = f"; {describe_outliers(outliers)}" if outliers else ""
    return HarnessError(
        f"--window {spec.text} cuts the logs into {count:,} windows, more than {MAX_WINDOWS:,}: they span "
        f"{first.timestamp:%Y-%m-%d %H:%M} ({first.where}) to {last.timestamp:%Y-%m-%d %H:%M} ({last.where})" + strays,
        hint="pass a larger --window (e.g. 1d or 1w, or a bigger count), or narrow the period with --since/--until; "
        "check those two lines' timestamps",
    )


def split_windows(records: Sequence[LogRecord], spec: WindowSpec) -> list[Window]:
    """Windows over time-sorted records, numbered in time order; time windows exist only where there are records."""
    records = sorted(records, key=_time)
    if not records:
        return []
    if spec.size is not None:
        if (count := -(-len(records) // spec.size)) > MAX_WINDOWS:
            raise _too_many(spec, count, records[0], records[-1], records)
        chunks = [records[i : i + spec.size] for i in range(0, len(records), spec.size)]
        return [Window(k, c[0].timestamp, c[-1].timestamp, tuple(c), counted=True) for k, c in enumerate(chunks)]
    assert spec.span is not None
    span = spec.span
    buckets: dict[int, list[LogRecord]] = {}
    for record in records:
        buckets.setdefault((record.timestamp - EPOCH) // span, []).append(record)
    if len(buckets) > MAX_WINDOWS:
        raise _too_many(spec, len(buckets), records[0], records[-1], records)
    return [
        Window(k, EPOCH + key * span, EPOCH + (key + 1) * span, tuple(bucket))
        for k, (key, bucket) in enumerate(buckets.items())
    ]


def empty_spans(windows: Sequence[Window]) -> int:
    """How many spans without records lie between consecutive time windows (0 for count windows)."""
    return sum(
        (b.start - a.end) // (a.end - a.start)
        for a, b in zip(windows, windows[1:], strict=False)
        if not a.counted and a.end < b.start
    )


def select_period(records: Sequence[LogRecord], since: datetime | None, until: datetime | None) -> list[LogRecord]:
    """The records with since <= timestamp < until (either bound optional)."""
    return [r for r in records if (since is None or r.timestamp >= since) and (until is None or r.timestamp < until)]
