"""Hostile and broken inputs: a generated corpus of data specs, training records, rubrics, review imports and logs.

Every input goes through the real entry point (`harness ...`), and each must end the same way: exit status 2
(1 with a finding, for training records, which the lint reports rather than stops at), a message naming the file
and line (or the option) and the fix, no traceback, nothing written, and all of it within a few seconds.
"""

from __future__ import annotations

import builtins
import io
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fixtures.review.build import synthetic_outputs, write_outputs
from harness.cli import main
from harness.review.exchange import format_rows
from harness.review.items import pair_outputs
from harness.review.rubric import load_rubric
from harness.review.sampling import draw_sample
from harness.review.store import ReviewStore

ROOT = Path(__file__).resolve().parents[1]
DEMO_RUBRIC = ROOT / "fixtures" / "review" / "rubric.yaml"
BOUND_S = 5.0  # a bound on hostile input, not a benchmark

# -- the corpus ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """One malformed input: which surface it attacks, its bytes, and what the error must name."""

    surface: str  # spec | records | rubric | import | logs
    name: str
    payload: bytes | Callable[[Rows], bytes]  # review imports are built around rows of the sampled database
    where: str  # "FILE:LINE" (or the option) that the message must name
    says: str  # a fragment of the problem the message must state
    args: tuple[str, ...] = ()  # extra command-line arguments

    @property
    def id(self) -> str:
        return f"{self.surface}-{self.name}"


