"""Run the drift tests on every window of production logs, correct for multiple tests, and give each a verdict.

A window is judged only when it has at least `min_samples` requests ("not enough data" otherwise). Within a
window the tests' p-values are adjusted together (Holm by default, or Bonferroni), so the chance that a window
without drift raises any alarm stays under alpha. A test flags drift when its adjusted p-value is at most alpha
and its effect reaches the test's practical floor; the window drifts when any test flags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from harness.errors import HarnessError
from harness.monitoring import drift
from harness.monitoring.embeddings import embedder
from harness.monitoring.inference import CORRECTIONS, adjust
from harness.monitoring.logs import LogRecord, Reference, is_label_like
from harness.monitoring.windows import Window, WindowSpec, split_windows

DRIFT, NO_DRIFT, NOT_ENOUGH = "drift", "no drift", "not enough data"

Novelty = Callable[[Sequence[str]], list[float]]


@dataclass(frozen=True)
class MonitorSettings:
    """How windows are cut and judged; the defaults are the documented ones."""

    window: WindowSpec
    alpha: float = 0.05
    correction: str = "holm"
    permutations: int = 999  # MMD: each permutation is two matrix-vector products
    classifier_permutations: int = 199  # each permutation refits the cross-validated classifier
    seed: int = 0
    min_samples: int = 50
    min_labels: int = 30
    embeddings: str = "tfidf"
    examples: int = 5
    top_words: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise HarnessError(f"--alpha {self.alpha} is not between 0 and 1", hint="use e.g. 0.05")
        if self.correction not in CORRECTIONS:
            raise HarnessError(f"--correction {self.correction!r} is unknown", hint=f"use {' or '.join(CORRECTIONS)}")
        for option, value in (
            ("--permutations", self.permutations),
            ("--classifier-permutations", self.classifier_permutations),
        ):
            if value < 19:
                raise HarnessError(
                    f"{option} {value} is too few for a p-value under 0.05",
                    hint="use 199 or more (p-values are (k+1)/(n+1))",
                )
        if self.min_samples < 10:
            raise HarnessError(f"--min-samples {self.min_samples} is too small to judge a window", hint="use 50")


@dataclass(frozen=True)
class WindowResult:
    """One window's tests (corrected), verdict, and, when it drifted, what marks it."""

    window: Window
    verdict: str
    tests: tuple[drift.DriftTest, ...] = ()
    note: str = ""
    examples: tuple[LogRecord, ...] = ()
    window_words: tuple[tuple[str, float], ...] = ()
    reference_words: tuple[tuple[str, float], ...] = ()

    def test(self, name: str) -> drift.DriftTest | None:
        return next((t for t in self.tests if t.name == name), None)


@dataclass(frozen=True)
class MonitorReport:
    """Every window's result, with what was compared."""

    settings: MonitorSettings
    windows: tuple[WindowResult, ...]
    reference_size: int
    reference_files: tuple[str, ...]
    log_files: tuple[str, ...]
    n_records: int
    model: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def drifted(self) -> list[WindowResult]:
        return [w for w in self.windows if w.verdict == DRIFT]


def output_label(record: LogRecord, known: set[str]) -> str | None:
    """A record's label: its `label` field, else its output when it is a known label or reads as one ("payment")."""
    if record.label is not None:
        return record.label
    answer = record.output.strip()
    return answer if answer in known or is_label_like(answer) else None


def correct(tests: Sequence[drift.DriftTest], alpha: float, method: str) -> list[drift.DriftTest]:
    """Adjust the p-values of the tests that ran, and flag those significant with an effect at their floor."""
    ran = [t for t in tests if t.enough_data]
    adjusted = dict(zip((t.name for t in ran), adjust([float(t.p_value) for t in ran], method), strict=True))
    result = []
    for t in tests:
        if not t.enough_data:
            result.append(t)
            continue
        p = adjusted[t.name]
        big_enough = t.effect_floor is None or (t.effect is not None and t.effect >= t.effect_floor)
        result.append(replace(t, p_adjusted=p, flagged=p <= alpha and big_enough))
    return result


