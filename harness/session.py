"""Per-process state of a harness run: the resolved config, the models (loaded once), and the records."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.config import HarnessConfig, RunFlags
from harness.errors import HarnessError
from harness.models.base import ModelPair
from harness.records import CaseOutcome, MetricRecord, OutputRecord, Unmeasured
from harness.shards import Shard
from harness.terminal import ReportLine, Severity

if TYPE_CHECKING:
    from harness.data import EvalSet, Schema
    from harness.gate import Verdict
    from harness.report import Reason

EXIT_INCONCLUSIVE = 6  # no gated metric failed, but some could not be decided (documented in the README)
UNMEASURED = "harness_unmeasured"  # a user property on the report of a failed test that records metrics
PAYLOAD_KEY = "harness"  # what an xdist worker hands the controller, under this key of its workeroutput


def worker_threads(config: HarnessConfig) -> int:
    """Torch threads for this process: an explicit --threads, else the cores shared among xdist workers."""
    if config.threads > 0:
        return config.threads
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // workers)


@dataclass(eq=False)  # hashable by identity: it is registered as a pytest plugin
class HarnessSession:
    """State shared by the plugin's hooks and fixtures within one pytest process."""

    config: HarnessConfig
    records: list[MetricRecord] = field(default_factory=list)
    case_outcomes: list[CaseOutcome] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)  # failed metric tests, seen on the controller
    outputs: dict[tuple[str, str, str], OutputRecord] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)  # set at the end of the run
    messages: list[ReportLine] = field(default_factory=list)  # end-of-run lines for the terminal summary
    errors: list[str] = field(default_factory=list)  # HarnessErrors that stopped the end of the run
    problems: list[Reason] = field(default_factory=list)  # failed tests, test errors, collection errors
    run_verdict: str = ""  # PROMOTE / DO NOT PROMOTE / INCONCLUSIVE, set at the end of the run
    shard: Shard | None = None  # --shard I/N: this run answers one share of the eval items, gives no verdict
    # per role: answers asked for, answers from the cache, seconds in model calls (summed over xdist workers)
    model_calls: dict[str, dict[str, float]] = field(default_factory=dict)
    _pair: ModelPair | None = None
    _load_error: HarnessError | None = None
    _eval_sets: dict[tuple[str, str], EvalSet] = field(default_factory=dict)

    @classmethod
    def start(cls, rootdir: Path, cli: Mapping[str, Any], shard: Shard | None = None) -> HarnessSession:
        """Resolve the config (options over [tool.harness]) and cap this process's threads before torch loads."""
        from harness.config import resolve_config

        config = resolve_config(rootdir, dict(cli))
        threads = str(worker_threads(config))
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(variable, threads)
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_OFFLINE", "0" if config.allow_download else "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        session = cls(config, shard=shard)
        if config.base_model_origin:
            session.note(f"base model: {config.base_model} ({config.base_model_origin})")
        return session

    def clean_interrupted_writes(self) -> None:
        """A killed run can leave temporaries next to baseline files; remove them before git picks them up."""
        from harness.atomic import remove_leftover_temporaries

        directory = self.config.baselines_directory
        if removed := remove_leftover_temporaries(directory):
            self.note(f"removed {len(removed)} temporary file(s) an interrupted run left in {directory}")

    def model_pair(self) -> ModelPair:
        """Load base and tuned once per process; a load error is raised again, not retried, for every test."""
        if self._pair is not None:
            return self._pair
        if self._load_error is not None:
            raise self._load_error
        import torch

        from harness.models.loading import LoadOptions, load_pair

        torch.set_num_threads(worker_threads(self.config))
        options = LoadOptions(
            allow_pickle=self.config.allow_pickle,
            trust_remote_code=self.config.trust_remote_code,
            allow_download=self.config.allow_download,
            device=self.config.device,
            dtype=self.config.dtype,
            batch_size=self.config.batch_size,
            cache_dir=self.config.harness_cache_dir,
        )
        try:
            pair = load_pair(self.config.base_model, self.config.tuned_model, options)
        except HarnessError as exc:
            self._load_error = exc
            raise
        if not self.config.no_cache:
            from harness.models.cache import CachedModel, ResponseCache

            cache = ResponseCache(self.config.harness_cache_dir / "responses.sqlite")
            pair = ModelPair(
                CachedModel(pair.base, cache, cache_sampled=self.config.cache_sampled),
                CachedModel(pair.tuned, cache, cache_sampled=self.config.cache_sampled),
                pair.shares_weights,
                pair.notes,
            )
        self._pair = pair
        return pair

    def eval_set(self, name: str, schema: Schema) -> EvalSet:
        """The eval set `name` from the eval-data directory, validated against `schema`, loaded once (this
        shard's share of it with --shard)."""
        from harness.data import find_eval_file, load_eval_set

        key = (name, schema.name)
        if key not in self._eval_sets:
            loaded = load_eval_set(find_eval_file(self.config.eval_data_dir, name), schema, name=name)
            self._eval_sets[key] = loaded.share(self.shard) if self.shard else loaded
        return self._eval_sets[key]

    def add_model_calls(self, calls: dict[str, dict[str, float]]) -> None:
        """Add one process's model-call counts and time to this session's."""
        for role, counts in calls.items():
            total = self.model_calls.setdefault(role, {"answers": 0, "cached": 0, "seconds": 0.0})
            for key in total:
                total[key] += counts.get(key, 0)

    def own_model_calls(self) -> dict[str, dict[str, float]]:
        """This process's model calls per role, when its models were loaded through the response cache."""
        pair = self._pair
        if pair is None:
            return {}
        calls = {}
        for model in (pair.base, pair.tuned):
            if hasattr(model, "hits"):
                calls[model.role] = {
                    "answers": model.hits + model.misses,
                    "cached": model.hits,
                    "seconds": model.seconds,
                }
        return calls

    def model_calls_line(self) -> str | None:
        """'model calls: base 700 answers (700 from the cache) in 0.05 s; tuned ...', or None."""
        if not any(c["answers"] for c in self.model_calls.values()):
            return None
        parts = [
            f"{role} {int(c['answers']):,} answers ({int(c['cached']):,} from the cache) in {c['seconds']:.2f} s"
            for role, c in sorted(self.model_calls.items())
        ]
        return "model calls: " + "; ".join(parts)

    def base_fingerprint(self) -> str:
        """The base model's fingerprint, computed from its files without loading it."""
        if self._pair is not None:
            return self._pair.base.fingerprint
        from harness.models.fingerprint import DigestCache, fingerprint_directory
        from harness.models.loading import LoadOptions, resolve_spec

        spec = resolve_spec(
            self.config.base_model, "--base-model", LoadOptions(allow_download=self.config.allow_download)
        )
        if not spec.is_local:
            return f"hub:{spec.location}"
        digests = DigestCache(self.config.harness_cache_dir / "fingerprints.json")
        fingerprint = fingerprint_directory(Path(spec.location), digests)
        digests.save()
        return fingerprint

    def note(self, text: str, severity: Severity = "info") -> None:
        """Say `text` in the gate's terminal summary (once, however often it is noted)."""
        line = ReportLine(text, severity)
        if line not in self.messages:
            self.messages.append(line)

    def record(self, record: MetricRecord) -> None:
        self.records.append(record)

    def record_output(self, output: OutputRecord) -> None:
        self.outputs[output.key] = output

    def record_case(self, outcome: CaseOutcome) -> None:
        self.case_outcomes.append(outcome)

    def sorted_records(self) -> list[MetricRecord]:
        """Records in a fixed order, so serial and xdist runs report identically."""
        return sorted(self.records, key=lambda r: (r.suite, r.result.name, r.role, r.test))

    # -- xdist: workers hand their records to the controller ------------------------------------------

    def worker_payload(self) -> dict[str, Any]:
        """What a worker measured, as JSON-safe data for the controller's `merge_worker`."""
        return {
            "records": [r.to_dict() for r in self.records],
            "case_outcomes": [o.to_dict() for o in self.case_outcomes],
            "outputs": [o.to_dict() for o in self.outputs.values()],
            "model_calls": self.own_model_calls(),
        }

    def merge_worker(self, payload: Mapping[str, Any]) -> None:
        """Add one worker's `worker_payload` to this (the controller's) session."""
        for data in payload.get("records", []):
            self.record(MetricRecord.from_dict(data))
        for data in payload.get("case_outcomes", []):
            self.record_case(CaseOutcome.from_dict(data))
        for data in payload.get("outputs", []):
            self.record_output(OutputRecord.from_dict(data))
        self.add_model_calls(payload.get("model_calls", {}))

    # -- the end of the run, on the controller ---------------------------------------------------------

    def finish(self, exitstatus: int, flags: RunFlags) -> int:
        """Run the gate once over everything recorded, write reports and baselines; return the exit status."""
        from harness.finish import finish_run
        from harness.noninferiority import INCONCLUSIVE
        from harness.report import DO_NOT_PROMOTE

        self.add_model_calls(self.own_model_calls())
        if self.shard:
            return self._finish_shard(exitstatus)
        try:
            verdict = finish_run(self, session_failed=exitstatus != pytest.ExitCode.OK, flags=flags)
        except HarnessError as exc:
            self.errors.append(str(exc))
            self.note(f"ERROR {exc}", "error")
            verdict = DO_NOT_PROMOTE
        self.run_verdict = verdict
        if exitstatus != pytest.ExitCode.OK:
            return exitstatus
        if verdict == DO_NOT_PROMOTE:
            return pytest.ExitCode.TESTS_FAILED
        return EXIT_INCONCLUSIVE if verdict == INCONCLUSIVE and not flags.allow_inconclusive else exitstatus

    def _finish_shard(self, exitstatus: int) -> int:
        """A shard's metrics cover a share of the items: no gate, no reports. Its exit status says only whether
        it answered its share: failed assertions on partial data do not count, errors (a model or server) do."""
        cache = self.config.harness_cache_dir / "responses.sqlite"
        self.note(
            f"shard {self.shard}: answers are in {cache}; this is not a verdict. When every shard is done: "
            "harness merge SHARD_CACHES... --into CACHE, then run pytest without --shard on that cache"
        )
        broken = any(p.kind != "test failed" or p.message.startswith("HarnessError") for p in self.problems)
        return pytest.ExitCode.OK if exitstatus == pytest.ExitCode.TESTS_FAILED and not broken else exitstatus

    def session_problems(self, session_failed: bool) -> list[Reason]:
        """The failed tests, test errors and collection errors seen; one general reason for a failed session
        whose failure no report named (an interrupted run, an internal error)."""
        from harness.report import Reason

        problems = list(self.problems)
        if session_failed and not problems:
            problems.append(Reason("test failed", "", "the test session failed; pytest's summary above says why"))
        return problems

    # -- hooks: the session is registered as a plugin on the controller (or a serial run) -----------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A collection error is one of the run's reasons."""
        if report.failed:
            from harness.report import Reason

            self.problems.append(Reason("collection error", report.nodeid or ".", first_line(report)))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """A failed test is one of the run's reasons; a failed test that records metrics leaves them unmeasured."""
        if report.failed:
            from harness.report import Reason

            kind = "test failed" if report.when == "call" else "test error"
            self.problems.append(Reason(kind, report.nodeid, first_line(report)))
        for key, value in report.user_properties:
            if key == UNMEASURED:
                suite = Path(report.location[0]).as_posix()
                self.unmeasured.append(Unmeasured(suite, value["test"], value["role"], value["reason"]))

    def pytest_warning_recorded(self, warning_message: Any) -> None:
        """A model scoring far below chance is said again next to the verdict, not only among the warnings."""
        from harness.scoring import LikelyLoadingProblem

        if issubclass(warning_message.category, LikelyLoadingProblem):
            self.note(f"likely loading problem: {warning_message.message}", "error")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """pytest-xdist: a worker is done; merge what it measured."""
        self.merge_worker(getattr(node, "workeroutput", {}).get(PAYLOAD_KEY, {}))


def first_line(report: pytest.TestReport | pytest.CollectReport) -> str:
    """A failure in one line: the exception's message (pytest's crash line, or its first `E` line), else the
    report's first line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    line = (errors or lines or ["failed"])[0]
    return line if len(line) <= 240 else line[:239] + "…"


def unmeasured_property(item: pytest.Item, excinfo: pytest.ExceptionInfo[BaseException]) -> tuple[str, dict[str, str]]:
    """The user property that marks a failed metric test's report, so the gate lists what it did not measure."""
    from harness.records import TUNED

    callspec = getattr(item, "callspec", None)
    role = callspec.params.get("model", TUNED) if callspec else TUNED
    message = str(excinfo.value).strip()
    reason = excinfo.typename + (f": {message.splitlines()[0]}" if message else "")
    return (UNMEASURED, {"test": getattr(item, "originalname", item.name), "role": role, "reason": reason})


session_key = pytest.StashKey[HarnessSession]()


def get_session(config: pytest.Config) -> HarnessSession:
    return config.stash[session_key]
