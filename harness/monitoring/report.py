"""A monitoring report as JSON (for CI and dashboards) and as lines for the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.monitoring.drift import DriftTest
from harness.monitoring.monitor import DRIFT, NOT_ENOUGH, MonitorReport, WindowResult

SCHEMA_VERSION = 1
TEST_TITLES = {
    "domain_classifier": "classifier AUC",
    "embedding_mmd": "MMD",
    "output_length": "length PSI",
    "label_shift": "label PSI",
    "input_perplexity": "perplexity AUC",
}


def _number(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def drift_test_json(test: DriftTest) -> dict[str, Any]:
    """One test as plain JSON data."""
    return {
        "name": test.name,
        "statistic": _number(test.statistic, 6),
        "p_value": _number(test.p_value, 6),
        "p_adjusted": _number(test.p_adjusted, 6),
        "effect": _number(test.effect, 6),
        "effect_name": test.effect_name,
        "effect_floor": test.effect_floor,
        "band": test.band,
        "flagged": test.flagged,
        "n_reference": test.n_reference,
        "n_window": test.n_window,
        "note": test.note,
        "details": {k: v for k, v in test.details.items() if k != "example_indices"},
    }


def window_json(result: WindowResult) -> dict[str, Any]:
    """One window as plain JSON data."""
    window = result.window
    return {
        "index": window.index,
        "label": window.label,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "n": len(window),
        "verdict": result.verdict,
        "note": result.note,
        "tests": [drift_test_json(t) for t in result.tests],
        "characteristic_words": [{"word": w, "weight": c} for w, c in result.window_words],
        "reference_words": [{"word": w, "weight": c} for w, c in result.reference_words],
        "examples": [
            {"id": r.id, "where": r.where, "timestamp": r.timestamp.isoformat(), "input": r.input, "output": r.output}
            for r in result.examples
        ],
    }


def report_json(report: MonitorReport) -> dict[str, Any]:
    """The whole report as plain JSON data (schema version 1)."""
    s = report.settings
    return {
        "schema_version": SCHEMA_VERSION,
        "verdict": DRIFT if report.drifted else "no drift",
        "drifted_windows": [w.window.label for w in report.drifted],
        "logs": list(report.log_files),
        "n_records": report.n_records,
        "reference": {"files": list(report.reference_files), "n": report.reference_size},
        "model": report.model,
        "settings": {
            "window": s.window.text,
            "alpha": s.alpha,
            "correction": s.correction,
            "permutations": s.permutations,
            "classifier_permutations": s.classifier_permutations,
            "seed": s.seed,
            "min_samples": s.min_samples,
            "min_labels": s.min_labels,
            "embeddings": s.embeddings,
        },
        "windows": [window_json(w) for w in report.windows],
    }


def write_json(report: MonitorReport, path: Path) -> None:
    """Write the JSON report atomically."""
    atomic_write_text(Path(path), json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n")


def _cell(test: DriftTest | None) -> str:
    if test is None:
        return "-"
    if not test.enough_data:
        return "n/a"
    effect = f"{test.effect:.3f}" if test.effect is not None else "-"
    mark = " *" if test.flagged else ""
    return f"{effect} p={test.p_adjusted:.3g}{mark}"


def _short(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def terminal_lines(report: MonitorReport, examples: int = 3) -> list[str]:
    """A table of windows and tests, then what marks each drifted window, then the summary line."""
    s = report.settings
    names = [n for n in TEST_TITLES if any(w.test(n) is not None for w in report.windows)]
    lines = [
        f"monitoring {report.n_records} requests in {len(report.windows)} window(s) of {s.window.text} against "
        f"{report.reference_size} reference texts ({', '.join(report.reference_files)})",
        f"effect and {s.correction}-adjusted p per test; * = drift (adjusted p <= {s.alpha} and effect at its floor: "
        "AUC 0.55, PSI 0.1)",
        "",
    ]
    header = [f"{'window':<17}", f"{'n':>6}", f"{'verdict':<16}"] + [f"{TEST_TITLES[n]:<22}" for n in names]
    lines.append(" ".join(header).rstrip())
    for w in report.windows:
        verdict = "DRIFT" if w.verdict == DRIFT else w.verdict
        row = [f"{w.window.label:<17}", f"{len(w.window):>6}", f"{verdict:<16}"]
        row += [f"{_cell(w.test(n)):<22}" for n in names]
        lines.append(" ".join(row).rstrip())
    for w in report.drifted:
        flagged = ", ".join(TEST_TITLES[t.name] for t in w.tests if t.flagged)
        lines += ["", f"drift in {w.window.label} ({flagged})"]
        lines.append("  words marking the window: " + ", ".join(word for word, _ in w.window_words[:8]))
        for record in w.examples[:examples]:
            lines.append(f"  e.g. {record.id} ({record.where}): {_short(record.input)}")
    short = [w.window.label for w in report.windows if w.verdict == NOT_ENOUGH]
    lines.append("")
    if report.drifted:
        lines.append(
            f"DRIFT in {len(report.drifted)} of {len(report.windows)} window(s): "
            + ", ".join(w.window.label for w in report.drifted)
        )
    else:
        lines.append(f"no drift in {len(report.windows) - len(short)} judged window(s)")
    if short:
        lines.append(f"not enough data (< {s.min_samples} requests) in {len(short)} window(s): {', '.join(short[:10])}")
    return lines
