"""The baseline store: committed JSON holding the `base` and `promoted` references of each suite module.

One file per suite module (baselines/<suite path>.json), keys sorted and floats rounded so that a
pull request's diff reads well and a serial run and an xdist run write the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_many
from harness.errors import HarnessError
from harness.metrics.result import MetricResult
from harness.records import REFERENCES, MetricRecord, result_from_dict, result_to_dict
from harness.stats import COMPARED_DIGITS
from harness.textfiles import read_text

FORMAT_VERSION = 1
FLOAT_DIGITS = COMPARED_DIGITS  # the precision paired comparisons use, so stored and live results agree


@dataclass(frozen=True)
class BaselineEntry:
    """A stored metric result and what it was measured on."""

    result: MetricResult
    test: str
    model: str
    model_fingerprint: str
    base_fingerprint: str
    data_fingerprint: str
    data_path: str
    decoding: str
    harness_version: str
    date: str
    environment: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "result": result_to_dict(self.result),
            "measured_on": {
                "test": self.test,
                "model": self.model,
                "model_fingerprint": self.model_fingerprint,
                "base_fingerprint": self.base_fingerprint,
                "data_fingerprint": self.data_fingerprint,
                "data_path": self.data_path,
                "decoding": self.decoding,
                "harness_version": self.harness_version,
                "date": self.date,
                "environment": dict(self.environment),
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineEntry:
        on = data["measured_on"]
        check_stored_result(data["result"])
        return cls(
            result=result_from_dict(data["result"]),
            test=on.get("test", ""),
            model=on.get("model", ""),
            model_fingerprint=on.get("model_fingerprint", ""),
            base_fingerprint=on.get("base_fingerprint", ""),
            data_fingerprint=on.get("data_fingerprint", ""),
            data_path=on.get("data_path", ""),
            decoding=on.get("decoding", ""),
            harness_version=on.get("harness_version", ""),
            date=on.get("date", ""),
            environment=dict(on.get("environment", {})),
        )

    @classmethod
    def from_record(cls, record: MetricRecord, *, base_fingerprint: str, date: str) -> BaselineEntry:
        from harness import __version__

        return cls(
            result=record.result,
            test=record.test,
            model=record.model,
            model_fingerprint=record.model_fingerprint,
            base_fingerprint=base_fingerprint,
            data_fingerprint=record.data_fingerprint,
            data_path=record.data_path,
            decoding=record.decoding,
            harness_version=__version__,
            date=date,
            environment=record.environment,
        )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_stored_result(data: Mapping[str, Any]) -> None:
    """A stored result must be whole: a finite value inside its finite CI, and one finite score per item."""
    value, ci, n, per_item = data.get("value"), data.get("ci"), data.get("n"), data.get("per_item")
    if not _finite(value):
        raise ValueError(f"value {value!r} is not a finite number")
    if not (isinstance(ci, list) and len(ci) == 2 and all(map(_finite, ci)) and ci[0] <= ci[1]):
        raise ValueError(f"ci {ci!r} is not an interval [low, high] of finite numbers")
    slack = 2 * 10.0**-FLOAT_DIGITS  # value and bounds are rounded separately
    if not ci[0] - slack <= value <= ci[1] + slack:
        raise ValueError(f"value {value} lies outside its interval {ci}")
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
        raise ValueError(f"n {n!r} is not a count")
    if not isinstance(per_item, dict) or not all(_finite(v) for v in per_item.values()):
        raise ValueError("per_item must map item ids to finite scores")
    if per_item and len(per_item) != n:
        raise ValueError(f"per_item holds {len(per_item)} scores for n = {n} items")


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, FLOAT_DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _encode(value: Any, depth: int) -> str:
    """Two-space indented JSON with sorted keys; a list of plain values stays on one line."""
    pad = "  " * depth
    if isinstance(value, dict) and value:
        rows = [f"{pad}  {json.dumps(k, ensure_ascii=False)}: {_encode(value[k], depth + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(rows) + f"\n{pad}}}"
    if isinstance(value, list) and value and not all(map(_scalar, value)):
        return "[\n" + ",\n".join(f"{pad}  {_encode(v, depth + 1)}" for v in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def dumps(document: Mapping[str, Any]) -> str:
    """Stable JSON text: sorted keys, rounded floats, two-space indent (a list of plain values on one
    line, so a confusion matrix reads as rows), trailing newline."""
    return _encode(_rounded(dict(document)), 0) + "\n"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a baseline may hold")


def is_fresh(entry: BaselineEntry, base_fingerprint: str, rootdir: Path) -> bool:
    """Whether a stored base result still describes this base model on the eval data as it is now."""
    from harness.data import data_fingerprint

    if entry.model_fingerprint != base_fingerprint or not entry.data_path:
        return False
    data = rootdir / entry.data_path
    return data.is_file() and data_fingerprint(data) == entry.data_fingerprint


class BaselineStore:
    """Reads and writes baselines/<suite>.json files; every write is atomic."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, suite: str) -> Path:
        return self.directory / Path(suite).with_suffix(".json")

    def load(self, suite: str) -> dict[str, dict[str, BaselineEntry]]:
        """{"base": {metric: entry}, "promoted": {...}} for a suite module; empty when none is stored."""
        path = self.path_for(suite)
        if not path.is_file():
            return {kind: {} for kind in REFERENCES}
        try:
            document = json.loads(read_text(path, source=str(path)), parse_constant=_no_constant)
            if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
                found = document.get("format") if isinstance(document, dict) else type(document).__name__
                raise ValueError(f"format {found!r}, expected {FORMAT_VERSION}")
        except (ValueError, HarnessError) as exc:
            raise self._unreadable(path, suite, str(exc)) from None
        stored: dict[str, dict[str, BaselineEntry]] = {}
        for kind in REFERENCES:
            stored[kind] = {}
            entries = document.get(kind, {})
            if not isinstance(entries, dict):
                raise self._unreadable(path, suite, f"{kind!r} must map metric names to entries")
            for name, entry in entries.items():
                try:
                    stored[kind][name] = BaselineEntry.from_dict(entry)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    raise self._unreadable(path, suite, f"{kind}.{name}: {exc}") from None
        return stored

    @staticmethod
    def _unreadable(path: Path, suite: str, problem: str) -> HarnessError:
        return HarnessError(
            f"baseline file {path} cannot be used: {problem}",
            hint=f"re-record it (`pytest {suite} --update-baselines` for base, `--promote` for promoted), "
            f"or restore it with `git checkout -- {path}`",
        )

    def metric_names(self) -> set[str]:
        """Every metric any baseline file names (files that cannot be parsed are skipped here)."""
        names: set[str] = set()
        for path in self.directory.rglob("*.json"):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(document, dict):
                names |= {n for kind in REFERENCES if isinstance(document.get(kind), dict) for n in document[kind]}
        return names

    def write(self, suite: str, kind: str, entries: Mapping[str, BaselineEntry]) -> Path:
        """Replace the given metrics of one reference in a suite's file, keeping everything else."""
        return self.write_many({(suite, kind): entries})[0]

    def write_many(self, updates: Mapping[tuple[str, str], Mapping[str, BaselineEntry]]) -> list[Path]:
        """Apply {(suite, kind): entries} to every file at once: all files are written, or none is."""
        documents: dict[str, dict[str, dict[str, BaselineEntry]]] = {}
        for (suite, kind), entries in updates.items():
            stored = documents.setdefault(suite, self.load(suite))
            stored[kind] = {**stored[kind], **entries}
        files = {}
        for suite, stored in documents.items():
            document: dict[str, Any] = {"format": FORMAT_VERSION, "suite": suite}
            for ref in REFERENCES:
                document[ref] = {name: entry.to_dict() for name, entry in sorted(stored[ref].items())}
            files[self.path_for(suite)] = dumps(document)
        atomic_write_many(files)
        return list(files)
