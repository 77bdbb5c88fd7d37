"""`harness history`: each metric's promoted value over the repository's git history, as one HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError


def _run(args: argparse.Namespace) -> int:
    from harness.html_report.history import write_history_page

    target = Path(args.html)
    if target.is_dir():
        raise HarnessError(f"--html {target} is a directory", hint="give the path of a file to write")
    baselines = Path(args.baselines)
    if not baselines.is_dir():
        raise HarnessError(f"--baselines {baselines} is not a directory", hint="run this in the project's root")
    print(f"wrote {write_history_page(Path(args.repo), baselines, target, args.report)}")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    """Add `history` to the `harness` command line."""
    parser.add_argument(
        "--baselines", metavar="DIR", default="baselines", help="the committed baselines (default: baselines/)"
    )
    parser.add_argument(
        "--html",
        metavar="PATH",
        default="harness-history.html",
        help="the page to write (default: harness-history.html)",
    )
    parser.add_argument(
        "--repo", metavar="DIR", default=".", help="the git repository (default: the current directory)"
    )
    parser.add_argument("--report", metavar="HREF", help="a promotion report for the page to link back to")
    parser.set_defaults(run=_run)