def billion_laughs(key: str = "format") -> str:
    """Nine levels of ten aliases each: 10^9 values once expanded, from 90 alias references."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + f"\n{key}: *l9\n"


def yaml_attacks(file: str, top: str) -> list[tuple[str, bytes, str, str]]:
    """Attacks on any YAML reader: (name, payload, where, says); `top` is a valid first line."""
    return [
        ("billion-laughs", billion_laughs().encode(), f"{file}:", "values once aliases are expanded"),
        ("many-aliases", ("x: &x 1\ny: [" + ", ".join(["*x"] * 101) + "]\n").encode(), f"{file}:2", "alias"),
        ("duplicate-key", f"{top}\n{top}\n".encode(), f"{file}:2", "appears twice"),
        ("python-tag", b"x: !!python/object/apply:os.system ['touch MARKER']\n", f"{file}:1", "not valid YAML"),
        ("deep-nesting", b"x: " + b"[" * 5000 + b"\n", f"{file}:1", "nested too deeply"),
        ("latin-1", f"{top}\n# caf".encode() + b"\xe9\n", f"{file}:2", "not UTF-8"),
        ("syntax", f"{top}\nx: [unclosed\n".encode(), f"{file}:3", "not valid YAML"),
        ("too-large", b"# " + b"x" * (9 * 1024 * 1024) + b"\n", file, "bytes"),
    ]


SPEC_BASE = "version: 1\nformat: text_label\nlabels:\n  allowed: [a, b]\n"  # 4 lines
SPEC_NUMBERS = [
    ("length", "min"),
    ("length", "max"),
    ("style", "max_sentences"),
    ("size", "minimum"),
    ("duplicates", "near_threshold"),
    ("duplicates", "num_perm"),
    ("contamination", "ngram"),
    ("augmentation", "max_new_tokens"),
    ("labels", "tolerance"),
]
REGEXES = [
    ("backreference", r"(a)\1"),
    ("lookbehind", r"(?<=x)y"),
    ("lookahead", r"x(?=y)"),
    ("named-backreference", r"(?P<n>a)(?P=n)"),
    ("huge-repetition", r"a{1000}{1000}"),
    ("unclosed-class", r"[a-z"),
    ("unknown-class", r"\p{NoSuchClass}"),
]


def spec_cases() -> list[Hostile]:
    """Data specs: YAML attacks, mistyped numbers, regexes RE2 cannot run, and other silent misreadings."""
    file = "data_spec.yaml"
    cases = [Hostile("spec", name, data, where, says) for name, data, where, says in yaml_attacks(file, "name: x")]
    for section, key in SPEC_NUMBERS:
        base = SPEC_BASE.replace("labels:\n  allowed: [a, b]\n", "") if section == "labels" else SPEC_BASE
        line = base.count("\n") + 2
        for label, value in (("bool", "true"), ("text", '"7"')):
            text = f"{base}{section}:\n  {key}: {value}\n"
            cases.append(Hostile("spec", f"{section}.{key}-{label}", text.encode(), f"{file}:{line}", "must be"))
    for name, regex in REGEXES:
        text = f"{SPEC_BASE}patterns:\n  forbidden:\n    - name: p\n      regex: '{regex}'\n"
        cases.append(Hostile("spec", f"regex-{name}", text.encode(), f"{file}:8", "invalid regular expression"))
    others = [
        ("version-bool", SPEC_BASE.replace("version: 1", "version: true"), 1, "unsupported version"),
        ("usual-range-bool", f"{SPEC_BASE}size:\n  usual_range: [true, 5000]\n", 6, "must be [low, high]"),
        ("proportion-yes-no", "format: text_label\nlabels:\n  proportions: {yes: 0.5, no: 0.5}\n", 3, "is not text"),
        ("template-format-spec", f"{SPEC_BASE}augmentation:\n  templates: ['a {{text:>999999999}}']\n", 6, "format"),
        ("template-attribute", f"{SPEC_BASE}augmentation:\n  templates: ['{{text.__class__}}']\n", 6, "placeholder"),
        ("tokenizer-missing", f"{SPEC_BASE}length: {{unit: tokens, tokenizer: /no/such/dir}}\n", 5, "not a directory"),
        ("blank-domain-example", f"{SPEC_BASE}domain:\n  examples: ['x', '  ']\n", 6, "is blank"),
        ("patterns-not-list", f"{SPEC_BASE}patterns:\n  required: {{a: 1}}\n", 6, "must be a list"),
        ("pattern-item-number", f"{SPEC_BASE}patterns:\n  required:\n    - 5\n", 7, "must be a mapping"),
        ("top-level-list", "- format\n- text_label\n", 1, "must be a mapping"),
        ("empty", "", 1, "is empty"),
    ]
    cases += [Hostile("spec", name, text.encode(), f"{file}:{line}", says) for name, text, line, says in others]
    return cases


def record_cases() -> list[Hostile]:
    """Training-data lines (line 2 of the file) that must become a finding naming the file and line."""
    row = '{"id": "r2", "text": %s, "label": "a"}'
    bad = [
        ("nan", row % "NaN", "NaN is not a JSON number"),
        ("infinity", row % "Infinity", "Infinity is not a JSON number"),
        ("minus-infinity", row % "-Infinity", "-Infinity is not a JSON number"),
        ("overflowing-float", row % "1e999", "too large"),
        ("huge-integer", row % ("9" * 5000), "digits"),
        ("deep-nesting", row % ("[" * 100_000), "nested too deeply"),
        ("escaped-controls", row % r'"Red\u0000\u001b[0m"', "U+0000, U+001B"),
        ("escaped-c1", row % r'"caf\u0083e"', "U+0083"),
        ("control-in-key", '{"id": "r2", "te\\u0007xt": "x", "text": "ok text", "label": "a"}', "U+0007"),
        ("truncated", '{"id": "r2", "text": "cut', "not valid JSON"),
        ("array", '["r2", "text", "a"]', "must be a JSON object"),
    ]
    cases = [Hostile("records", name, line.encode(), "train.jsonl:2", says) for name, line, says in bad]
    cases.append(
        Hostile("records", "latin-1", b'{"id": "r2", "text": "caf\xe9", "label": "a"}', "train.jsonl:2", "UTF-8")
    )
    cases.append(
        Hostile("records", "raw-nul", b'{"id": "r2", "text": "a\x00b", "label": "a"}', "train.jsonl:2", "U+0000")
    )
    return cases


RUBRIC_BASE = "name: r\ncriteria:\n  - name: accuracy\n"  # the criterion's fields start on line 4


def rubric_cases() -> list[Hostile]:
    """Rubrics: YAML attacks and values of the wrong type, each naming its key."""
    file = "rubric.yaml"
    cases = [Hostile("rubric", name, data, where, says) for name, data, where, says in yaml_attacks(file, "name: r")]
    fields = [
        ("pass-at-bool", "    pass_at: true\n", "criteria.0.pass_at", "whole number"),
        ("pass-at-text", '    pass_at: "4"\n', "criteria.0.pass_at", "whole number"),
        ("min-bool", "    min: true\n    pass_at: 4\n", "criteria.0.min", "whole number"),
        ("max-float", "    max: 5.5\n    pass_at: 4\n", "criteria.0.max", "whole number"),
        ("kind-list", "    kind: [scale]\n", "criteria.0.kind", "not a criterion kind"),
        ("labels-text", "    kind: labels\n    labels: 'a, b'\n", "criteria.0.labels", "must be a list"),
        ("labels-yes-no", "    kind: labels\n    labels: [yes, no]\n", "criteria.0.labels.0", "is not text"),
        (
            "pass-labels-text",
            "    kind: labels\n    labels: [a, b]\n    pass_labels: a\n",
            "criteria.0.pass_labels",
            "list",
        ),
        (
            "pass-at-on-labels",
            "    kind: labels\n    labels: [a, b]\n    pass_at: 4\n",
            "criteria.0.pass_at",
            "applies",
        ),
        ("question-mapping", "    pass_at: 4\n    question: {a: 1}\n", "criteria.0.question", "must be text"),
        ("anchor-list", "    pass_at: 4\n    anchors:\n      1: [x]\n", "criteria.0.anchors.1", "needs text"),
    ]
    for name, body, key, says in fields:
        line = 4 + body.rstrip("\n").count("\n") if name not in ("min-bool", "max-float") else 4
        cases.append(Hostile("rubric", name, (RUBRIC_BASE + body).encode(), f"{file}:{line}: {key}", says))
    cases.append(
        Hostile(
            "rubric",
            "instructions-list",
            (RUBRIC_BASE + "    pass_at: 4\ninstructions: [a, b]\n").encode(),
            f"{file}:5: instructions",
            "must be text",
        )
    )
    cases.append(Hostile("rubric", "criteria-mapping", b"criteria: {a: 1}\n", f"{file}:1: criteria", "list"))
    return cases


@dataclass(frozen=True)
class Rows:
    """A valid rating and A/B choice for the sampled database, and the same rating as CSV (header, row)."""

    rating: dict[str, object]
    comparison: dict[str, object]
    csv_header: str
    csv_row: Callable[[dict[str, object]], str]


def jsonl(*lines: str | bytes) -> bytes:
    return b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)


def import_cases() -> list[Hostile]:
    """Review imports: line 1 a valid rating (nothing may be stored), line 2 the hostile row."""
    changes = [
        ("unknown-item", "rating", {"item_id": "nope"}, "'nope' of eval set"),
        ("unknown-version", "rating", {"rubric_version": "0123456789ab"}, "rubric version '0123456789ab' is unknown"),
        ("score-list", "rating", {"scores": {"accuracy": ["5"]}}, "text or a whole number"),
        ("score-bool", "rating", {"scores": {"accuracy": True}}, "text or a whole number"),
        ("created-at-word", "rating", {"created_at": "yesterday"}, "created_at"),
        ("reviewer-nul", "rating", {"reviewer": "ana\u0000"}, "U+0000"),
        ("reviewer-number", "rating", {"reviewer": 5}, "must be text"),
        ("kind-vote", "rating", {"kind": "vote"}, "'kind' is 'vote'"),
        ("comparison-unknown-item", "comparison", {"item_id": "nope"}, "not in this review's sample"),
        ("comparison-choice", "comparison", {"choice": "C"}, "choice 'C'"),
    ]

    def changed(kind: str, change: dict[str, object]) -> Callable[[Rows], bytes]:
        return lambda rows: jsonl(json.dumps(rows.rating), json.dumps(getattr(rows, kind) | change))

    def spliced(raw: bytes) -> Callable[[Rows], bytes]:
        """The rating with raw JSON text (NaN, a bad byte, a huge number) spliced in as its last field."""
        return lambda rows: jsonl(json.dumps(rows.rating), json.dumps(rows.rating)[:-1].encode() + b", " + raw + b"}")

    def csv(line: Callable[[Rows], str]) -> Callable[[Rows], bytes]:
        return lambda rows: jsonl(rows.csv_header, rows.csv_row(rows.rating), line(rows))

    cases = [
        Hostile("import", name, changed(kind, change), "ratings.jsonl:2", says) for name, kind, change, says in changes
    ]
    raw = [
        ("nan-score", b'"scores": {"accuracy": NaN}', "NaN"),
        ("latin-1", b'"note": "caf\xe9"', "not UTF-8"),
        ("huge-integer", b'"note": ' + b"9" * 5000, "digits"),
        ("deep-nesting", b'"note": ' + b"[" * 100_000, "nested too deeply"),
    ]
    cases += [Hostile("import", name, spliced(data), "ratings.jsonl:2", says) for name, data, says in raw]
    lines = [
        ("huge-field", lambda rows: "rating," + "x" * 200_000, "field larger than field limit"),
        ("extra-values", lambda rows: rows.csv_row(rows.rating) + ",extra,values", "more values than columns"),
        ("unknown-version", lambda rows: rows.csv_row(rows.rating | {"rubric_version": "bad"}), "is unknown"),
    ]
    cases += [Hostile("import", f"csv-{name}", csv(line), "ratings.csv:3", says) for name, line, says in lines]
    return cases


def log_line(when: str, **extra: object) -> str:
    return json.dumps({"timestamp": when, "input": "Clause: x\nType:", "output": "payment", **extra})


def log_cases() -> list[Hostile]:
    """Drift-log lines (line 2 of the file) and window settings that must be refused before any work."""
    file = "logs.jsonl"
    good = log_line("2024-03-01T00:00:00Z")
    lines = [
        ("year-0001", log_line("0001-01-01T00:00:00Z"), "outside the accepted range"),
        ("epoch-1970", log_line("1970-01-01T00:00:00Z"), "outside the accepted range"),
        ("year-2999", log_line("2999-01-01T00:00:00Z"), "outside the accepted range"),
        ("zone-overflow", log_line("0001-01-01T00:00:00+05:00"), "timestamp"),
        ("epoch-number", json.dumps({"timestamp": 1_700_000_000, "input": "a", "output": "b"}), "ISO-8601"),
        ("nan-input", '{"timestamp": "2024-03-01T01:00:00Z", "input": NaN, "output": "b"}', "NaN"),
        ("input-list", log_line("2024-03-01T01:00:00Z", input=["a"]), "should be a text"),
        ("thumbs-sideways", log_line("2024-03-01T01:00:00Z", feedback={"thumbs": "sideways"}), "up or down"),
        ("deep-nesting", "[" * 100_000, "nested too deeply"),
    ]
    cases = [Hostile("logs", name, f"{good}\n{line}\n".encode(), f"{file}:2", says) for name, line, says in lines]
    cases.append(Hostile("logs", "latin-1", f"{good}\n".encode() + b'{"input": "caf\xe9"}\n', f"{file}:2", "UTF-8"))
    # (Timestamps months apart with --window 1m are no longer hostile: spans without requests are not windows.)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    many = "".join(log_line((start + timedelta(seconds=k)).isoformat()) + "\n" for k in range(10_001))
    cases.append(Hostile("logs", "count-windows", many.encode(), "--window 1", "more than 10,000", ("--window", "1")))
    for window, says in (("999999999w", "longer than ten years"), ("1" * 40, "neither a count nor a time span")):
        cases.append(
            Hostile("logs", f"window-{window[:12]}", f"{good}\n".encode(), "--window", says, ("--window", window))
        )
    return cases


CORPUS = spec_cases() + record_cases() + rubric_cases() + import_cases() + log_cases()


def test_the_corpus_covers_every_surface():
    counts = {s: sum(1 for c in CORPUS if c.surface == s) for s in ("spec", "records", "rubric", "import", "logs")}
    assert sum(counts.values()) == len(CORPUS) >= 40 and min(counts.values()) >= 10, counts
    assert len({c.id for c in CORPUS}) == len(CORPUS)


# -- running one input ----------------------------------------------------------------------------------------------


def files_under(root: Path) -> dict[str, int]:
    """Every file under root with its size; SQLite's WAL and shared-memory files are the database's own business."""
    return {
        str(p.relative_to(root)): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture(scope="module", autouse=True)
def _warm_imports() -> None:
    """Import the lint's and the monitor's libraries once, so the time bound measures the input, not the imports."""
    import datasketch  # noqa: F401
    import sklearn.feature_extraction.text  # noqa: F401

    import harness.dataquality.lint  # noqa: F401
    import harness.monitoring.monitor  # noqa: F401


def sampled_store(path: Path) -> ReviewStore:
    store = ReviewStore(path, create=True)
    sample = draw_sample(pair_outputs(synthetic_outputs(20, disagree_share=1.0)), seed=0, size=20)
    store.save_sample(sample, load_rubric(DEMO_RUBRIC), min_reviews=1, seed=0)
    return store


def review_rows(store: ReviewStore) -> Rows:
    item = next(i for i in store.items() if i.pair_hash is not None)
    rubric = store.meta().rubric
    scores = {c.name: c.options[-1] for c in rubric.criteria}
    rating = {"kind": "rating", "eval_set": item.eval_set, "item_id": item.item_id, "reviewer": "ana",
              "created_at": "2026-01-01T00:00:00+00:00", "rubric_version": rubric.version,
              "output_hash": item.tuned_hash, "scores": scores}  # fmt: skip
    comparison = {"kind": "comparison", "eval_set": item.eval_set, "item_id": item.item_id, "reviewer": "ana",
                  "pair_hash": item.pair_hash, "choice": "A"}  # fmt: skip
    header = format_rows([], "csv", rubric.names).rstrip("\n")
    return Rows(rating, comparison, header, lambda row: format_rows([row], "csv", rubric.names).splitlines()[1])


def run_case(case: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, Path]:
    """Write the input where its command reads it and run the command; (status, everything printed, the file)."""
    work = tmp_path / "work"
    work.mkdir()
    if case.surface in ("spec", "records"):
        spec, data = work / "data_spec.yaml", work / "train.jsonl"
        good = b'{"id": "r1", "text": "The tenant shall pay the rent on the first day.", "label": "a"}\n'
        if case.surface == "spec":
            spec.write_bytes(case.payload)
            data.write_bytes(good)
        else:
            spec.write_text(SPEC_BASE)
            data.write_bytes(good + case.payload + b"\n")
        (work / "evals").mkdir()
        argv = ["data", "lint", str(spec), str(data), "--eval-sets", str(work / "evals")]
        target = spec if case.surface == "spec" else data
    elif case.surface == "rubric":
        target = work / "rubric.yaml"
        target.write_bytes(case.payload)
        outputs = write_outputs(synthetic_outputs(20), tmp_path / "outputs.jsonl")
        argv = ["review", "sample", "--outputs", str(outputs), "--rubric", str(target), "--db", str(work / "r.sqlite")]
    elif case.surface == "import":
        store = sampled_store(work / "review.sqlite")
        rows = review_rows(store)
        store.close()
        target = work / ("ratings.csv" if case.name.startswith("csv-") else "ratings.jsonl")
        assert callable(case.payload)
        target.write_bytes(case.payload(rows))
        argv = ["review", "import", str(target), "--db", str(work / "review.sqlite")]
    else:
        target = work / "logs.jsonl"
        target.write_bytes(case.payload)
        reference = tmp_path / "reference.jsonl"
        reference.write_text(
            "".join(json.dumps({"input": f"Clause: the rent is {k}.\nType:"}) + "\n" for k in range(60))
        )
        argv = ["monitor", str(target), "--reference", str(reference), *case.args]
        argv += ["--json", str(work / "report.json")]
    before = files_under(tmp_path)
    capsys.readouterr()
    started = time.perf_counter()
    status = main(argv)
    elapsed = time.perf_counter() - started
    printed = "\n".join(part for part in capsys.readouterr() if part)
    assert elapsed < BOUND_S, f"{case.id} took {elapsed:.1f}s"
    assert files_under(tmp_path) == before, "the command wrote or changed a file"
    return status, printed, target


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.id)
def test_hostile_input_is_a_located_error_and_nothing_else(case: Hostile, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a YAML tag that ran `touch MARKER` would leave it here
    monkeypatch.setattr(builtins, "input", lambda *a: pytest.fail("something asked for input"))
    status, printed, target = run_case(case, tmp_path, capsys)
    assert "Traceback" not in printed
    assert case.says in printed, printed[-2000:]
    where = case.where.replace(target.name, str(target), 1) if case.where.startswith(target.name) else case.where
    assert where in printed, printed[-2000:]
    if where.endswith(":"):  # the line is wherever the parser stopped; it must still be named
        assert re.search(rf"{re.escape(where)}\d+", printed), printed[-2000:]
    if case.surface == "records":  # the lint reports every bad line as a finding instead of stopping at the first
        assert status == 1 and "FAILED:" in printed
    else:
        assert status == 2 and printed.startswith("harness: error: ")
    assert "fix:" in printed
    assert not (tmp_path / "MARKER").exists()
    if case.surface == "import":
        store = ReviewStore(tmp_path / "work" / "review.sqlite")
        assert store.count("ratings") == store.count("comparisons") == 0  # all or nothing
        store.close()


# -- code that must never run, and patterns that must never backtrack ------------------------------------------------


def custom_code_dir(path: Path, marker: Path, config: str) -> Path:
    """A model directory whose `config` (a JSON file name) maps Auto classes to a file that writes `marker`."""
    path.mkdir()
    (path / "evil.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "from transformers import PretrainedConfig, PreTrainedTokenizer\n"
        "class EvilConfig(PretrainedConfig):\n    model_type = 'evil'\n"
        "class EvilTokenizer(PreTrainedTokenizer):\n    pass\n"
    )
    auto_map = {"AutoConfig": "evil.EvilConfig", "AutoTokenizer": ["evil.EvilTokenizer", None]}
    fields = {"model_type": "evil", "auto_map": auto_map}
    if config == "tokenizer_config.json":
        fields = {"tokenizer_class": "EvilTokenizer", "auto_map": auto_map}
        (path / "config.json").write_text(json.dumps({"model_type": "evil", "auto_map": auto_map}))
    (path / config).write_text(json.dumps(fields))
    return path


@pytest.fixture
def no_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard input is closed and `input` fails the test: nothing may ask whether to run code."""
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdin", closed)
    monkeypatch.setattr(builtins, "input", lambda *a: pytest.fail("something asked for input"))
    # transformers' log handler keeps the stderr of the test that first logged, closed by now: it would print
    # "--- Logging error ---" with a traceback of its own warning into this test's output
    monkeypatch.setattr(logging.getLogger("transformers"), "handlers", [])


