"""A monitoring report as JSON (for CI and dashboards) and as lines for the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.monitoring.drift import AUC_FLOOR, PSI_FLOOR, SHARE_FLOOR, DriftTest
from harness.monitoring.monitor import DRIFT, NOT_ENOUGH, MonitorReport, WindowResult

SCHEMA_VERSION = 2
TEST_TITLES = {
    "domain_classifier": "classifier AUC",
    "embedding_mmd": "MMD new share",
    "output_length": "length PSI",
    "label_shift": "label PSI",
    "input_perplexity": "perplexity AUC",
}


def _number(value: float | None) -> float | None:
    """A float as it is: p-values of 1e-20 stay 1e-20, never rounded to 0."""
    return None if value is None else float(value)


def drift_test_json(test: DriftTest) -> dict[str, Any]:
    """One test as plain JSON data."""
    return {
        "name": test.name,
        "statistic": _number(test.statistic),
        "p_value": _number(test.p_value),
        "p_adjusted": _number(test.p_adjusted),
        "effect": _number(test.effect),
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
        "id": window.id,
        "index": window.index,
        "label": window.label,
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "n": len(window),
        "verdict": result.verdict,
        "note": result.note,
        "detectable_share": _number(result.detectable_share),
        "tests": [drift_test_json(t) for t in result.tests],
        "characteristic_words": [{"word": w, "weight": c} for w, c in result.window_words],
        "reference_words": [{"word": w, "weight": c} for w, c in result.reference_words],
        "examples": [
            {"id": r.id, "where": r.where, "timestamp": r.timestamp.isoformat(), "input": r.input, "output": r.output}
            for r in result.examples
        ],
    }


def report_json(report: MonitorReport) -> dict[str, Any]:
    """The whole report as plain JSON data (schema version 2)."""
    s = report.settings
    return {
        "schema_version": SCHEMA_VERSION,
        "verdict": DRIFT if report.drifted else "no drift",
        "drifted_windows": [w.window.id for w in report.drifted],
        "alarm_rule": s.rule,
        "window_level": s.window_level,
        "expected_false_alarms": report.expected_false_alarms,
        "notes": list(report.notes),
        "logs": list(report.log_files),
        "n_records": report.n_records,
        "reference": {"files": list(report.reference_files), "n": report.reference_size},
        "model": report.model,
        "settings": {
            "window": s.window.text,
            "alpha": s.alpha,
            "horizon": s.horizon,
            "correction": s.correction,
            "permutations": s.permutations,
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
    return f"{effect} p={test.p_adjusted:.2g}{mark}"


def _short(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def terminal_lines(report: MonitorReport, examples: int = 3) -> list[str]:
    """A table of windows and tests, then what marks each drifted window, then the summary line."""
    s = report.settings
    names = [n for n in TEST_TITLES if any(w.test(n) is not None for w in report.windows)]
    width = max([17] + [len(w.window.id) for w in report.windows])
    lines = [
        f"monitoring {report.n_records} requests in {len(report.windows)} window(s) of {s.window.text} against "
        f"{report.reference_size} reference texts ({', '.join(report.reference_files)})",
        f"alarm rule: {s.rule}",
        f"effect and {s.correction}-adjusted p per test; * = drift (effect floors: AUC {AUC_FLOOR}, MMD new share "
        f"{SHARE_FLOOR}, PSI above chance {PSI_FLOOR}); 'sees' = the share of new, clearly separable inputs the "
        "window detects about half the time",
        *(f"note: {note}" for note in report.notes),
        "",
    ]
    header = [f"{'window':<{width}}", f"{'n':>6}", f"{'verdict':<16}", f"{'sees':>5}"]
    header += [f"{TEST_TITLES[n]:<22}" for n in names]
    lines.append(" ".join(header).rstrip())
    for w in report.windows:
        verdict = "DRIFT" if w.verdict == DRIFT else w.verdict
        sees = "-" if w.detectable_share is None else f"{w.detectable_share:.0%}"
        row = [f"{w.window.id:<{width}}", f"{len(w.window):>6}", f"{verdict:<16}", f"{sees:>5}"]
        row += [f"{_cell(w.test(n)):<22}" for n in names]
        lines.append(" ".join(row).rstrip())
    for w in report.drifted:
        flagged = ", ".join(TEST_TITLES[t.name] for t in w.tests if t.flagged)
        lines += ["", f"drift in {w.window.id} ({flagged})"]
        lines.append("  words marking the window: " + ", ".join(word for word, _ in w.window_words[:8]))
        for record in w.examples[:examples]:
            lines.append(f"  e.g. {record.id} ({record.where}): {_short(record.input)}")
    short = [w.window.id for w in report.windows if w.verdict == NOT_ENOUGH]
    lines.append("")
    if report.drifted:
        lines.append(
            f"DRIFT in {len(report.drifted)} of {len(report.windows)} window(s): "
            + ", ".join(w.window.id for w in report.drifted)
        )
    else:
        lines.append(f"no drift in {len(report.windows) - len(short)} judged window(s)")
    lines.append(f"expected false alarms over these windows without drift: at most {report.expected_false_alarms:.3g}")
    if short:
        lines.append(f"not enough data (< {s.min_samples} requests) in {len(short)} window(s): {', '.join(short[:10])}")
    return lines
