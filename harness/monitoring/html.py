"""A self-contained HTML page of a monitoring report: drift over windows as embedded PNG plots, then the details.

Every text that comes from the logs or the reference goes through html.escape: a logged input is data, never
markup. Plots need matplotlib (Agg backend, no display); without it the page says so and keeps the tables.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.monitoring.drift import AUC_FLOOR, PSI_BANDS, SHARE_FLOOR
from harness.monitoring.monitor import DRIFT, MonitorReport, WindowResult
from harness.monitoring.report import TEST_TITLES

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
tr.drift td { background: #fde8e8; }
tr.short td { color: #888; }
.flag { font-weight: bold; color: #b00; }
pre { white-space: pre-wrap; margin: 0; }
img { max-width: 100%; }
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _effects(report: MonitorReport, name: str) -> list[float]:
    nan = float("nan")
    return [t.effect if (t := w.test(name)) is not None and t.effect is not None else nan for w in report.windows]


def _drawn(values: list[float]) -> bool:
    return any(v == v for v in values)  # v == v: not NaN


def plot_drift(report: MonitorReport) -> str | None:
    """Drift statistics over the windows as one base64 PNG (None when matplotlib is not installed).

    A series is drawn, and named in a legend, only when some window has a value for it.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    x = list(range(len(report.windows)))
    labels = [w.window.id for w in report.windows]
    figure, axes = plt.subplots(3, 1, figsize=(10, 8.5), sharex=True)
    auc_ax, share_ax, psi_ax = axes
    for name, style, title in (
        ("domain_classifier", "o-", "classifier AUC"),
        ("input_perplexity", "s--", "perplexity AUC"),
    ):
        if _drawn(values := _effects(report, name)):
            auc_ax.plot(x, values, style, label=title)
    auc_ax.axhline(AUC_FLOOR, color="grey", lw=0.8, ls="--", label=f"floor {AUC_FLOOR}")
    auc_ax.set_ylabel("AUC")
    if _drawn(shares := _effects(report, "embedding_mmd")):
        share_ax.plot(x, shares, "o-", color="tab:purple", label="MMD: new share (lower bound)")
    detectable = [float("nan") if w.detectable_share is None else w.detectable_share for w in report.windows]
    if _drawn(detectable):
        share_ax.plot(x, detectable, "k:", label="detectable share (about half the time)")
    share_ax.axhline(SHARE_FLOOR, color="grey", lw=0.8, ls="--", label=f"floor {SHARE_FLOOR}")
    share_ax.set_ylabel("share of window")
    length_psi, label_psi = _effects(report, "output_length"), _effects(report, "label_shift")
    for values, style, title in ((length_psi, "o-", "output length"), (label_psi, "s-", "labels")):
        if _drawn(values):
            psi_ax.plot(x, values, style, label=title)
    top = max([PSI_BANDS[1] * 1.6] + [v for v in length_psi + label_psi if v == v])
    psi_ax.axhspan(PSI_BANDS[0], PSI_BANDS[1], color="orange", alpha=0.12, label="moderate (0.1-0.25)")
    psi_ax.axhspan(PSI_BANDS[1], top, color="red", alpha=0.08, label="major (>= 0.25)")
    psi_ax.set_ylabel("PSI above chance")
    for ax in axes:
        for k, w in enumerate(report.windows):
            if w.verdict == DRIFT:
                ax.axvspan(k - 0.5, k + 0.5, color="red", alpha=0.1)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(alpha=0.3)
    step = max(1, len(x) // 40)  # at most about 40 tick labels
    psi_ax.set_xticks(x[::step], labels[::step], rotation=45, ha="right", fontsize=7)
    figure.suptitle("drift per window (shaded: drift)")
    encoded = _png(figure)
    plt.close(figure)
    return encoded


def _test_cells(result: WindowResult, names: list[str]) -> str:
    cells = []
    for name in names:
        t = result.test(name)
        if t is None:
            cells.append("<td>-</td>")
        elif not t.enough_data:
            cells.append(f"<td>{_e(t.note)}</td>")
        else:
            band = f" ({_e(t.band)})" if t.band else ""
            text = f"{_e(t.effect_name)} {t.effect:.3f}{band}<br>p={t.p_value:.3g}, adj. {t.p_adjusted:.3g}"
            cells.append(f'<td class="flag">{text}</td>' if t.flagged else f"<td>{text}</td>")
    return "".join(cells)


def _drift_section(result: WindowResult) -> str:
    words = ", ".join(f"{_e(w)} ({c:+.2f})" for w, c in result.window_words)
    gone = ", ".join(f"{_e(w)} ({c:+.2f})" for w, c in result.reference_words)
    rows = "".join(
        f"<tr><td>{_e(r.id)}<br>{_e(r.where)}</td><td>{_e(r.timestamp.isoformat())}</td>"
        f"<td><pre>{_e(r.input)}</pre></td><td><pre>{_e(r.output)}</pre></td></tr>"
        for r in result.examples
    )
    return (
        f"<h3>Drift in {_e(result.window.id)} ({len(result.window)} requests)</h3>"
        f"<p>Words that mark the window: {words}</p><p>Words of the reference it lacks: {gone}</p>"
        f"<table><tr><th>request</th><th>time</th><th>input</th><th>output</th></tr>{rows}</table>"
    )


def render_html(report: MonitorReport) -> str:
    """The whole page as a string."""
    s = report.settings
    names = [n for n in TEST_TITLES if any(w.test(n) is not None for w in report.windows)]
    plot = plot_drift(report)
    figure = (
        f'<img alt="drift per window" src="data:image/png;base64,{plot}">'
        if plot
        else "<p>Plots need matplotlib: <code>pip install matplotlib</code>.</p>"
    )
    header = "".join(f"<th>{_e(TEST_TITLES[n])}</th>" for n in names)
    rows = []
    for w in report.windows:
        css = "drift" if w.verdict == DRIFT else "short" if not w.tests else ""
        sees = "-" if w.detectable_share is None else f"{w.detectable_share:.0%}"
        rows.append(
            f'<tr class="{css}"><td>{_e(w.window.id)}</td><td>{len(w.window)}</td>'
            f"<td>{_e(w.verdict)}{'<br>' + _e(w.note) if w.note else ''}</td><td>{sees}</td>"
            f"{_test_cells(w, names)}</tr>"
        )
    verdict = (
        f"Drift in {len(report.drifted)} of {len(report.windows)} windows: "
        + ", ".join(_e(w.window.id) for w in report.drifted)
        if report.drifted
        else f"No drift in {len(report.windows)} windows."
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Production drift report</title><style>{_STYLE}</style></head>
<body>
<h1>Production drift report</h1>
<p><strong>{verdict}</strong></p>
<p>{report.n_records} requests from {_e(", ".join(report.log_files))} in windows of {_e(s.window.text)},
against {report.reference_size} reference texts from {_e(", ".join(report.reference_files))}.
Alarm rule: {_e(s.rule)}. Effect floors: AUC {AUC_FLOOR}, MMD new share {SHARE_FLOOR}, PSI above chance
{PSI_BANDS[0]}. Windows under {s.min_samples} requests are not judged. "Sees" is the share of new, clearly
separable inputs a window of that size detects about half the time.</p>
{"".join(f"<p>Note: {_e(note)}</p>" for note in report.notes)}
{figure}
<h2>Windows</h2>
<table><tr><th>window</th><th>n</th><th>verdict</th><th>sees</th>{header}</tr>
{"".join(rows)}
</table>
{"".join(_drift_section(w) for w in report.drifted)}
</body></html>
"""


def write_html(report: MonitorReport, path: Path) -> None:
    """Write the HTML page atomically."""
    atomic_write_text(Path(path), render_html(report))
