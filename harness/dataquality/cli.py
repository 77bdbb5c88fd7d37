"""`harness data ...`: lint a fine-tuning set, augment it, record reviews, export approved examples."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _lint(args: argparse.Namespace) -> int:
    from harness.dataquality.lint import lint_dataset
    from harness.dataquality.report import terminal_lines, write_json

    progress = not args.quiet and sys.stderr.isatty()
    report = lint_dataset(args.spec, args.data, args.eval_sets, progress=progress)
    if args.json:
        write_json(report, args.json)
    if not args.quiet:
        print("\n".join(terminal_lines(report, args.show)))
    return 0 if report.passed else 1


def _augment(args: argparse.Namespace) -> int:
    from harness.dataquality.augment import augment, load_generator
    from harness.dataquality.records import read_records
    from harness.dataquality.review import write_jsonl
    from harness.dataquality.spec import load_spec
    from harness.errors import HarnessError

    spec = load_spec(args.spec)
    records, problems = read_records([args.data], spec)
    if args.method == "back-translation" and not args.translation_models:
        raise HarnessError(
            "back-translation is unavailable: it needs two local translation models (into a pivot language and back)",
            hint="pass --translation-models TO_PIVOT_DIR FROM_PIVOT_DIR (directories written by save_pretrained); "
            "the harness does not download models",
        )
    if args.method == "paraphrase" and not args.generator:
        raise HarnessError("paraphrasing needs a generator model", hint="pass --generator MODEL_SPEC (e.g. demo:base)")
    generator = None if args.method == "back-translation" else load_generator(args.generator, args.device)
    candidates = augment(
        spec,
        records,
        generator=generator,
        generator_name=args.generator or "",
        translation_models=args.translation_models or (),
        limit=args.limit,
        progress=sys.stderr.isatty(),
    )
    kept = [c.row for c in candidates if c.rejected is None]
    write_jsonl(args.out, kept)
    if args.rejected:
        write_jsonl(
            args.rejected,
            [c.row | {"status": "filtered", "filter_reason": c.rejected} for c in candidates if c.rejected is not None],
        )
    print(
        f"{len(candidates)} candidate(s) from {len({c.source.id for c in candidates})} source(s); "
        f"{len(kept)} passed the filters and were written to {args.out} with status 'pending'"
    )
    if problems:
        print(f"  ({len(problems)} malformed training line(s) were skipped; run `harness data lint`)")
    reasons: dict[str, int] = {}
    for c in candidates:
        if c.rejected is not None:
            key = c.rejected.split(" (")[0].split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"  filtered out: {n} x {reason}")
    print(f"next: review them, then `harness data approve {args.out} REVIEWED.jsonl`")
    return 0


def _approve(args: argparse.Namespace) -> int:
    from harness.dataquality.review import approve

    counts = approve(args.candidates, args.reviewed, args.out)
    print(
        f"{counts['approved']} approved, {counts['rejected']} rejected, {counts['pending']} still pending "
        f"in {args.out or args.candidates}"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from harness.dataquality.review import export

    counts = export(args.candidates, args.out, args.train)
    print(
        f"wrote {counts['written']} example(s) to {args.out}: {counts['approved']} approved synthetic, "
        f"{counts['left_out']} unapproved left out"
    )
    return 0


def register(parser: argparse.ArgumentParser) -> None:
    """Add the `data` subcommands to the `harness data` parser."""
    commands = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    lint = commands.add_parser("lint", help="check training data against its data specification")
    lint.add_argument("spec", type=Path, help="data_spec.yaml")
    lint.add_argument("data", type=Path, nargs="+", help="training data (JSONL)")
    lint.add_argument(
        "--eval-sets",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="eval sets (directories of .jsonl, or files) to check for contamination "
        "(default: fixtures/data and suites/ under the current directory)",
    )
    lint.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    lint.add_argument("--show", type=int, default=12, metavar="N", help="findings shown per rule (default 12)")
    lint.add_argument("--quiet", action="store_true", help="print nothing; the exit status tells the verdict")
    lint.set_defaults(run=_lint)

    aug = commands.add_parser("augment", help="paraphrase examples into candidates with status 'pending'")
    aug.add_argument("spec", type=Path)
    aug.add_argument("data", type=Path)
    aug.add_argument(
        "--generator",
        metavar="MODEL_SPEC",
        help="generator model: demo:NAME, a local model directory, or openai+http://HOST/v1?model=NAME",
    )
    aug.add_argument("--method", choices=("paraphrase", "back-translation"), default="paraphrase")
    aug.add_argument(
        "--translation-models",
        nargs=2,
        metavar=("TO_PIVOT", "FROM_PIVOT"),
        help="two local translation model directories, for --method back-translation",
    )
    aug.add_argument("--out", type=Path, required=True, help="where the pending candidates are written (JSONL)")
    aug.add_argument("--rejected", type=Path, help="also write the filtered-out candidates with their reasons")
    aug.add_argument("--limit", type=int, help="augment only the first N examples")
    aug.add_argument("--device", default="auto", help="torch device for a local generator (default: auto)")
    aug.set_defaults(run=_augment)

    approve = commands.add_parser("approve", help="apply a reviewed JSONL (id, status, reviewer) to candidates")
    approve.add_argument("candidates", type=Path)
    approve.add_argument("reviewed", type=Path, help="JSONL rows {id, status: approved|rejected, reviewer[, note]}")
    approve.add_argument("--out", type=Path, help="write here instead of updating CANDIDATES in place")
    approve.set_defaults(run=_approve)

    export = commands.add_parser("export", help="write training data with only approved synthetic examples")
    export.add_argument("candidates", type=Path, nargs="+", help="reviewed candidates files")
    export.add_argument("--train", type=Path, help="the collected training set to include")
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(run=_export)
