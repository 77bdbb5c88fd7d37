"""The promoted baselines over the repository's git history: each gated metric's promoted value and its CI,
commit by commit, drawn as one self-contained HTML page.

Git is asked with `git log` for the commits that touched the baselines directory, `git ls-tree` for the
baseline files each of them holds, and one `git cat-file --batch` for those files' contents (each distinct
version read once); a file that a commit left unreadable is skipped and named.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.errors import HarnessError


@dataclass(frozen=True)
class Point:
    """One promoted value as a commit stored it."""

    commit: str
    date: str  # the commit's ISO date
    subject: str
    suite: str
    metric: str
    value: float
    low: float
    high: float
    model: str


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise HarnessError("git is not installed", hint="install git to read the baselines' history") from None
    if done.returncode != 0:
        message = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["git failed"])[0]
        raise HarnessError(
            f"git {' '.join(args[:2])} in {repo}: {message}", hint="run this inside the project's git repository"
        )
    return done.stdout


def _blobs(top: Path, ids: list[str]) -> dict[str, bytes]:
    """The contents of many blobs from one `git cat-file --batch`."""
    out = _git(top, "cat-file", "--batch", stdin="".join(f"{i}\n" for i in ids).encode("ascii"))
    contents, position = {}, 0
    for blob in ids:
        end = out.index(b"\n", position)
        size = int(out[position:end].split()[2])
        contents[blob] = out[end + 1 : end + 1 + size]
        position = end + 1 + size + 1  # the content, then a newline
    return contents


def baseline_history(repo: Path, baselines: Path) -> tuple[list[Point], list[str]]:
    """Every promoted value of every commit that changed the baselines (oldest first), and problems met."""
    top = Path(_git(repo, "rev-parse", "--show-toplevel").decode().strip())
    try:
        folder = baselines.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        raise HarnessError(
            f"baselines directory {baselines} is not inside the git repository {top}",
            hint="pass --baselines with the directory the project commits its baselines to",
        ) from None
    log = _git(top, "log", "--reverse", "--format=%H%x1f%cI%x1f%s", "--", folder).decode("utf-8", "replace")
    commits = []
    for line in log.splitlines():
        commit, date, subject = line.split("\x1f", 2)
        files = []
        for entry in _git(top, "ls-tree", "-r", "-z", commit, "--", folder).decode().split("\0"):
            if entry:
                meta, path = entry.split("\t", 1)
                if meta.split()[1] == "blob" and path.endswith(".json"):
                    files.append((path, meta.split()[2]))
        commits.append((commit, date, subject, sorted(files)))
    contents = _blobs(top, sorted({blob for *_, files in commits for _, blob in files}))
    points: list[Point] = []
    problems: list[str] = []
    for commit, date, subject, files in commits:
        for path, blob in files:
            try:
                document = json.loads(contents[blob])
                points += _promoted(document, path, commit, date, subject)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                problems.append(f"{commit[:10]} {path}: not a readable baseline file ({exc})")
    return points, problems


def _promoted(document: dict[str, Any], path: str, commit: str, date: str, subject: str) -> list[Point]:
    suite = document.get("suite") or path
    points = []
    for metric, entry in sorted(document.get("promoted", {}).items()):
        result = entry["result"]
        points.append(
            Point(
                commit,
                date,
                subject,
                suite,
                metric,
                float(result["value"]),
                float(result["ci"][0]),
                float(result["ci"][1]),
                str(entry.get("measured_on", {}).get("model", "")),
            )
        )
    return points


def changes(points: Sequence[Point]) -> dict[tuple[str, str], list[Point]]:
    """(suite, metric) -> the points where its promoted value (or CI) changed, oldest first."""
    series: dict[tuple[str, str], list[Point]] = {}
    for point in points:
        kept = series.setdefault((point.suite, point.metric), [])
        if not kept or (kept[-1].value, kept[-1].low, kept[-1].high) != (point.value, point.low, point.high):
            kept.append(point)
    return dict(sorted(series.items()))


def history_svg(series: dict[tuple[str, str], list[Point]]) -> str:
    """One small panel per metric: the promoted value at each change, with its CI, over commit dates."""
    import datetime as dt
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates
    import matplotlib.pyplot as plt

    columns = 3
    rows = max(1, -(-len(series) // columns))
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "history", "font.size": 8}):
        figure, axes = plt.subplots(rows, columns, figsize=(11, 2.3 * rows), squeeze=False)
        for ax in axes.flat[len(series) :]:
            ax.set_axis_off()
        every = [dt.datetime.fromisoformat(p.date) for points in series.values() for p in points]
        pad = max((max(every) - min(every)) * 0.08, dt.timedelta(hours=6)) if every else dt.timedelta(0)
        for ax, ((suite, metric), points) in zip(axes.flat, series.items(), strict=False):
            dates = [dt.datetime.fromisoformat(p.date) for p in points]
            values = [p.value for p in points]
            errors = [[p.value - p.low for p in points], [p.high - p.value for p in points]]
            ax.errorbar(dates, values, yerr=errors, fmt="o-", capsize=3, ms=4, color="#0969da")
            ax.hlines(values[-1], dates[-1], max(every), linestyles=":", color="#0969da")  # still promoted since
            ax.set_title(f"{metric}\n{suite}".replace("$", r"\$"), fontsize=8)
            ax.set_xlim(min(every) - pad, max(every) + pad)  # one time axis for every panel
            locator = matplotlib.dates.AutoDateLocator(maxticks=5)
            ax.xaxis.set_major_locator(locator)
            ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(locator))
            ax.tick_params(axis="x", labelsize=6.5)
        figure.tight_layout()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        plt.close(figure)
    return buffer.getvalue()


def render_history(points: Sequence[Point], problems: Sequence[str], report_href: str | None = None) -> str:
    from harness.html_report.page import _asset, _environment, content_security_policy, svg_data_url

    series = changes(points)
    style = _asset("report.css")
    script = ""
    template = _environment().get_template("history.html.j2")
    return template.render(
        series=series,
        plot_url=svg_data_url(history_svg(series)) if series else "",
        problems=problems,
        report_href=report_href,
        style=style,
        csp=content_security_policy(style, script),
    )


def write_history_page(repo: Path, baselines: Path, path: Path, report_href: str | None = None) -> Path:
    points, problems = baseline_history(repo, baselines)
    atomic_write_text(path, render_history(points, problems, report_href))
    return path
