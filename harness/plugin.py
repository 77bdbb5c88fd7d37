"""The pytest plugin: options, fixtures and hooks only. Heavy modules are imported when first needed."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from harness.config import SAME_AS_BASE, resolve_config
from harness.errors import HarnessError
from harness.records import BASE, ROLES, TUNED, CaseOutcome, MetricRecord, OutputRecord, Unmeasured
from harness.session import HarnessSession, get_session, session_key, worker_threads

_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--base-model", {"help": "base model: a local directory or demo:base (default: demo:base)"}),
    (
        "--tuned-model",
        {
            "help": "fine-tuned model: a full model or PEFT adapter directory, or demo:NAME "
            "(default: demo:clauses-replay)"
        },
    ),
    (
        "--allow-pickle",
        {
            "action": "store_true",
            "default": None,
            "help": "allow loading pickle (.bin/.pt) checkpoints; they can run code on load",
        },
    ),
    (
        "--trust-remote-code",
        {"action": "store_true", "default": None, "help": "allow model repositories to run their own Python code"},
    ),
    (
        "--allow-download",
        {"action": "store_true", "default": None, "help": "allow fetching models from a hub (off: local paths only)"},
    ),
    ("--device", {"help": "torch device: auto, cpu, cuda, cuda:N (default: auto)"}),
    ("--dtype", {"help": "weights dtype: auto, float32, bfloat16, float16 (default: auto)"}),
    ("--batch-size", {"help": "requests per forward pass; 0 = auto: 16 on CPU, 64 on a GPU, halved on out-of-memory"}),
    ("--eval-data", {"help": "directory of eval sets the suites read (default: fixtures/data)"}),
    ("--cache-dir", {"help": "where the response cache, fingerprints and demo models live (default: .harness/)"}),
    (
        "--no-cache",
        {"action": "store_true", "default": None, "help": "ask the models again instead of using the response cache"},
    ),
    (
        "--cache-sampled",
        {
            "action": "store_true",
            "default": None,
            "help": "also keep sampled (temperature > 0) answers in the response cache; off: only greedy ones",
        },
    ),
    ("--threads", {"help": "torch threads per process (default: cores / xdist workers)"}),
    (
        "--multiplicity",
        {"help": "correction of the run's gated comparisons taken together: holm (default) or bh"},
    ),
    ("--baselines-dir", {"help": "where baselines are stored (default: baselines/)"}),
]

# Run-workflow flags: command line only.
_FLAGS: list[tuple[str, str]] = [
    ("--reuse-base", "take the base model's results from the stored baselines when their fingerprints match"),
    ("--update-baselines", "rewrite the stored `base` baselines of the selected tests from this run"),
    ("--promote", "after a passing run, store the tuned model's results as the new `promoted` baseline"),
    ("--force", "with --promote: promote even though the run failed"),
    (
        "--allow-inconclusive",
        "let INCONCLUSIVE gated metrics (eval sets too small to tell) warn instead of failing the run",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    from harness.suite_options import add_suite_options

    add_suite_options(parser)
    group = parser.getgroup("harness", "LLM promotion harness")
    for flag, kwargs in _OPTIONS:
        kwargs = {"dest": "harness_" + flag[2:].replace("-", "_"), "default": None, **kwargs}
        group.addoption(flag, **kwargs)
    for flag, help_text in _FLAGS:
        group.addoption(
            flag, action="store_true", default=False, dest="harness_" + flag[2:].replace("-", "_"), help=help_text
        )
    group.addoption("--harness-json", metavar="PATH", default=None, help="write the gate's verdicts as JSON")
    group.addoption("--harness-markdown", metavar="PATH", default=None, help="write the gate's verdicts as Markdown")
    group.addoption(
        "--shard",
        metavar="I/N",
        default=None,
        dest="harness_shard",
        help="answer only share I of N (0-based) of every eval set and case file, into the response cache; "
        "no verdict: combine the shards' caches with `harness merge`, then run without --shard",
    )
    group.addoption(
        "--harness-html",
        metavar="PATH",
        default=None,
        help="write the verdict, forest plot, flipped items and provenance as one self-contained HTML page",
    )


def _cli_values(config: pytest.Config) -> dict[str, Any]:
    """Each option's value under its HarnessConfig field name (None when not given)."""
    fields = [flag[2:].replace("-", "_") for flag, _ in _OPTIONS]
    return {field: config.getoption("harness_" + field) for field in fields}