@pytest.mark.parametrize("config", ["tokenizer_config.json", "config.json"])
def test_a_tokenizer_with_custom_code_is_refused_without_running_it_or_asking(tmp_path, capsys, no_stdin, config):
    marker = tmp_path / "MARKER"
    evil = custom_code_dir(tmp_path / "tok", marker, config)
    spec = tmp_path / "data_spec.yaml"
    spec.write_text(f"format: text_label\nlength: {{unit: tokens, tokenizer: '{evil}', max: 50}}\n")
    data = tmp_path / "train.jsonl"
    data.write_text('{"id": "a", "text": "The tenant pays the rent.", "label": "x"}\n')
    (tmp_path / "evals").mkdir()
    assert main(["data", "lint", str(spec), str(data), "--eval-sets", str(tmp_path / "evals")]) == 2
    err = capsys.readouterr().err
    assert f"length.tokenizer '{evil}'" in err and "fix:" in err and "Traceback" not in err
    if config == "tokenizer_config.json":
        assert "custom Python code" in err
    assert not marker.exists()


def test_back_translation_models_with_custom_code_are_refused(tmp_path, capsys, no_stdin):
    marker = tmp_path / "MARKER"
    evil = str(custom_code_dir(tmp_path / "model", marker, "config.json"))
    spec = tmp_path / "data_spec.yaml"
    spec.write_text("format: text_label\n")
    data = tmp_path / "train.jsonl"
    data.write_text('{"id": "a", "text": "The tenant pays the rent.", "label": "x"}\n')
    out = tmp_path / "candidates.jsonl"
    argv = ["data", "augment", str(spec), str(data), "--method", "back-translation", "--out", str(out)]
    assert main([*argv, "--translation-models", evil, evil]) == 2
    err = capsys.readouterr().err
    assert f"--translation-models '{evil}'" in err and "Traceback" not in err
    assert not marker.exists() and not out.exists()