def judge_window(
    window: Window,
    reference: Reference,
    settings: MonitorSettings,
    *,
    reference_novelty: Sequence[float] | None = None,
    novelty: Novelty | None = None,
) -> WindowResult:
    """All drift tests on one window, corrected together, with the verdict."""
    from threadpoolctl import threadpool_limits

    # The matrices are a few hundred rows: one BLAS thread is faster than several competing for the cores.
    with threadpool_limits(limits=1, user_api="blas"):
        return _judge_window(window, reference, settings, reference_novelty, novelty)


def _judge_window(
    window: Window,
    reference: Reference,
    settings: MonitorSettings,
    reference_novelty: Sequence[float] | None,
    novelty: Novelty | None,
) -> WindowResult:
    if len(window) < settings.min_samples:
        return WindowResult(window, NOT_ENOUGH, note=f"{len(window)} requests < --min-samples {settings.min_samples}")
    inputs = [r.input for r in window.records]
    seed = settings.seed * 1000 + window.index
    tests = [
        drift.domain_classifier(
            reference.texts,
            inputs,
            permutations=settings.classifier_permutations,
            seed=seed,
            stop_above=settings.alpha,
            top_words=settings.top_words,
            examples=settings.examples,
        ),
        drift.embedding_mmd(
            reference.texts,
            inputs,
            embed=embedder(settings.embeddings),
            permutations=settings.permutations,
            seed=seed,
            stop_above=settings.alpha,
        ),
    ]
    outputs = [r.output for r in window.records]
    if len(reference.outputs) >= settings.min_samples:
        tests.append(drift.output_length_shift(reference.outputs, outputs))
    labels = [label for r in window.records if (label := output_label(r, set(reference.labels))) is not None]
    if len(reference.labels) >= settings.min_labels and len(labels) >= settings.min_labels:
        tests.append(drift.label_shift(reference.labels, labels))
    elif reference.labels:
        tests.append(drift.not_enough("label_shift", "PSI", len(reference.labels), len(labels), settings.min_labels))
    if novelty is not None and reference_novelty is not None:
        tests.append(drift.perplexity_novelty(reference_novelty, novelty(inputs)))
    tests = correct(tests, settings.alpha, settings.correction)
    verdict = DRIFT if any(t.flagged for t in tests) else NO_DRIFT
    details = tests[0].details
    examples = tuple(window.records[i] for i in details["example_indices"]) if verdict == DRIFT else ()
    return WindowResult(
        window,
        verdict,
        tuple(tests),
        examples=examples,
        window_words=tuple(details["window_words"]),
        reference_words=tuple(details["reference_words"]),
    )


def monitor(
    records: Sequence[LogRecord],
    reference: Reference,
    settings: MonitorSettings,
    *,
    novelty: Novelty | None = None,
    model: str | None = None,
    log_files: Sequence[str] = (),
    progress: bool = False,
) -> MonitorReport:
    """Cut the records into windows and judge each against the reference."""
    if len(reference) < settings.min_samples:
        raise HarnessError(
            f"the reference has {len(reference)} texts; drift tests need at least --min-samples {settings.min_samples}",
            hint="name a larger reference (eval sets or logs of a period you trust), or lower --min-samples",
        )
    embedder(settings.embeddings)  # a missing optional package fails before any work
    windows = split_windows(records, settings.window)
    reference_novelty = novelty(reference.texts) if novelty is not None else None
    from tqdm.auto import tqdm

    results = tuple(
        judge_window(w, reference, settings, reference_novelty=reference_novelty, novelty=novelty)
        for w in tqdm(windows, desc="windows", unit="window", disable=not progress)
    )
    files = tuple(dict.fromkeys(s.rsplit(":", 1)[0] for s in reference.sources))
    return MonitorReport(settings, results, len(reference), files, tuple(log_files), len(records), model)
