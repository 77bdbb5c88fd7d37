"""Production feedback into regression cases: flagged or corrected requests become candidate cases, pending review.

Candidates are written in the adversarial case format with two extra fields, `status` (pending, approved,
rejected) and `source` (where the request was logged). The case format does not accept those fields, and the
default candidates file lives under suites/monitoring/candidates/, outside any `adversarial` directory, so a
pending candidate can never run as a test. `approve` copies approved candidates, without the extra fields, into a
case file under suites/adversarial/, checked by the case loader before it is written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from harness.atomic import atomic_write_text
from harness.errors import HarnessError
from harness.jsonlines import read_json_lines
from harness.monitoring.logs import LogRecord, is_label_like
from harness.textfiles import read_text
from harness.yamlfile import MAX_YAML_BYTES, parse_yaml, read_yaml

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
REVIEW_FIELDS = ("status", "source", "reviewer", "reviewed_at", "review_note")
DEFAULT_CANDIDATES = Path("suites/monitoring/candidates/production.yaml")
DEFAULT_CASES = Path("suites/adversarial/production.yaml")
CASE_SUFFIXES = (".yaml", ".yml", ".jsonl")
_WORD = re.compile(r"[$€£]?\d[\d,.:%]*\w*|[A-Za-z][A-Za-z'-]+")
_STOPWORDS = frozenset(
    "the a an and or of to in on for with by at from as is are be been must shall may will not no any all this "
    "that these those its it their his her each every within after before under over into than then such".split()
)
_CANDIDATES_HEADER = """\
# Candidate regression cases from production feedback (harness monitor feedback).
# Pending candidates never run: review them, then move the approved ones into a case file with
#   harness monitor approve {path} --ids ID ... --reviewer NAME
"""
_CASES_HEADER = """\
# Regression cases from reviewed production feedback (harness monitor approve).
# Each case is a request that went wrong after deployment; the tuned model must get it right.
"""


def is_collected(path: Path) -> bool:
    """Whether the harness plugin would collect `path` as a case file (a YAML/JSONL file under `adversarial`)."""
    return path.suffix in CASE_SUFFIXES and "adversarial" in path.parent.parts


def case_id(record: LogRecord) -> str:
    """A case id from the request id: letters, digits and . _ - only, prefixed `prod-`."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", record.id).strip("-.") or str(record.line)
    return f"prod-{cleaned}"


def key_terms(correction: str, output: str, limit: int = 3) -> list[str]:
    """Numbers, then words, of the correction that the wrong output lacked (what the fix is about), in order."""
    said = {w.lower() for w in _WORD.findall(output)}
    terms: list[str] = []
    for word in _WORD.findall(correction):
        low = word.lower().rstrip(".,")
        if low in _STOPWORDS or low in said or low in (t.lower() for t in terms):
            continue
        if len(low) >= 3 or any(c.isdigit() for c in low):
            terms.append(word.rstrip(".,"))
    numbers = [t for t in terms if any(c.isdigit() for c in t)]
    return (numbers + [t for t in terms if t not in numbers])[:limit]