REDOS = ["(a+)+$", "(a|aa)*b", "(x+x+)+y", "^(\\w+\\s?)*$", "(.*a){20}"]


def test_patterns_that_backtrack_in_python_run_in_linear_time(tmp_path, capsys):
    patterns = "\n".join(f"    - {{name: p{i}, regex: '{p}'}}" for i, p in enumerate(REDOS))
    spec = tmp_path / "data_spec.yaml"
    spec.write_text(
        f"format: text_label\nstyle: {{max_sentences: 3}}\npatterns:\n  forbidden:\n{patterns}\n"
        f"  required:\n{patterns}\n"
    )
    hostile = ["a" * 30_000 + "!", "." * 30_000 + "x", "a." * 20_000 + "@", "12-" * 20_000, "x" * 30_000 + "z"]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"id": f"r{k}", "text": t, "label": "x"}) + "\n" for k, t in enumerate(hostile)))
    (tmp_path / "evals").mkdir()
    started = time.perf_counter()
    status = main(["data", "lint", str(spec), str(data), "--eval-sets", str(tmp_path / "evals")])
    assert time.perf_counter() - started < BOUND_S
    assert status == 1 and "forbidden_pattern" in capsys.readouterr().out


# -- line separators inside JSON strings are text, not line breaks --------------------------------------------------