def pytest_configure(config: pytest.Config) -> None:
    try:
        harness_config = resolve_config(config.rootpath, _cli_values(config))
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    threads = str(worker_threads(harness_config))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "0" if harness_config.allow_download else "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    config.stash[session_key] = HarnessSession(harness_config, shard=_shard(config))
    if harness_config.base_model_origin:
        config.stash[session_key].messages.append(
            f"base model: {harness_config.base_model} ({harness_config.base_model_origin})"
        )
    config.addinivalue_line("markers", "harness_roles(*roles): run a `model` test only on these roles")
    if not hasattr(config, "workerinput"):
        _check_report_paths(config)
        _clean_interrupted_writes(config)
        config.pluginmanager.register(_ControllerWatcher(config), "harness-controller")
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistController(config), "harness-xdist")


def _shard(config: pytest.Config) -> Any:
    """The --shard share, refused together with options that need a whole run."""
    value = config.getoption("harness_shard")
    if not value:
        return None
    from harness.shards import Shard

    try:
        shard = Shard.parse(value)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    whole = [
        flag
        for flag in ("--promote", "--update-baselines", "--reuse-base")
        if config.getoption("harness_" + flag[2:].replace("-", "_"))
    ]
    if whole:
        raise pytest.UsageError(
            f"--shard {value} gives no verdict and cannot be combined with {whole[0]}; "
            "run it on the merged cache, without --shard"
        )
    return shard


def _check_report_paths(config: pytest.Config) -> None:
    """Refuse an unwritable --harness-json / --harness-markdown / --harness-html path now, not after the run."""
    for option in ("--harness-json", "--harness-markdown", "--harness-html"):
        value = config.getoption("harness_" + option[10:])
        if not value:
            continue
        path = Path(value).expanduser()
        if path.is_dir():
            raise pytest.UsageError(f"{option} {value} is a directory; give the path of a file to write")
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise pytest.UsageError(f"{option} {value}: {parent} is not a directory this run can write to")


def _clean_interrupted_writes(config: pytest.Config) -> None:
    """A killed run can leave temporaries next to baseline files; remove them before git picks them up."""
    from harness.atomic import remove_leftover_temporaries

    harness = get_session(config)
    directory = harness.config.baselines_directory
    if removed := remove_leftover_temporaries(directory):
        harness.messages.append(f"removed {len(removed)} temporary file(s) an interrupted run left in {directory}")


