"""A deterministic share of every eval set, so one evaluation can run as several jobs.

`--shard I/N` (0 <= I < N) keeps the eval items whose id hashes to I modulo N, and the case-file cases
likewise. The hash depends on the eval set's name and the item's id only, so the N shares are disjoint,
together cover everything, and stay the same on any machine, in any order. Each job's answers land in
its response cache; `harness merge` combines the caches and a final `pytest suites/` on the merged
cache asks the models nothing and gives the verdict of an unsharded run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError


@dataclass(frozen=True)
class Shard:
    """Share `index` of `count` (0-based, as Kubernetes indexed jobs and Slurm arrays from 0 count)."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, option: str = "--shard") -> Shard:
        index, slash, count = text.partition("/")
        try:
            shard = cls(int(index), int(count)) if slash else None
        except ValueError:
            shard = None
        if shard is None or shard.count < 1 or not 0 <= shard.index < shard.count:
            raise HarnessError(
                f"{option} {text!r} is not a share I/N with 0 <= I < N",
                hint="e.g. --shard 0/4 ... --shard 3/4 for four jobs",
            )
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def keeps(self, group: str, item: Any) -> bool:
        """Whether this share holds `item` (an id, or a whole row when there is no id) of eval set `group`."""
        text = item if isinstance(item, str) else json.dumps(item, sort_keys=True, default=str)
        digest = hashlib.sha256(f"{group}\0{text}".encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index