SEPARATORS = "one\u2028two\u2029three\u0085four"


def test_an_import_with_line_separators_inside_a_comment_round_trips(tmp_path, capsys):
    store = sampled_store(tmp_path / "review.sqlite")
    rating = review_rows(store).rating | {"comment": SEPARATORS}
    path = tmp_path / "ratings.jsonl"
    path.write_text(json.dumps(rating, ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["review", "import", str(path), "--db", str(store.path)]) == 0
    assert [r.comment for r in store.ratings(current_only=False)] == [SEPARATORS]


def test_a_log_line_with_line_separators_is_one_record(tmp_path):
    from harness.monitoring.logs import read_logs

    path = tmp_path / "logs.jsonl"
    path.write_text(log_line("2024-03-01T00:00:00Z", input=SEPARATORS) + "\n", encoding="utf-8")
    (record,) = read_logs([path])
    assert record.input == SEPARATORS


def test_a_training_record_with_line_separators_is_one_record(tmp_path):
    from harness.dataquality.records import read_records
    from harness.dataquality.spec import load_spec

    spec = tmp_path / "data_spec.yaml"
    spec.write_text("format: text_label\n")
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"id": "a", "text": SEPARATORS, "label": "x"}, ensure_ascii=False) + "\n")
    records, findings = read_records([data], load_spec(spec))
    assert [r.text for r in records] == [SEPARATORS] and findings == []


