"""The promotion report as one self-contained HTML file, drawn from the JSON report of a run.

Nothing is fetched: the forest plot is an inline SVG image (a data: URL), the style and the small filter
script are inline and allowed by their SHA-256 hashes in a Content-Security-Policy meta tag that forbids
everything else. Every text from a model or an eval set goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from harness.atomic import atomic_write_text
from harness.errors import HarnessError
from harness.html_report.flips import facets, flipped_items
from harness.html_report.forest import forest_rows, forest_svg

PAGE_SIZE = 25  # flipped items per page
_PACKAGE = "harness.html_report"
VERDICT_CLASS = {"PROMOTE": "promote", "DO NOT PROMOTE": "reject", "INCONCLUSIVE": "inconclusive"}


def _asset(name: str) -> str:
    return resources.files(_PACKAGE).joinpath("assets", name).read_text(encoding="utf-8")


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(style: str, script: str) -> str:
    """Nothing loads, nothing connects: only the page's own style, its own script and data: images."""
    return (
        f"default-src 'none'; img-src data:; style-src {_hash(style)}; script-src {_hash(script)}; "
        "base-uri 'none'; form-action 'none'"
    )


def svg_data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _case_files(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per case file: pass rates on base and tuned, and the regressed cases (pass on base, fail on tuned)."""
    files = []
    for case_file in document.get("cases", []):
        cases = case_file["cases"]

        def rate(role: str, cases: list[dict[str, Any]] = cases) -> float | None:
            seen = [c["outcomes"][role]["passed"] for c in cases if role in c["outcomes"]]
            return sum(seen) / len(seen) if seen else None

        regressed = [
            c
            for c in cases
            if c["outcomes"].get("base", {}).get("passed") and c["outcomes"].get("tuned", {}).get("passed") is False
        ]
        fixed = [
            c
            for c in cases
            if c["outcomes"].get("base", {}).get("passed") is False and c["outcomes"].get("tuned", {}).get("passed")
        ]
        files.append(
            {
                "group": case_file["group"],
                "n": len(cases),
                "base_rate": rate("base"),
                "tuned_rate": rate("tuned"),
                "regressed": regressed,
                "fixed": len(fixed),
            }
        )
    return files


def render_page(document: Mapping[str, Any], history_href: str | None = None, history_note: str = "") -> str:
    """The HTML text of a run's report (a JSON report document, format 2)."""
    if not isinstance(document, Mapping) or "metrics" not in document or "verdict" not in document:
        raise HarnessError(
            "this is not a run's JSON report (no 'verdict' and 'metrics')",
            hint="give the file a run wrote with --harness-json",
        )
    if document.get("report_format", 1) < 2:
        raise HarnessError(
            "this JSON report was written by an older harness: it lacks the per-item scores and answers",
            hint="run the suites again with --harness-json (or --harness-html) to get a report the page can show",
        )
    rows = forest_rows(document)
    flips, flip_notes = flipped_items(document)
    style, script = _asset("report.css"), _asset("report.js")
    reasons = document.get("reasons", [])
    template = _environment().get_template("report.html.j2")
    return template.render(
        document=document,
        verdict=document["verdict"],
        verdict_class=VERDICT_CLASS.get(document["verdict"], "inconclusive"),
        blocking=[r for r in reasons if r["kind"] != "stale"],
        stale=[r for r in reasons if r["kind"] == "stale"],
        forest_rows=rows,
        forest_url=svg_data_url(forest_svg(rows)),
        flips=flips,
        flip_notes=flip_notes,
        facets=facets(flips),
        case_files=_case_files(document),
        provenance=document.get("provenance", {}),
        limits=document.get("limits", {}),
        messages=document.get("messages", []),
        history_href=history_href,
        history_note=history_note,
        page_size=PAGE_SIZE,
        style=style,
        script=script,
        csp=content_security_policy(style, script),
    )


def write_page(
    document: Mapping[str, Any], path: Path, history_href: str | None = None, history_note: str = ""
) -> Path:
    atomic_write_text(path, render_page(document, history_href, history_note))
    return path


def history_path_for(path: Path) -> Path:
    """Where the baselines' history page goes next to a report: gate.html -> gate-history.html."""
    return path.with_name(f"{path.stem}-history.html")


def write_report_pages(document: Mapping[str, Any], path: Path, rootdir: Path, baselines: Path) -> list[Path]:
    """The report, and next to it the history of the promoted baselines it links (when git has one)."""
    from harness.html_report.history import write_history_page

    history = history_path_for(path)
    try:
        write_history_page(rootdir, baselines, history, path.name)
    except HarnessError as exc:
        note = f"no history of the promoted baselines: {str(exc).splitlines()[0]}"
        return [write_page(document, path, None, note)]
    return [write_page(document, path, history.name), history]