def _clip(text: str, width: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _candidate(record: LogRecord, choices: Sequence[str], seen: int) -> dict[str, Any]:
    """One candidate case for a flagged or corrected request."""
    feedback = record.feedback
    assert feedback is not None
    output = record.output.strip()
    source: dict[str, Any] = {
        "log": record.where,
        "request": record.id,
        "timestamp": record.timestamp.isoformat(),
        "output": record.output,
        "feedback": {k: v for k, v in vars(feedback).items() if v is not None},
    }
    if seen > 1:
        source["times_reported"] = seen
    case: dict[str, Any] = {"id": case_id(record), "status": PENDING, "kind": "MFT"}
    correction = (feedback.correction or "").strip()
    if correction and is_label_like(correction) and is_label_like(output):
        case["description"] = f'production: answered "{output}", corrected to "{correction}"'
        case["input"] = record.input
        case["choices"] = sorted(set(choices) | {correction, output})
        case["expect"] = {"label": correction}
    elif correction:
        case["description"] = f'production: answered "{_clip(output)}", corrected to "{_clip(correction)}"'
        case["input"] = record.input
        case["expect"] = {"contains": key_terms(correction, output) or [correction]}
    else:
        case["description"] = (
            f'production: answered "{_clip(output)}", flagged ({feedback.flag}); review: replace with the right answer'
        )
        case["input"] = record.input
        case["expect"] = {"not_contains": output.splitlines()[0][:200] if output else "\ufffd"}
    if "choices" not in case:
        case |= {"max_new_tokens": 48, "stop": ["\n"]}
    return case | {"source": source}


def feedback_candidates(records: Iterable[LogRecord], choices: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Candidate cases for every flagged or corrected request, one per distinct input (first report kept).

    A one-word correction of a one-word answer becomes a multiple-choice case (`expect: {label: ...}`) over
    `choices` (default: the one-word answers seen in the logs, plus the correction); any other correction a
    generation case that must contain the correction's key terms; a flag without a correction a case that must
    not repeat the flagged answer, for the reviewer to sharpen.
    """
    records = list(records)
    labels = choices or sorted(
        {r.output.strip() for r in records if is_label_like(r.output)}
        | {
            r.feedback.correction.strip()
            for r in records
            if r.feedback and r.feedback.correction and is_label_like(r.feedback.correction) and is_label_like(r.output)
        }
    )
    reported = [r for r in records if r.feedback and (r.feedback.correction or r.feedback.flag)]
    first: dict[str, LogRecord] = {}
    counts: dict[str, int] = {}
    for record in reported:
        first.setdefault(record.input, record)
        counts[record.input] = counts.get(record.input, 0) + 1
    return [_candidate(r, labels, counts[text]) for text, r in first.items()]


# -- files -------------------------------------------------------------------------------------------


class _CaseDumper(yaml.SafeDumper):
    """Safe YAML that writes texts with line breaks in double quotes ("Clause: ...\\nType:"), on one line."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = '"' if "\n" in text or "\t" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_CaseDumper.add_representer(str, _represent_text)


def _dump(cases: Sequence[Mapping[str, Any]], indent: int = 2) -> str:
    """Cases as YAML list items indented under `cases:`."""
    text = yaml.dump(
        list(cases), Dumper=_CaseDumper, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None
    )
    return "".join(" " * indent + line if line.strip() else line for line in text.splitlines(keepends=True))


def read_candidates(path: Path) -> list[dict[str, Any]]:
    """The candidates of a candidates file (YAML `cases:` or JSONL), checked for ids and statuses."""
    if not path.is_file():
        raise HarnessError(f"candidates file {path} does not exist", hint="create it with `harness monitor feedback`")
    if path.suffix == ".jsonl":
        numbered = read_json_lines(path, "fix that line")
        cases: Any = [value for _, value in numbered]
        lines = [number for number, _ in numbered]
    else:
        doc = read_yaml(path)
        cases = doc.data.get("cases") if isinstance(doc.data, dict) else None
        if not isinstance(cases, list):
            raise HarnessError(f"{path}:{doc.line_of(('cases',))}: needs a `cases:` list", hint="see the file header")
        lines = [doc.line_of(("cases", index)) for index in range(len(cases))]
    seen: dict[str, int] = {}
    for case, line in zip(cases, lines, strict=True):
        if not isinstance(case, dict) or not isinstance(case.get("id"), str):
            raise HarnessError(
                f"{path}:{line}: a candidate must be a mapping with an `id` (text)", hint="write it as - id: prod-..."
            )
        if case.get("status", PENDING) not in (PENDING, APPROVED, REJECTED):
            raise HarnessError(
                f"{path}:{line}: case {case['id']!r} has status {case['status']!r}",
                hint="status is pending, approved or rejected",
            )
        if case["id"] in seen:
            raise HarnessError(
                f"{path}:{line}: case id {case['id']!r} is also on line {seen[case['id']]}", hint="keep one of them"
            )
        seen[case["id"]] = line
    return cases


def write_candidates(path: Path, candidates: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Add new candidates to the file (ids already there keep their review); (added, already there)."""
    path = Path(path)
    if is_collected(path):
        raise HarnessError(
            f"{path} is inside an `adversarial` directory, where pending candidates would run as tests",
            hint=f"write candidates outside it, e.g. --out {DEFAULT_CANDIDATES}",
        )
    existing = read_candidates(path) if path.exists() else []
    known = {c["id"] for c in existing}
    added = [c for c in candidates if c["id"] not in known]
    body = _CANDIDATES_HEADER.format(path=path) + "description: Candidate cases from production feedback.\ncases:\n"
    atomic_write_text(path, body + (_dump([*existing, *added]) if existing or added else "  []\n"))
    return len(added), len(candidates) - len(added)


def _decisions(
    candidates: Sequence[Mapping[str, Any]], ids: Sequence[str], reviewed: Path | None, reviewer: str | None
) -> dict[str, dict[str, Any]]:
    """{id: {status, reviewer, note}} from --ids and/or a reviewed JSONL; unknown ids raise HarnessError."""
    known = {c["id"] for c in candidates}
    decisions = {i: {"status": APPROVED, "reviewer": reviewer, "note": None} for i in ids}
    if reviewed is not None:
        if not reviewed.is_file():
            raise HarnessError(f"reviewed file {reviewed} does not exist", hint="check the path")
        for number, row in read_json_lines(reviewed, "fix that line"):
            if not isinstance(row, dict) or not isinstance(row.get("id"), str):
                raise HarnessError(f"{reviewed}:{number}: needs an `id`", hint='write {"id": ..., "status": ...}')
            if row.get("status") not in (APPROVED, REJECTED):
                raise HarnessError(
                    f"{reviewed}:{number}: field 'status' should be approved or rejected, got {row.get('status')!r}"
                )
            decisions[row["id"]] = {
                "status": row["status"],
                "reviewer": row.get("reviewer") or reviewer,
                "note": row.get("note"),
            }
    strays = [i for i in decisions if i not in known]
    if strays:
        import difflib

        close = difflib.get_close_matches(strays[0], sorted(known), n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        raise HarnessError(f"no candidate has id {strays[0]!r}{guess}", hint="ids are listed in the candidates file")
    return decisions


def case_from_candidate(candidate: Mapping[str, Any]) -> dict[str, Any]:
    """The case as it runs: the candidate without its review fields."""
    return {k: v for k, v in candidate.items() if k not in REVIEW_FIELDS}


def _write_checked_cases(path: Path, cases: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Append cases to a case file (new ids only), check the result with the case loader, then write it."""
    from harness.cases import load_cases

    existing_text = read_text(path, max_bytes=MAX_YAML_BYTES) if path.exists() else ""
    existing_ids = {c["id"] for c in read_candidates(path)} if existing_text.strip() else set()
    new = [c for c in cases if c["id"] not in existing_ids]
    if existing_text.strip():
        root = parse_yaml(existing_text, str(path)).data
        if not isinstance(root, dict) or list(root)[-1] != "cases":
            raise HarnessError(
                f"{path}: `cases:` must be the file's last top-level field to add cases to it",
                hint="move `cases:` to the end, or name a new file with --out",
            )
        text = existing_text.rstrip("\n") + "\n" + (_dump(new) if new else "")
        if root.get("cases") == [] and new:
            text = re.sub(r"cases:\s*\[\]\s*$", "cases:\n" + _dump(new), existing_text.rstrip("\n"))
    else:
        text = _CASES_HEADER + "description: Requests that went wrong in production, reviewed.\ncases:\n" + _dump(new)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        load_cases(Path(temporary), path.parent)  # raises CaseFileError naming line and field
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return len(new), len(cases) - len(new)


def approve(
    candidates_path: Path,
    *,
    ids: Sequence[str] = (),
    reviewed: Path | None = None,
    reviewer: str | None = None,
    out: Path = DEFAULT_CASES,
) -> dict[str, int]:
    """Record review decisions in the candidates file and copy approved cases into the case file `out`."""
    candidates_path, out = Path(candidates_path), Path(out)
    if not ids and reviewed is None:
        raise HarnessError("nothing to approve", hint="pass --ids ID ... or --reviewed REVIEWED.jsonl")
    if out.suffix not in (".yaml", ".yml"):
        raise HarnessError(f"--out {out} is not a YAML case file", hint=f"name a .yaml file, e.g. {DEFAULT_CASES}")
    candidates = read_candidates(candidates_path)
    decisions = _decisions(candidates, ids, reviewed, reviewer)
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    for candidate in candidates:
        decision = decisions.get(candidate["id"])
        if decision is None:
            continue
        candidate["status"] = decision["status"]
        candidate["reviewed_at"] = now
        for key, field in (("reviewer", "reviewer"), ("note", "review_note")):
            if decision[key]:
                candidate[field] = decision[key]
    approved = [case_from_candidate(c) for c in candidates if c["id"] in decisions and c["status"] == APPROVED]
    added, present = _write_checked_cases(out, approved) if approved else (0, 0)
    if candidates_path.suffix == ".jsonl":
        atomic_write_text(candidates_path, "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates))
    else:
        body = _CANDIDATES_HEADER.format(path=candidates_path) + "description: Candidate cases from production "
        atomic_write_text(candidates_path, body + "feedback.\ncases:\n" + _dump(candidates))
    statuses = [c.get("status", PENDING) for c in candidates]
    return {
        "approved": sum(1 for d in decisions.values() if d["status"] == APPROVED),
        "rejected": sum(1 for d in decisions.values() if d["status"] == REJECTED),
        "added": added,
        "already_in_cases": present,
        "pending": statuses.count(PENDING),
        "collected": int(is_collected(out)),
    }