# -- production-feedback candidate files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "payload", "where", "says"),
    [
        ("candidates.yaml", billion_laughs("cases").encode(), "candidates.yaml:", "values once aliases"),
        ("candidates.yaml", b"cases:\n  - id: a\n  - id: a\n", "candidates.yaml:3", "also on line 2"),
        ("candidates.yaml", b"cases:\n  - id: a\n    status: done\n", "candidates.yaml:2", "status 'done'"),
        ("candidates.yaml", b"cases:\n  - id: caf\xe9\n", "candidates.yaml:2", "not UTF-8"),
        ("candidates.jsonl", b'{"id": "a"}\n{"id": NaN}\n', "candidates.jsonl:2", "NaN"),
    ],
)
def test_a_broken_candidates_file_is_a_located_error(tmp_path, capsys, name, payload, where, says):
    path = tmp_path / name
    path.write_bytes(payload)
    out = tmp_path / "adversarial" / "cases.yaml"
    started = time.perf_counter()
    assert main(["monitor", "approve", str(path), "--ids", "a", "--out", str(out)]) == 2
    assert time.perf_counter() - started < BOUND_S
    err = capsys.readouterr().err
    assert f"{tmp_path}/{where}" in err and says in err and "Traceback" not in err
    assert path.read_bytes() == payload and not out.exists()
