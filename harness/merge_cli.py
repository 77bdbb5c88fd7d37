"""`harness merge`: combine the response caches of shard runs (`pytest suites/ --shard I/N`) into one.

A final `pytest suites/` on the merged cache asks the models nothing it holds, so its verdict is the one
an unsharded run gives. Each source is read read-only and row by row checked; a key two sources answer
differently (a sampled answer, or models that are not the same) keeps the first and is counted.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from tqdm import tqdm

from harness.models.cache import ResponseCache, intact_rows

BATCH = 1000


def merge_caches(sources: list[Path], into: Path) -> dict[str, int]:
    """Copy every intact row of `sources` into the cache at `into`; counts of added, same and conflicting."""
    target = ResponseCache(into)
    counts = {"added": 0, "same": 0, "conflicts": 0}
    try:
        for source in tqdm(sources, desc="merging shard caches", unit="cache", file=sys.stderr, disable=None):
            if source.resolve() == into.resolve():
                continue
            rows = intact_rows(source)
            while batch := dict(itertools.islice(rows, BATCH)):
                present = target.get_many(list(batch))
                for key, value in present.items():
                    counts["same" if value == batch[key] else "conflicts"] += 1
                new = {key: value for key, value in batch.items() if key not in present}
                target.put_many(new)
                counts["added"] += len(new)
    finally:
        target.close()
    return counts


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("sources", nargs="+", type=Path, metavar="SHARD_CACHE", help="responses.sqlite of each shard")
    parser.add_argument("--into", type=Path, required=True, metavar="CACHE", help="the cache to merge into")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    counts = merge_caches(args.sources, args.into)
    print(
        f"merged {len(args.sources)} cache(s) into {args.into}: {counts['added']:,} answers added, "
        f"{counts['same']:,} already there, {counts['conflicts']:,} conflicting (the first answer kept)"
    )
    return 1 if counts["conflicts"] else 0