def pytest_report_header(config: pytest.Config) -> str:
    return "harness: " + get_session(config).config.models_line()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Case files (YAML / JSONL) inside a directory named `adversarial` become test items, no Python needed."""
    if file_path.suffix in (".yaml", ".yml", ".jsonl") and "adversarial" in file_path.parent.parts:
        from harness.cases import collect_case_file

        return collect_case_file(file_path, parent)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that takes `model` runs once per role, with ids [base] and [tuned]."""
    if "model" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("harness_roles")
        roles = [r for r in ROLES if marker is None or r in marker.args]
        metafunc.parametrize("model", roles, ids=roles, indirect=True, scope="function")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --shard, keep only this share's cases; with --reuse-base, skip [base] runs whose stored results
    still match the base model and eval data."""
    if shard := get_session(config).shard:
        from harness.cases.collect import CaseItem

        outside = [i for i in items if isinstance(i, CaseItem) and not shard.keeps(str(i.path.name), i.case.id)]
        if outside:
            config.hook.pytest_deselected(items=outside)
            items[:] = [i for i in items if i not in outside]
    if not config.getoption("harness_reuse_base"):
        return
    from harness.baselines import BaselineStore, is_fresh

    harness = get_session(config)
    try:
        base_fingerprint = harness.base_fingerprint()
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    store = BaselineStore(harness.config.baselines_directory)
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("model") != BASE:
            continue
        suite = _relative(Path(str(item.path)), config.rootpath)
        stored = [e for e in store.load(suite)[BASE].values() if e.test == getattr(item, "originalname", item.name)]
        if stored and all(is_fresh(e, base_fingerprint, config.rootpath) for e in stored):
            item.add_marker(pytest.mark.skip(reason=f"base results reused from {store.path_for(suite)}"))


EXIT_INCONCLUSIVE = 6  # no gated metric failed, but some could not be decided (documented in the README)
GATE_FAILED = "failed the gate"  # the key of failed gated metrics in pytest's closing line
GATE_INCONCLUSIVE = "inconclusive"
UNMEASURED = "harness_unmeasured"  # a user property on the report of a failed test that records metrics


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Show a HarnessError as its message (file, line, fix), not a traceback from inside the harness; mark a
    failed test that records metrics, so that the gate can list what it did not measure."""
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(HarnessError):
        report.longrepr = f"HarnessError: {call.excinfo.value}"
    if report.failed and call.excinfo is not None and "record_metric" in getattr(item, "fixturenames", ()):
        callspec = getattr(item, "callspec", None)
        role = callspec.params.get("model", TUNED) if callspec else TUNED
        message = str(call.excinfo.value).strip()
        reason = call.excinfo.typename + (f": {message.splitlines()[0]}" if message else "")
        test = getattr(item, "originalname", item.name)
        report.user_properties.append((UNMEASURED, {"test": test, "role": role, "reason": reason}))
    return report


class _ControllerWatcher:
    """Registered on the controller (or a serial run): notes what the gate's summary must say about the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.problems: list[Any] = []  # harness.report.Reason: failed tests, test errors, collection errors

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            from harness.report import Reason

            self.problems.append(Reason("collection error", report.nodeid or ".", _first_line(report)))

    def pytest_warning_recorded(self, warning_message: Any) -> None:
        """A model scoring far below chance is said again next to the verdict, not only among the warnings."""
        from harness.scoring import LikelyLoadingProblem

        if issubclass(warning_message.category, LikelyLoadingProblem):
            message = f"likely loading problem: {warning_message.message}"
            messages = get_session(self.config).messages
            if message not in messages:
                messages.append(message)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            from harness.report import Reason

            kind = "test failed" if report.when == "call" else "test error"
            self.problems.append(Reason(kind, report.nodeid, _first_line(report)))
        for key, value in report.user_properties:
            if key == UNMEASURED:
                suite = Path(report.location[0]).as_posix()
                unmeasured = Unmeasured(suite, value["test"], value["role"], value["reason"])
                get_session(self.config).unmeasured.append(unmeasured)


def _first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    """A failure in one line: the exception's message (pytest's crash line, or its first `E` line), else the
    report's first line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    line = (errors or lines or ["failed"])[0]
    return line if len(line) <= 240 else line[:239] + "…"


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def harness_session(request: pytest.FixtureRequest) -> HarnessSession:
    """This process's harness state (config, models, records)."""
    return get_session(request.config)


@pytest.fixture(scope="session")
def model_pair(harness_session: HarnessSession) -> Any:
    """Base and tuned models, loaded once per process; an adapter pair shares one copy of the weights."""
    return harness_session.model_pair()


@pytest.fixture(scope="session")
def base_model(model_pair: Any) -> Any:
    """The base model (for an adapter pair: the same weights with the adapter switched off)."""
    return model_pair.base


@pytest.fixture(scope="session")
def tuned_model(model_pair: Any) -> Any:
    """The fine-tuned model."""
    return model_pair.tuned


@pytest.fixture
def model(request: pytest.FixtureRequest, model_pair: Any) -> Any:
    """The base or the tuned model: a test taking `model` runs once for each ([base] / [tuned])."""
    return model_pair.by_role(request.param)


