"""`harness report RUN_JSON --html PATH`: draw the HTML promotion report of a saved run (its --harness-json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.textfiles import read_text


def load_run(path: Path) -> dict[str, Any]:
    """A run's JSON report; a file that is not one is an error naming the file, line and column."""
    text = read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(
            f"{path}:{exc.lineno}:{exc.colno}: not JSON ({exc.msg})",
            hint="give the file a run wrote with --harness-json",
        ) from None
    if not isinstance(document, dict):
        raise HarnessError(f"{path}: not a run's JSON report", hint="give the file a run wrote with --harness-json")
    return document


def _run(args: argparse.Namespace) -> int:
    from harness.html_report.page import write_page, write_report_pages

    document = load_run(Path(args.run_json))
    target = Path(args.html)
    if target.is_dir():
        raise HarnessError(f"--html {target} is a directory", hint="give the path of a file to write")
    if args.no_history:
        written = [write_page(document, target)]
    else:
        written = write_report_pages(document, target, Path.cwd(), Path(args.baselines))
    for path in written:
        print(f"wrote {path}")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    """Add `report` to the `harness` command line."""
    parser.add_argument("run_json", metavar="RUN_JSON", help="a run's JSON report (pytest --harness-json PATH)")
    parser.add_argument("--html", metavar="PATH", required=True, help="the HTML file to write")
    parser.add_argument(
        "--baselines",
        metavar="DIR",
        default="baselines",
        help="committed baselines whose history the report links (default: baselines/; written next to the "
        "report as NAME-history.html)",
    )
    parser.add_argument("--no-history", action="store_true", help="write the report only, without the history page")
    parser.set_defaults(run=_run)
