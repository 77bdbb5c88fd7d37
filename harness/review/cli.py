"""`harness review ...`: sample answers for review, issue reviewers' links, serve the review app, report, export
and import ratings."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

DEMO_RUBRIC = Path("fixtures") / "review" / "rubric.yaml"
DEFAULT_URL = "http://127.0.0.1:8765"


def _cache_dir() -> Path:
    return Path(os.environ.get("HARNESS_CACHE_DIR") or ".harness")


def _db(args: argparse.Namespace) -> Path:
    from harness.review.store import default_db

    return Path(args.db) if args.db else default_db(_cache_dir())


def _check_sample_options(args: argparse.Namespace) -> None:
    """Options the sampler cannot check before the database is created (NaN passes every comparison)."""
    from harness.errors import HarnessError

    if args.min_reviews < 1:
        raise HarnessError(f"--min-reviews must be at least 1, got {args.min_reviews}", hint="e.g. --min-reviews 2")
    if not math.isfinite(args.oversample):
        raise HarnessError(f"--oversample must be a number, got {args.oversample}", hint="e.g. --oversample 2")


def _sample(args: argparse.Namespace) -> int:
    from harness.errors import HarnessError
    from harness.review.items import pair_outputs, read_outputs
    from harness.review.rubric import load_rubric
    from harness.review.sampling import draw_sample
    from harness.review.store import ReviewStore

    outputs = Path(args.outputs) if args.outputs else _cache_dir() / "runs" / "last" / "outputs.jsonl"
    rubric_path = Path(args.rubric) if args.rubric else DEMO_RUBRIC
    if not args.rubric and not rubric_path.is_file():
        raise HarnessError("no rubric given", hint="pass --rubric PATH (see fixtures/review/rubric.yaml)")
    _check_sample_options(args)
    rubric = load_rubric(rubric_path)
    items = pair_outputs(read_outputs(outputs))
    sample = draw_sample(
        items,
        confidence=args.confidence,
        margin=args.margin,
        seed=args.seed,
        oversample=args.oversample,
        size=args.size,
    )
    db = _db(args)
    store = ReviewStore(db, create=True)
    store.save_sample(sample, rubric, min_reviews=args.min_reviews, seed=args.seed)
    summary_counts = store.progress("", "rubric", rubric.version, args.min_reviews)
    store.close()
    print(sample.explain())
    for stratum in sample.strata.values():
        print(f"  {stratum.name}: {stratum.sampled} of {stratum.population} (weight {stratum.weight:.2f})")
    kept = summary_counts["filled"]
    if kept:
        print(f"{kept} earlier rating(s) still count: their answers did not change")
    print(f"review database: {db} (rubric version {rubric.version}, {args.min_reviews} review(s) per answer)")
    print(f"next: harness review invite NAME (one link per reviewer), then harness review serve --db {db}")
    return 0


def _names(values: list[str]) -> list[str]:
    """Reviewer names from arguments that may hold comma-separated lists."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _invite_all(db: Path, names: list[str], base_url: str, *, reissue: bool) -> None:
    """Issue each name a link and print it; the database keeps only a hash of the secret."""
    from harness.review.app import review_link
    from harness.review.store import ReviewStore

    store = ReviewStore(db)
    try:
        store.meta()  # fail now, with the fix, when nothing was sampled
        links = {name: review_link(base_url, store.invite(name, reissue=reissue)) for name in names}
    finally:
        store.close()
    print("personal review links (each identifies its reviewer: send each one privately; shown only now):")
    for name, link in links.items():
        print(f"    {name}: {link}")


def _invite(args: argparse.Namespace) -> int:
    _invite_all(_db(args), _names(args.names), args.url, reissue=args.reissue)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    from harness.review.store import ReviewStore

    store = ReviewStore(_db(args))
    try:
        for name in _names(args.names):
            store.revoke(name)
            print(f"revoked {name}: the link no longer opens the app; their reviews are kept but not counted")
    finally:
        store.close()
    return 0


