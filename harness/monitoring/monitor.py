"""Run the drift tests on every window of production logs, correct for multiple tests, and give each a verdict.

The alarm rule controls false alarms over a horizon of windows, not per window: with `alpha` 0.05 and `horizon`
30, each window is judged at level alpha / horizon = 0.00167 (Bonferroni over the horizon), so without drift the
expected number of alarms in 30 windows is at most 0.05, and so is the chance of any alarm among them, however
the windows depend on each other (they share the reference). Within a window the tests' p-values are adjusted
together (Holm by default, or Bonferroni) at that level. A test flags drift when its adjusted p-value is at most
the window level and its effect reaches the test's practical floor; the window alarms when any test flags.
A window is judged only when it has at least `min_samples` requests ("not enough data" otherwise).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from harness.errors import HarnessError
from harness.monitoring import defaults, drift
from harness.monitoring.embeddings import embedder
from harness.monitoring.inference import CORRECTIONS, adjust
from harness.monitoring.logs import LogRecord, Reference, is_label_like
from harness.monitoring.windows import (
    Window,
    WindowSpec,
    describe_outliers,
    empty_spans,
    outlying_records,
    split_windows,
)

DRIFT, NO_DRIFT, NOT_ENOUGH = "drift", "no drift", "not enough data"
MAX_TESTS = 5  # classifier, MMD, output length, labels, perplexity

Novelty = Callable[[Sequence[str]], list[float]]


@dataclass(frozen=True)
class MonitorSettings:
    """How windows are cut and judged; the defaults are the documented ones."""

    window: WindowSpec
    alpha: float = defaults.ALPHA  # the chance of any false alarm over `horizon` windows without drift
    horizon: int = defaults.HORIZON
    correction: str = "holm"
    permutations: int = defaults.PERMUTATIONS  # MMD and PSI tests, in batches (one matrix product per batch)
    seed: int = 0
    min_samples: int = defaults.MIN_SAMPLES
    min_labels: int = 30
    embeddings: str = "tfidf"
    examples: int = 5
    top_words: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise HarnessError(f"--alpha {self.alpha} is not between 0 and 1", hint="use e.g. 0.05")
        if self.correction not in CORRECTIONS:
            raise HarnessError(f"--correction {self.correction!r} is unknown", hint=f"use {' or '.join(CORRECTIONS)}")
        if self.horizon < 1:
            raise HarnessError(f"--horizon {self.horizon} must be at least 1 window", hint="use e.g. 30")
        needed = math.ceil(MAX_TESTS / self.window_level) - 1
        if self.permutations < needed:
            raise HarnessError(
                f"--permutations {self.permutations} is too few: the smallest p-value, 1/(n+1), could never reach "
                f"the window level {self.window_level:.3g} shared by up to {MAX_TESTS} tests",
                hint=f"use {needed} or more, or a larger --alpha or smaller --horizon",
            )
        if self.min_samples < 10:
            raise HarnessError(f"--min-samples {self.min_samples} is too small to judge a window", hint="use 50")

    @property
    def window_level(self) -> float:
        """The family-wise level of one window: alpha spent evenly over the horizon."""
        return self.alpha / self.horizon

    @property
    def rule(self) -> str:
        """The alarm rule in one sentence, with the expected false alarms it allows."""
        return (
            f"a window alarms when a test's {self.correction}-adjusted p <= {self.alpha}/{self.horizon} = "
            f"{self.window_level:.3g} and its effect reaches its floor; without drift, at most {self.alpha:g} false "
            f"alarms are expected per {self.horizon} windows (chance of any <= {self.alpha:g})"
        )


@dataclass(frozen=True)
class WindowResult:
    """One window's tests (corrected), verdict, and, when it drifted, what marks it."""

    window: Window
    verdict: str
    tests: tuple[drift.DriftTest, ...] = ()
    note: str = ""
    detectable_share: float | None = None  # share of new, separable inputs it detects half the time (drift.py)
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

    @property
    def expected_false_alarms(self) -> float:
        """The most alarms expected without drift over these windows: the window level times their number."""
        judged = sum(w.verdict != NOT_ENOUGH for w in self.windows)
        return self.settings.window_level * judged


def output_label(record: LogRecord, known: set[str]) -> str | None:
    """A record's label: its `label` field, else its output when it is a known label or reads as one ("payment")."""
    if record.label is not None:
        return record.label
    answer = record.output.strip()
    return answer if answer in known or is_label_like(answer) else None


def correct(tests: Sequence[drift.DriftTest], level: float, method: str) -> list[drift.DriftTest]:
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
        result.append(replace(t, p_adjusted=p, flagged=p <= level and big_enough))
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
    level = settings.window_level
    permuted = {"permutations": settings.permutations, "seed": seed, "stop_above": level}
    tests = [
        drift.domain_classifier(
            reference.texts, inputs, seed=seed, top_words=settings.top_words, examples=settings.examples
        ),
        drift.embedding_mmd(reference.texts, inputs, embed=embedder(settings.embeddings), **permuted),
    ]
    outputs = [r.output for r in window.records]
    if len(reference.outputs) >= settings.min_samples:
        tests.append(drift.output_length_shift(reference.outputs, outputs, **permuted))
    labels = [label for r in window.records if (label := output_label(r, set(reference.labels))) is not None]
    if len(reference.labels) >= settings.min_labels and len(labels) >= settings.min_labels:
        tests.append(drift.label_shift(reference.labels, labels, **permuted))
    elif reference.labels:
        tests.append(
            drift.not_enough("label_shift", drift.PSI_EFFECT, len(reference.labels), len(labels), settings.min_labels)
        )
    if novelty is not None and reference_novelty is not None:
        tests.append(drift.perplexity_novelty(reference_novelty, novelty(inputs)))
    tests = correct(tests, level, settings.correction)
    verdict = DRIFT if any(t.flagged for t in tests) else NO_DRIFT
    details = tests[0].details
    ran = sum(t.enough_data for t in tests)
    examples = tuple(window.records[i] for i in details["example_indices"]) if verdict == DRIFT else ()
    return WindowResult(
        window,
        verdict,
        tuple(tests),
        detectable_share=drift.detectable_share(tests, level / ran),
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
    notes = []
    if outliers := outlying_records(records):
        notes.append(describe_outliers(outliers) + "; check their clocks, or leave them out with --since/--until")
    if gaps := empty_spans(windows):
        notes.append(f"{gaps} span(s) of {settings.window.text} without any request are left out")
    reference_novelty = novelty(reference.texts) if novelty is not None else None
    from tqdm import tqdm

    # On stderr, terminal or not; shown only once the work has taken a few seconds.
    bar = tqdm(windows, desc="windows", unit="window", file=sys.stderr, delay=3, mininterval=2, disable=not progress)
    results = tuple(
        judge_window(w, reference, settings, reference_novelty=reference_novelty, novelty=novelty) for w in bar
    )
    files = tuple(dict.fromkeys(s.rsplit(":", 1)[0] for s in reference.sources))
    return MonitorReport(
        settings, results, len(reference), files, tuple(log_files), len(records), model, notes=tuple(notes)
    )