@pytest.fixture(scope="session")
def eval_set(harness_session: HarnessSession) -> Callable[..., Any]:
    """Load an eval set by name from --eval-data (any of .jsonl/.csv/.parquet), validated against a schema."""
    from harness.data import find_eval_file, load_eval_set

    loaded: dict[tuple[str, str], Any] = {}

    def load(name: str, schema: Any) -> Any:
        key = (name, schema.name)
        if key not in loaded:
            path = find_eval_file(harness_session.config.eval_data_dir, name)
            eval_set = load_eval_set(path, schema, name=name)
            loaded[key] = eval_set.share(harness_session.shard) if harness_session.shard else eval_set
        return loaded[key]

    return load


@pytest.fixture
def record_metric(request: pytest.FixtureRequest, harness_session: HarnessSession) -> Callable[..., Any]:
    """Record a MetricResult for the summary table (and the gate): `record_metric(result, floor=0.5)`.

    The role comes from the test's `model` parameter, or pass role="base"/"tuned" explicitly.
    `floor` (or `ceiling` for lower-is-better metrics) fails the test at once when the tuned model misses it;
    `floor_lower_bound` does the same for the lower end of the 95% interval.
    """
    node = request.node
    suite_name = _relative(Path(str(node.path)), request.config.rootpath)
    callspec = getattr(node, "callspec", None)
    default_role = callspec.params.get("model") if callspec else None

    def record(
        result: Any,
        *,
        role: str | None = None,
        eval_set: Any = None,
        decoding: Any = None,
        outputs: Any = None,
        **rules: Any,
    ) -> Any:
        __tracebackhide__ = True
        from harness.environment import describe
        from harness.gate import GateRule

        GateRule.parse(rules, f"{node.nodeid}: record_metric({result.name!r})")
        role = role or default_role
        if role not in ROLES:
            raise HarnessError(
                f"record_metric({result.name!r}) in {node.nodeid}: cannot tell whether this is the base or tuned model",
                hint="take the `model` fixture, or pass role='base' or role='tuned'",
            )
        pair = harness_session.model_pair()
        model = pair.by_role(role)
        harness_session.record(
            MetricRecord(
                suite=suite_name,
                test=node.originalname if hasattr(node, "originalname") else node.name,
                role=role,
                result=result,
                model=model.name,
                model_fingerprint=model.fingerprint,
                base_fingerprint=pair.base.fingerprint,
                data_fingerprint=getattr(eval_set, "fingerprint", ""),
                data_path=_relative(getattr(eval_set, "path", None), request.config.rootpath),
                decoding=decoding.key() if decoding is not None else "",
                rules=rules,
                environment=describe(model),
                clusters=_clusters(eval_set),
            )
        )
        if outputs is not None:
            _record_outputs(harness_session, outputs, eval_set, role, suite_name, model.name)
        if role == TUNED:
            if harness_session.config.tuned_model != SAME_AS_BASE:  # an A/A run measures noise, not floors
                _check_bounds(result, rules)
        return result

    return record


def _record_outputs(harness: HarnessSession, outputs: Any, eval_set: Any, role: str, suite: str, model: str) -> None:
    """Keep a run's answers (harness.scoring.Answers) for human review."""
    from harness.records import OutputRecord

    rows = {row["id"]: row for row in eval_set} if eval_set is not None else {}
    name = getattr(eval_set, "name", suite)
    for item_id, text, reference in zip(outputs.ids, outputs.texts, outputs.references, strict=True):
        row = rows.get(item_id, {})
        harness.record_output(
            OutputRecord(
                name, item_id, role, row.get("prompt", ""), text, reference, row.get("category") or "", suite, model
            )
        )


def _clusters(eval_set: Any) -> dict[str, str]:
    """item id -> cluster for an eval set whose rows name a `cluster` (else empty: items are independent)."""
    rows = getattr(eval_set, "rows", ())
    return {str(row["id"]): str(row["cluster"]) for row in rows if row.get("cluster") is not None}


