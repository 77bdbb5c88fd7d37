"""Benchmark: bootstrap speed, and what each metric wrapper costs over the library it wraps.

Run: python bench/bench_metrics.py [--repeats 3]

(a) bootstrap_ci with 10,000 resamples over 10,000 items (target: under a second).
(b) each wrapper against the library calls that produce the same numbers on the same inputs (2,000
    sentences for rouge-score / sacrebleu, 100,000 labels for scikit-learn). "library" is the corpus score
    plus the per-item scores the wrapper reports (for scikit-learn: the averaged score, the per-class
    scores and the confusion matrix). "wrapper" includes the 10,000-resample CI; "CI" is that share alone,
    and the target (wrapping adds < 5%) is judged without it, since (a) gives the bootstrap its own budget.
    Timings are CPU seconds, best of --repeats runs, library and wrapper interleaved in one process.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from harness import metrics
from harness.stats import bootstrap_ci, paired_comparison

WORDS = (
    "the court held that each party shall notify the other within thirty days of written notice and may "
    "terminate this agreement for material breach subject to confidentiality indemnity payment obligations"
).split()


def best_of(repeats: int, *calls: Callable[[], Any]) -> list[float]:
    """Best CPU time of each call over `repeats` interleaved rounds (CPU time: other load on the machine
    inflates wall time but not this single-threaded work's own time)."""
    best = [float("inf")] * len(calls)
    for _ in range(repeats):
        for k, call in enumerate(calls):
            start = time.process_time()
            call()
            best[k] = min(best[k], time.process_time() - start)
    return best


def sentences(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(8, 30)))) + "." for _ in range(n)]


def bench_bootstrap(repeats: int) -> list[list[str]]:
    rng = np.random.default_rng(0)
    continuous = rng.random(10_000)
    binary = (rng.random(10_000) < 0.7).astype(float)
    ids = [f"i{k}" for k in range(10_000)]
    a = metrics.mean_score(continuous, ids, name="m", n_resamples=1)
    b = metrics.mean_score(np.clip(continuous + rng.normal(0, 0.1, 10_000), 0, 1), ids, name="m", n_resamples=1)
    times = best_of(
        repeats,
        lambda: bootstrap_ci(continuous),
        lambda: bootstrap_ci(binary),
        lambda: paired_comparison(a, b),
    )
    return [
        ["bootstrap_ci, 10k continuous items x 10k resamples", f"{times[0]:.3f}", "< 1 s", _ok(times[0] < 1)],
        ["bootstrap_ci, 10k binary items x 10k resamples", f"{times[1]:.3f}", "< 1 s", _ok(times[1] < 1)],
        ["paired_comparison (bootstrap + Wilcoxon), 10k items", f"{times[2]:.3f}", "-", ""],
    ]


def _ok(passed: bool) -> str:
    return "ok" if passed else "SLOW"


def bench_wrappers(repeats: int) -> list[list[str]]:
    import sacrebleu
    from rouge_score import rouge_scorer
    from sklearn import metrics as sk

    preds, refs = sentences(2000, 1), sentences(2000, 2)
    ids = [f"s{k}" for k in range(2000)]
    pairs = list(zip(preds, refs, strict=True))

    def rouge_library() -> Any:
        scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
        return [scorer.score(r, p) for p, r in pairs]

    def sacrebleu_library(corpus: Callable, sentence: Callable) -> Callable[[], Any]:
        return lambda: (corpus(preds, [refs]), [sentence(p, [r]) for p, r in pairs])

    rng = np.random.default_rng(3)
    labels = ["indemnity", "termination", "confidentiality", "payment", "governing_law", "assignment"]
    truth = rng.choice(labels, size=100_000).tolist()
    guess = [t if rng.random() < 0.7 else str(rng.choice(labels)) for t in truth]
    label_ids = [f"c{k}" for k in range(100_000)]

    def sklearn_library(scorer: Callable, **options: Any) -> Callable[[], Any]:
        def run() -> Any:
            value = scorer(truth, guess, **options)
            per_class = sk.precision_recall_fscore_support(truth, guess, average=None, zero_division=0.0)
            return value, per_class, sk.confusion_matrix(truth, guess)

        return run

    cases: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        ("rouge-score rougeL (stemmed), 2k pairs", rouge_library, lambda: metrics.rouge(preds, refs, ids)),
        (
            "sacrebleu BLEU, 2k sentences",
            sacrebleu_library(sacrebleu.corpus_bleu, sacrebleu.sentence_bleu),
            lambda: metrics.bleu(preds, refs, ids),
        ),
        (
            "sacrebleu chrF, 2k sentences",
            sacrebleu_library(sacrebleu.corpus_chrf, sacrebleu.sentence_chrf),
            lambda: metrics.chrf(preds, refs, ids),
        ),
        (
            "sacrebleu TER, 2k sentences",
            sacrebleu_library(sacrebleu.corpus_ter, sacrebleu.sentence_ter),
            lambda: metrics.ter(preds, refs, ids),
        ),
        (
            "sklearn accuracy, 100k labels",
            sklearn_library(sk.accuracy_score),
            lambda: metrics.accuracy(guess, truth, label_ids),
        ),
        (
            "sklearn macro F1, 100k labels",
            sklearn_library(sk.f1_score, average="macro", zero_division=0.0),
            lambda: metrics.f1(guess, truth, label_ids),
        ),
    ]
    rows = []
    for label, library, wrapper in cases:
        result = wrapper()
        per_item = np.asarray(list(result.per_item.values()))
        stats = result.details.get("item_stats")
        if stats:
            from harness.metrics.corpus import statistic_from_spec

            additive, finish = statistic_from_spec(result.details["statistic"])
            stored = np.asarray(stats["columns"], dtype=float).T
            ci_only = lambda stored=stored, finish=finish, additive=additive: bootstrap_ci(  # noqa: E731
                stored, finish, transform=additive
            )
        else:
            ci_only = lambda per_item=per_item: bootstrap_ci(per_item)  # noqa: E731
        t_library, t_wrapper, t_ci = best_of(repeats, library, wrapper, ci_only)
        overhead = t_wrapper / t_library - 1
        wrapping = (t_wrapper - t_ci) / t_library - 1  # the CI is timed against its own budget in (a)
        rows.append(
            [
                label,
                f"{t_library:.3f}",
                f"{t_wrapper:.3f}",
                f"{overhead:+.1%}",
                f"{t_ci:.3f}",
                f"{wrapping:+.1%}",
                _ok(wrapping < 0.05),
            ]
        )
    return rows


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds per timing; the best is reported")
    args = parser.parse_args()
    print("(a) bootstrap")
    print(table(["what", "seconds", "target", ""], bench_bootstrap(args.repeats)))
    print()
    print("(b) wrapper vs library on the same inputs (seconds)")
    header = ["metric", "library", "wrapper", "overhead", "CI", "overhead w/o CI", "w/o CI < 5%"]
    print(table(header, bench_wrappers(args.repeats)))


if __name__ == "__main__":
    main()