def _reviewers(args: argparse.Namespace) -> int:
    from harness.review.gate import ReviewThresholds, flags
    from harness.review.store import ReviewStore
    from harness.review.summary import activity

    store = ReviewStore(_db(args))
    try:
        people = store.reviewers()
        counted = {a.name: a for a in activity(store.ratings(), store.comparisons())}
        stored = activity(store.ratings(current_only=False), store.comparisons(current_only=False))
        everything = {a.name: a for a in stored}
    finally:
        store.close()
    if not people:
        print("no reviewers yet: `harness review invite NAME` issues a link")
        return 0
    print(f"{'reviewer':<24} {'status':<20} {'ratings':>7} {'A/B':>5} {'median s':>9}  flags")
    for person in people:
        mine = counted.get(person.name) or everything.get(person.name)
        ratings = mine.ratings if mine else 0
        choices = mine.comparisons if mine else 0
        median = f"{mine.median_seconds:.1f}" if mine and mine.median_seconds is not None else "-"
        reasons = ", ".join(flags(mine, ReviewThresholds())) if mine else ""
        print(f"{person.name:<24} {person.status:<20} {ratings:>7} {choices:>5} {median:>9}  {reasons}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from harness.review.app import make_server

    server, sock, url = make_server(_db(args), args.host, args.port, tuple(args.allow_host))
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"warning: listening on {args.host}: anyone who can reach it and has a link can review; the app "
            "answers only to the Host names given with --allow-host (e.g. --allow-host reviews.internal)",
            flush=True,
        )
    if args.reviewers:
        _invite_all(_db(args), _names(args.reviewers), url, reissue=args.reissue)
    print(
        f"review app for {_db(args)} at {url} (Ctrl-C stops it); reviewers open their own link "
        "(`harness review invite NAME`); `harness review reviewers` shows their progress",
        flush=True,
    )
    server.run(sockets=[sock])
    return 0


def _report(args: argparse.Namespace) -> int:
    from harness.atomic import atomic_write_text
    from harness.errors import HarnessError
    from harness.review.gate import ReviewThresholds, decide
    from harness.review.report import report_dict, report_lines
    from harness.review.store import ReviewStore
    from harness.review.summary import summarise

    if args.min_reviewers < 1:
        raise HarnessError(f"--min-reviewers must be at least 1, got {args.min_reviewers}", hint="e.g. 2")
    if not math.isfinite(args.min_seconds) or args.min_seconds < 0:
        raise HarnessError(f"--min-seconds must be a number >= 0, got {args.min_seconds}", hint="e.g. 5")
    store = ReviewStore(_db(args))
    try:
        summary = summarise(store)
        items, ratings = (store.items(), store.ratings()) if args.judge_model else ([], [])
    finally:
        store.close()
    thresholds = ReviewThresholds(
        args.min_pass_rate, args.alpha, args.min_agreement, args.min_reviewers, args.min_seconds
    )
    verdict = decide(summary, thresholds)
    judged = _judge_review(args.judge_model, summary, items, ratings) if args.judge_model else None
    print("\n".join(report_lines(summary, verdict, thresholds, judged)))
    if args.json:
        text = json.dumps(report_dict(summary, verdict, thresholds, judged), indent=2, sort_keys=True) + "\n"
        atomic_write_text(Path(args.json), text)
    return 0 if verdict.passed else 1


def _judge_review(spec: str, summary: Any, items: list[Any], ratings: list[Any]) -> Any:
    """The judge `spec` grading the reviewed answers under the review's rubric (answers kept in the response cache)."""
    from harness.judge import Judge
    from harness.judge.reviewed import judge_review
    from harness.models.cache import ResponseCache
    from harness.models.loading import LoadOptions, load_model

    model = load_model(spec, LoadOptions(cache_dir=_cache_dir()), role="judge", option="--judge-model")
    if spec in (summary.meta.candidate, summary.meta.base_model):
        print(f"note: --judge-model {spec} is a model under review; expect it to favour its own answers")
    judge = Judge(model, summary.meta.rubric, cache=ResponseCache(_cache_dir() / "responses.sqlite"))
    return judge_review(judge, items, ratings)


def private_write_text(path: Path, text: str) -> None:
    """Write atomically with mode 0600: an export holds every reviewer's ratings and comments."""
    from harness.atomic import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.chmod(path, 0o600)
    else:  # the atomic write keeps the mode of the file it replaces
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    atomic_write_text(path, text)


