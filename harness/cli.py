"""The `harness` command: tools that run outside pytest (data lint, review, monitoring).

Each command group lives in its own module, which exposes `register(subparsers)`; a group's
module is imported only when the command line names it, so `harness --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from harness.errors import HarnessError

# command group -> (module that registers it, one-line help)
COMMAND_GROUPS: dict[str, tuple[str, str]] = {
    "data": ("harness.dataquality.cli", "check a fine-tuning set against its data specification"),
    "monitor": ("harness.monitoring.cli", "compare production logs with the reference; turn feedback into cases"),
    "review": ("harness.review.cli", "human review of a run's answers: sample, review app, report, gate"),
    "report": ("harness.html_report.report_cli", "draw the HTML promotion report of a saved run (--harness-json)"),
    "merge": ("harness.merge_cli", "combine the response caches of --shard runs before the verdict run"),
    "history": ("harness.html_report.history_cli", "plot each metric's promoted value over the git history"),
}


def build_parser(groups: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="group", metavar="COMMAND")
    for name, (module, help_text) in COMMAND_GROUPS.items():
        if name in groups:
            importlib.import_module(module).register(subparsers.add_parser(name, help=help_text))
        else:
            subparsers.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a harness command; user errors print one message and exit 2, never a traceback."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    wanted = [a for a in args_list[:1] if a in COMMAND_GROUPS]
    parser = build_parser(wanted)
    args = parser.parse_args(args_list)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0 if not args_list else 2
    try:
        return int(args.run(args) or 0)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
