"""Per-process state of a harness run: the resolved config, the models (loaded once), and the records."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.models.base import ModelPair
from harness.records import CaseOutcome, MetricRecord, OutputRecord, Unmeasured
from harness.shards import Shard


def worker_threads(config: HarnessConfig) -> int:
    """Torch threads for this process: an explicit --threads, else the cores shared among xdist workers."""
    if config.threads > 0:
        return config.threads
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // workers)


@dataclass
class HarnessSession:
    """State shared by the plugin's hooks and fixtures within one pytest process."""

    config: HarnessConfig
    records: list[MetricRecord] = field(default_factory=list)
    case_outcomes: list[CaseOutcome] = field(default_factory=list)
    unmeasured: list[Unmeasured] = field(default_factory=list)  # failed metric tests, seen on the controller
    outputs: dict[tuple[str, str, str], OutputRecord] = field(default_factory=dict)
    verdicts: list[Any] = field(default_factory=list)  # harness.gate.Verdict, set at the end of the run
    messages: list[str] = field(default_factory=list)  # end-of-run lines for the terminal summary
    run_verdict: str = ""  # PROMOTE / DO NOT PROMOTE / INCONCLUSIVE, set at the end of the run
    shard: Shard | None = None  # --shard I/N: this run answers one share of the eval items, gives no verdict
    # per role: answers asked for, answers from the cache, seconds in model calls (summed over xdist workers)
    model_calls: dict[str, dict[str, float]] = field(default_factory=dict)
    _pair: ModelPair | None = None
    _load_error: HarnessError | None = None

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
        from pathlib import Path

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

    def record(self, record: MetricRecord) -> None:
        self.records.append(record)

    def record_output(self, output: OutputRecord) -> None:
        self.outputs[output.key] = output

    def record_case(self, outcome: CaseOutcome) -> None:
        self.case_outcomes.append(outcome)

    def sorted_records(self) -> list[MetricRecord]:
        """Records in a fixed order, so serial and xdist runs report identically."""
        return sorted(self.records, key=lambda r: (r.suite, r.result.name, r.role, r.test))


session_key = pytest.StashKey[HarnessSession]()


def get_session(config: pytest.Config) -> HarnessSession:
    return config.stash[session_key]