def _export(args: argparse.Namespace) -> int:
    from harness.review.exchange import export_rows, format_of, format_rows
    from harness.review.store import ReviewStore

    fmt = format_of(Path(args.out), args.format) if args.out else (args.format or "jsonl")
    store = ReviewStore(_db(args))
    try:
        rows = export_rows(store)
        text = format_rows(rows, fmt, store.meta().rubric.names)
    finally:
        store.close()
    if args.out:
        private_write_text(Path(args.out), text)
        print(f"{len(rows)} row(s) written to {args.out} (readable by you only)", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _import(args: argparse.Namespace) -> int:
    from harness.review.exchange import import_rows
    from harness.review.store import ReviewStore

    store = ReviewStore(_db(args))
    try:
        ratings, comparisons = import_rows(store, Path(args.path), args.format)  # all rows or, on an error, none
    finally:
        store.close()
    print(f"imported {ratings} rating(s) and {comparisons} A/B choice(s) into {_db(args)}")
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    """Add the `review` subcommands to the `harness` command line."""
    sub = parser.add_subparsers(dest="review_command", metavar="SUBCOMMAND")
    db_help = "review database (default: .harness/review.sqlite, or $HARNESS_CACHE_DIR/review.sqlite)"

    sample = sub.add_parser("sample", help="draw the answers people will review from the last run")
    sample.add_argument("--outputs", metavar="PATH", help="a run's answers (default: .harness/runs/last/outputs.jsonl)")
    sample.add_argument("--rubric", metavar="PATH", help=f"rubric YAML (default: {DEMO_RUBRIC})")
    sample.add_argument("--confidence", type=float, default=0.95, help="confidence level (default 0.95)")
    sample.add_argument("--margin", type=float, default=0.05, help="margin of error of the pass rate (default 0.05)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the draw and of the A/B sides (default 0)")
    sample.add_argument("--min-reviews", type=int, default=2, help="independent reviews per answer (default 2)")
    sample.add_argument("--oversample", type=float, default=2.0, help="factor for base/tuned disagreements (default 2)")
    sample.add_argument("--size", type=int, help="sample exactly this many items instead of Cochran's size")
    sample.add_argument("--db", metavar="PATH", help=db_help)
    sample.set_defaults(run=_sample)

    invite = sub.add_parser("invite", help="issue reviewers their personal review links")
    invite.add_argument("names", nargs="+", metavar="NAME", help="reviewer names (or a,b,c)")
    invite.add_argument("--db", metavar="PATH", help=db_help)
    invite.add_argument("--url", default=DEFAULT_URL, help=f"the app's address in the links (default {DEFAULT_URL})")
    invite.add_argument("--reissue", action="store_true", help="replace an existing link (the old one stops working)")
    invite.set_defaults(run=_invite)

    revoke = sub.add_parser("revoke", help="stop reviewers' links; their reviews stop counting")
    revoke.add_argument("names", nargs="+", metavar="NAME")
    revoke.add_argument("--db", metavar="PATH", help=db_help)
    revoke.set_defaults(run=_revoke)

    reviewers = sub.add_parser("reviewers", help="who was issued a link, their progress and any flags")
    reviewers.add_argument("--db", metavar="PATH", help=db_help)
    reviewers.set_defaults(run=_reviewers)

    serve = sub.add_parser("serve", help="start the local review app")
    serve.add_argument("--db", metavar="PATH", help=db_help)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument(
        "--reviewers", action="append", default=[], metavar="A,B,C", help="issue these reviewers links on start"
    )
    serve.add_argument("--reissue", action="store_true", help="with --reviewers: replace links already issued")
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name the app answers to (e.g. the machine's name with --host 0.0.0.0)",
    )
    serve.set_defaults(run=_serve)

    report = sub.add_parser("report", help="pass rates, A/B outcome, agreement and the gate's verdict")
    report.add_argument("--db", metavar="PATH", help=db_help)
    report.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    from harness.review.gate import DEFAULT_THRESHOLDS as D

    report.add_argument(
        "--min-pass-rate", type=float, default=D.min_pass_rate, help=f"required Wilson lower bound ({D.min_pass_rate})"
    )
    report.add_argument("--alpha", type=float, default=D.alpha, help=f"level of the A/B sign test ({D.alpha})")
    report.add_argument(
        "--min-agreement",
        type=float,
        default=D.min_agreement,
        help=f"required Krippendorff's alpha ({D.min_agreement})",
    )
    report.add_argument(
        "--min-reviewers", type=int, default=D.min_reviewers, help=f"distinct reviewers per answer ({D.min_reviewers})"
    )
    report.add_argument(
        "--min-seconds", type=float, default=D.min_seconds, help=f"flag reviewers faster per item ({D.min_seconds:g} s)"
    )
    report.add_argument(
        "--judge-model",
        metavar="SPEC",
        help="also grade the reviewed answers with this judge (a model directory, openai+http://..., or demo:judge) "
        "and show its agreement with the reviewers per criterion",
    )
    report.set_defaults(run=_report)

    export = sub.add_parser("export", help="write every rating and A/B choice as JSONL or CSV")
    export.add_argument("--db", metavar="PATH", help=db_help)
    export.add_argument("--out", metavar="PATH", help="file to write (default: standard output)")
    export.add_argument("--format", choices=("jsonl", "csv"), help="default: from --out's extension, else jsonl")
    export.set_defaults(run=_export)

    imported = sub.add_parser("import", help="add ratings and A/B choices from a JSONL or CSV export")
    imported.add_argument("path", metavar="PATH")
    imported.add_argument("--db", metavar="PATH", help=db_help)
    imported.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file's extension")
    imported.set_defaults(run=_import)

    parser.set_defaults(run=lambda args: parser.print_help() or 2)
