"""The dataset lint: every rule of the data specification, run stage by stage over the training set."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.dataquality.findings import OFF, SEVERITIES, Finding, LintReport
from harness.dataquality.spec import DataSpec, load_spec


def default_eval_locations(root: Path | None = None) -> list[Path]:
    """fixtures/data and suites/ under the root (the current directory by default), where they exist."""
    from harness.dataquality.contamination import DEFAULT_EVAL_DIRS

    base = Path() if root is None else root
    return [base / d for d in DEFAULT_EVAL_DIRS if (base / d).is_dir()]


def lint_dataset(
    spec: DataSpec | str | Path,
    data: str | Path | Sequence[str | Path],
    eval_sets: Iterable[str | Path] | None = None,
    *,
    progress: bool = False,
) -> LintReport:
    """Check training data against its spec; `eval_sets` are files or directories of JSONL eval sets."""
    from harness.dataquality.contamination import check_contamination
    from harness.dataquality.domain import check_domain
    from harness.dataquality.duplicates import check_duplicates
    from harness.dataquality.labels import check_labels
    from harness.dataquality.pii import check_pii
    from harness.dataquality.records import read_records
    from harness.dataquality.review import check_synthetic
    from harness.dataquality.rules import check_content, check_records, check_size

    spec = spec if isinstance(spec, DataSpec) else load_spec(spec)
    paths = [data] if isinstance(data, str | Path) else list(data)
    locations = default_eval_locations() if eval_sets is None else list(eval_sets)
    timings: dict[str, float] = {}
    findings: list[Finding] = []

    def stage(name: str, run: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = run()
        timings[name] = round(time.perf_counter() - started, 3)
        if progress:
            print(f"  {name}: {timings[name]:.2f}s", file=sys.stderr, flush=True)
        return result

    records, schema_findings = stage("read", lambda: read_records(paths, spec, progress))
    findings += schema_findings
    findings += stage("spec rules", lambda: check_records(records, spec) + check_size(len(records), spec))
    findings += stage("content", lambda: check_content(records, spec))
    findings += stage("duplicates", lambda: check_duplicates(records, spec, progress))
    findings += stage("labels", lambda: check_labels(records, spec))
    findings += stage("domain", lambda: check_domain(records, spec, progress))
    contamination, summary = stage("contamination", lambda: check_contamination(records, spec, locations, progress))
    findings += contamination
    findings += stage("pii", lambda: check_pii(records, spec, progress))
    findings += stage("synthetic review", lambda: check_synthetic(records, spec))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings = [f for f in findings if f.severity != OFF]
    findings.sort(key=lambda f: (order[f.severity], f.rule, f.file or "", f.line or 0))
    timings["total"] = round(sum(timings.values()), 3)
    return LintReport(
        str(spec.path),
        [str(p) for p in paths],
        len(records),
        findings,
        timings,
        list(summary.eval_files),
        summary.to_dict(),
    )