def _relative(path: Path | None, root: Path) -> str:
    if path is None:
        return ""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _check_bounds(result: Any, rules: dict[str, Any]) -> None:
    __tracebackhide__ = True
    floor, ceiling = rules.get("floor"), rules.get("ceiling")
    if floor is not None and result.value < floor:
        pytest.fail(f"{result.name} is below its floor: tuned {result.format()} < {floor}", pytrace=False)
    if (lower_floor := rules.get("floor_lower_bound")) is not None and result.ci[0] < lower_floor:
        from harness.gate import below_lower_bound_floor

        pytest.fail(below_lower_bound_floor(result.name, result.ci[0], lower_floor), pytrace=False)
    if ceiling is not None and result.value > ceiling:
        pytest.fail(f"{result.name} is above its ceiling: tuned {result.format()} > {ceiling}", pytrace=False)


# -- end of run ---------------------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Workers hand their records to the controller; the controller (or a serial run) runs the gate once."""
    config = session.config
    harness = get_session(config)
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["harness_records"] = [r.to_dict() for r in harness.records]
        workeroutput["harness_case_outcomes"] = [o.to_dict() for o in harness.case_outcomes]
        workeroutput["harness_outputs"] = [o.to_dict() for o in harness.outputs.values()]
        workeroutput["harness_model_calls"] = harness.own_model_calls()
        return
    harness.add_model_calls(harness.own_model_calls())
    if harness.shard:
        _finish_shard(session, harness)
        return
    from harness.finish import finish_run
    from harness.noninferiority import INCONCLUSIVE
    from harness.report import DO_NOT_PROMOTE

    try:
        verdict = finish_run(harness, session_failed=session.exitstatus != 0, flags=_flags(config))
    except HarnessError as exc:
        harness.messages.append(f"ERROR {exc}")
        verdict = DO_NOT_PROMOTE
    harness.run_verdict = verdict
    if session.exitstatus == pytest.ExitCode.OK:
        if verdict == DO_NOT_PROMOTE:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif verdict == INCONCLUSIVE and not config.getoption("harness_allow_inconclusive"):
            session.exitstatus = EXIT_INCONCLUSIVE


def _finish_shard(session: pytest.Session, harness: HarnessSession) -> None:
    """A shard's metrics cover a share of the items: no gate, no reports. Its exit status says only whether it
    answered its share: failed assertions on partial data do not count, errors (a model or server) do."""
    cache = harness.config.harness_cache_dir / "responses.sqlite"
    harness.messages.append(
        f"shard {harness.shard}: answers are in {cache}; this is not a verdict. When every shard is done: "
        "harness merge SHARD_CACHES... --into CACHE, then run pytest without --shard on that cache"
    )
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = getattr(reporter, "stats", {})
    broken = stats.get("error") or [r for r in stats.get("failed", []) if str(r.longrepr).startswith("HarnessError")]
    if session.exitstatus == pytest.ExitCode.TESTS_FAILED and not broken:
        session.exitstatus = pytest.ExitCode.OK


def _flags(config: pytest.Config) -> dict[str, Any]:
    return {
        "promote": config.getoption("harness_promote"),
        "force": config.getoption("harness_force"),
        "update_baselines": config.getoption("harness_update_baselines"),
        "json": config.getoption("harness_json"),
        "markdown": config.getoption("harness_markdown"),
        "html": config.getoption("harness_html"),
        "allow_inconclusive": config.getoption("harness_allow_inconclusive"),
        "problems": getattr(config.pluginmanager.get_plugin("harness-controller"), "problems", []),
        "command": ["pytest", *config.invocation_params.args],
    }


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    harness = get_session(config)
    if harness.case_outcomes:
        from harness.cases.summary import summarise
        from harness.report import case_lines

        terminalreporter.section("adversarial and behavioural cases")
        for line in case_lines(summarise(harness.case_outcomes)):
            terminalreporter.write_line(line, red=line.startswith("regressed"))
    watcher = config.pluginmanager.get_plugin("harness-controller")
    broken = any(p.kind == "collection error" for p in getattr(watcher, "problems", []))
    if not harness.verdicts and not harness.messages and not broken and not harness.model_calls_line():
        return
    from harness.noninferiority import INCONCLUSIVE
    from harness.report import DO_NOT_PROMOTE, PROMOTE, terminal_lines

    # pytest's own closing line says it too: "4 passed, 1 failed the gate, 2 inconclusive in 3.2s"
    if failed := [v for v in harness.verdicts if v.failures]:
        terminalreporter.stats.setdefault(GATE_FAILED, []).extend(failed)
    if undecided := [v for v in harness.verdicts if v.inconclusive and not v.failures]:
        terminalreporter.stats.setdefault(GATE_INCONCLUSIVE, []).extend(undecided)
    terminalreporter.section("promotion gate: tuned vs base and promoted")
    for line in terminal_lines(harness.verdicts) if harness.verdicts else []:
        terminalreporter.write_line(
            line, red=line.startswith("FAIL"), yellow=line.startswith(("stale", "environment", "INCONCLUSIVE"))
        )
    if calls := harness.model_calls_line():  # the terminal's alone: reports hold what the models said, not timings
        terminalreporter.write_line(calls)
    for message in harness.messages:
        terminalreporter.write_line(message, red=message.startswith(("ERROR", "not promoted", "likely loading")))
    if harness.run_verdict:
        headline = headline_line(harness.run_verdict, terminalreporter.stats, config)
        verdict = harness.run_verdict
        terminalreporter.write_line(
            headline, bold=True, green=verdict == PROMOTE, red=verdict == DO_NOT_PROMOTE, yellow=verdict == INCONCLUSIVE
        )
        from harness.finish import session_problems
        from harness.report import reason_lines, run_reasons

        errors = [m.removeprefix("ERROR ") for m in harness.messages if m.startswith("ERROR ")]
        unexplained = verdict == DO_NOT_PROMOTE and not errors and not any(v.failures for v in harness.verdicts)
        reasons = run_reasons(harness.verdicts, session_problems(_flags(config), unexplained), errors)
        for line in reason_lines(reasons):
            terminalreporter.write_line(line, red=verdict == DO_NOT_PROMOTE, yellow=verdict == INCONCLUSIVE)


def headline_line(verdict: str, stats: dict[str, list[Any]], config: pytest.Config) -> str:
    """'verdict: PROMOTE', or the verdict with every reason the run does not exit 0."""
    reasons = []
    if tests := len(stats.get("failed", [])) + len(stats.get("error", [])):
        reasons.append(f"{tests} test(s) failed or errored (must-pass cases, floors, collection)")
    if gated := len(stats.get(GATE_FAILED, [])):
        reasons.append(f"{gated} gated metric(s) failed")
    if undecided := len(stats.get(GATE_INCONCLUSIVE, [])):
        allowed = " (allowed by --allow-inconclusive)" if config.getoption("harness_allow_inconclusive") else ""
        reasons.append(f"{undecided} gated metric(s) inconclusive{allowed}")
    return f"verdict: {verdict}" + (f": {'; '.join(reasons)}" if reasons else "")


class _XdistController:
    """Registered only when pytest-xdist is present: merges the workers' records on the controller."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        records = getattr(node, "workeroutput", {}).get("harness_records", [])
        harness = get_session(self.config)
        for data in records:
            harness.record(MetricRecord.from_dict(data))
        for data in getattr(node, "workeroutput", {}).get("harness_case_outcomes", []):
            harness.record_case(CaseOutcome.from_dict(data))
        for data in getattr(node, "workeroutput", {}).get("harness_outputs", []):
            harness.record_output(OutputRecord.from_dict(data))
        harness.add_model_calls(getattr(node, "workeroutput", {}).get("harness_model_calls", {}))


__all__ = ["BASE", "TUNED"]
