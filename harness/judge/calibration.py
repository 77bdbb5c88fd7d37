"""Calibrating the judge by the human review: agreement, and prediction-powered inference (PPI).

The judge grades every answer; reviewers rate a subset. PPI (Angelopoulos et al., Science 2023) estimates
the human pass rate as the judge's rate on all answers plus the mean human-minus-judge difference on the
reviewed ones: unbiased whatever the judge's bias, with a valid interval that is narrower than the
reviewed subset's own when the judge agrees with the reviewers. The estimate and interval come from the
`ppi_python` package: classic PPI (lam = 1) with the judge's grades on all answers as its unlabelled set.
PPI++ power tuning (lam fitted to the data) was measured and left out: in bench/bench_judge.py's simulation it gave
narrower intervals but covered a base-vs-tuned difference only 88% of the time with 100 reviewed answers.

For the gate, the same estimate is a mean of per-item pseudo-outcomes, judge + (N/n)·(human − judge) on a
reviewed answer and the judge's grade elsewhere, so paired base-vs-tuned tests run on them unchanged.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.review.items import output_hash
from harness.review.rubric import Criterion, Rubric
from harness.review.store import WINNERS

JUDGE_ONLY, HUMAN_ONLY, CALIBRATED = "judge only", "human only", "calibrated (PPI)"
MIN_KAPPA = 0.4  # below it, a judge may not gate on its own
# What a human A/B choice says about "tuned is better": ties and both-bad count half, as in the pairwise score.
WINNER_SCORE = {"tuned": 1.0, "base": 0.0, "tie": 0.5, "both_bad": 0.5}


@dataclass(frozen=True)
class Estimate:
    """A mean with its confidence interval, and what it was computed from."""

    kind: str
    value: float
    ci: tuple[float, float]
    n_judged: int
    n_human: int

    def format(self, digits: int = 3) -> str:
        return f"{self.value:.{digits}f} [{self.ci[0]:.{digits}f}, {self.ci[1]:.{digits}f}]"

    def as_dict(self) -> dict[str, Any]:
        fields = {"estimate": self.kind, "value": self.value, "ci": list(self.ci), "judged": self.n_judged}
        return fields | {"human": self.n_human}


def _arrays(*columns: Sequence[float]) -> list[np.ndarray]:
    arrays = [np.asarray(column, dtype=np.float64) for column in columns]
    for array in arrays:
        if not np.all(np.isfinite(array)):
            raise HarnessError("calibration needs finite scores (pass = 1, fail = 0)")
    return arrays


def ppi_mean(
    human: Sequence[float],
    judge_on_human: Sequence[float],
    judge_all: Sequence[float],
    alpha: float = 0.05,
    weights: Sequence[float] | None = None,
) -> Estimate:
    """The PPI estimate of the human mean: `judge_all` grades every item, `human`/`judge_on_human` the reviewed.

    `weights` (one per reviewed item, e.g. population / sampled of its stratum) undo a stratified sample.
    """
    from ppi_py import ppi_mean_ci, ppi_mean_pointestimate

    y, yhat, yhat_all = _arrays(human, judge_on_human, judge_all)
    if y.size != yhat.size:
        raise HarnessError(f"calibration: {y.size} human labels but {yhat.size} judge grades of the same answers")
    if y.size < 2 or yhat_all.size < y.size:
        raise HarnessError(
            f"calibration needs at least 2 reviewed answers among the judged ones ({y.size} of {yhat_all.size})"
        )
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    value = float(np.ravel(ppi_mean_pointestimate(y, yhat, yhat_all, lam=1, w=w))[0])
    lo, hi = ppi_mean_ci(y, yhat, yhat_all, alpha=alpha, lam=1, w=w)
    return Estimate(CALIBRATED, value, (float(np.ravel(lo)[0]), float(np.ravel(hi)[0])), yhat_all.size, y.size)


def human_mean(human: Sequence[float], alpha: float = 0.05, weights: Sequence[float] | None = None) -> Estimate:
    """The reviewed items' own (weighted) mean with its CLT interval (what the review alone says)."""
    from ppi_py import classical_mean_ci

    (y,) = _arrays(human)
    if y.size < 2:
        raise HarnessError(f"a human-only estimate needs at least 2 reviewed answers, got {y.size}")
    w = np.ones(y.size) if weights is None else np.asarray(weights, dtype=np.float64)
    lo, hi = classical_mean_ci(y, w=w, alpha=alpha)
    value = float(np.average(y, weights=w))
    return Estimate(HUMAN_ONLY, value, (float(np.ravel(lo)[0]), float(np.ravel(hi)[0])), 0, y.size)


def judge_mean(judge_all: Sequence[float], alpha: float = 0.05) -> Estimate:
    """The judge's own mean with its CLT interval: blind to the judge's bias."""
    from ppi_py import classical_mean_ci

    (f,) = _arrays(judge_all)
    lo, hi = classical_mean_ci(f, alpha=alpha)
    return Estimate(JUDGE_ONLY, float(f.mean()), (float(np.ravel(lo)[0]), float(np.ravel(hi)[0])), f.size, 0)


def pseudo_outcomes(
    judge_all: Sequence[float], human_all: Sequence[float], weights_all: Sequence[float] | None = None
) -> np.ndarray:
    """Per-item PPI pseudo-outcomes: judge + (N/n)·w·(human - judge) where reviewed (human not NaN), else judge.

    Their mean is the PPI estimate (classic PPI, judge grades on all N items, n of them reviewed); `weights_all`
    (read where reviewed, scaled to mean 1 there) are the reviewed items' sampling weights.
    """
    f = np.asarray(judge_all, dtype=np.float64)
    y = np.asarray(human_all, dtype=np.float64)
    reviewed = ~np.isnan(y)
    n = int(reviewed.sum())
    if n == 0:
        raise HarnessError("no reviewed items to calibrate the judge with")
    w = np.ones(n) if weights_all is None else np.asarray(weights_all, dtype=np.float64)[reviewed]
    out = f.copy()
    out[reviewed] += (f.size / n) * (w / w.mean()) * (y[reviewed] - f[reviewed])
    return out


@dataclass(frozen=True)
class Agreement:
    """How the judge's pass/fail agrees with the reviewers' on the answers both graded."""

    criterion: str
    n: int
    kappa: float  # Cohen's kappa on pass/fail; NaN when undefined (one class only)
    kappa_grades: float  # on the grades themselves (quadratic weights for a scale)
    confusion: list[list[int]]  # rows: human pass, fail; columns: judge pass, fail

    def allows_gating(self, min_kappa: float = MIN_KAPPA) -> bool:
        return not math.isnan(self.kappa) and self.kappa >= min_kappa

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "kappa": None if math.isnan(self.kappa) else round(self.kappa, 4),
            "kappa_grades": None if math.isnan(self.kappa_grades) else round(self.kappa_grades, 4),
            "confusion_human_rows_judge_columns": {"labels": ["pass", "fail"], "counts": self.confusion},
        }


def agreement(criterion: Criterion, pairs: Iterable[tuple[str, str]]) -> Agreement:
    """Judge-human agreement from (judge grade, human grade) pairs, one per human rating."""
    from sklearn.metrics import confusion_matrix

    from harness.review.stats import cohen_kappa

    pairs = list(pairs)
    judge_pass = [float(criterion.passes(j)) for j, _ in pairs]
    human_pass = [float(criterion.passes(h)) for _, h in pairs]
    counts = confusion_matrix(human_pass, judge_pass, labels=[1.0, 0.0]).tolist() if pairs else [[0, 0], [0, 0]]
    return Agreement(
        criterion.name,
        len(pairs),
        cohen_kappa(human_pass, judge_pass, ordinal=False),
        cohen_kappa(
            [criterion.numeric(h) for _, h in pairs],
            [criterion.numeric(j) for j, _ in pairs],
            ordinal=criterion.ordinal,
        ),
        [[int(c) for c in row] for row in counts],
    )


@dataclass
class HumanLabels:
    """Reviewers' ratings (per answer) and A/B choices (per answer pair) under the judge's rubric."""

    source: str
    ratings: dict[tuple[str, str, str], list[dict[str, str]]] = field(default_factory=dict)
    winners: dict[tuple[str, str, str], list[str]] = field(default_factory=dict)
    weights: dict[tuple[str, str], float] = field(default_factory=dict)  # (eval set, item) -> sampling weight

    def weight(self, eval_set: str, item_id: str) -> float:
        """The item's sampling weight: population / sampled of its review stratum (1 when not stratified)."""
        return self.weights.get((eval_set, item_id), 1.0)

    def __bool__(self) -> bool:
        return bool(self.ratings or self.winners)

    def scores_for(self, eval_set: str, item_id: str, prompt: str, answer: str) -> list[dict[str, str]]:
        """The ratings of exactly this answer (a rating of another answer to the same item does not count)."""
        return self.ratings.get((eval_set, item_id, output_hash(prompt, answer)), [])

    def winners_for(self, eval_set: str, item_id: str, prompt: str, tuned: str, base: str) -> list[str]:
        return self.winners.get((eval_set, item_id, output_hash(prompt, tuned, base)), [])


def _collect(
    source: str, rubric: Rubric, ratings: Iterable[Any], comparisons: Iterable[Any], weights: dict | None = None
) -> HumanLabels:
    labels = HumanLabels(source, defaultdict(list), defaultdict(list), dict(weights or {}))
    for rating in ratings:
        if rating.rubric_version == rubric.version:
            labels.ratings[(rating.eval_set, rating.item_id, rating.output_hash)].append(dict(rating.scores))
    for comparison in comparisons:
        labels.winners[(comparison.eval_set, comparison.item_id, comparison.pair_hash)].append(comparison.winner)
    labels.ratings, labels.winners = dict(labels.ratings), dict(labels.winners)
    return labels


def labels_from_review_db(path: str | Path, rubric: Rubric) -> HumanLabels:
    """Ratings and A/B choices that count (active reviewers), rated under `rubric` (same version), with each
    item's stratum weight (the review oversamples items where base and tuned disagree)."""
    from harness.review.store import ReviewStore

    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: no such review database", hint="pass --review-db PATH, or leave it out")
    store = ReviewStore(path)
    try:
        active = {r.name for r in store.reviewers() if r.active}
        ratings = [r for r in store.ratings(current_only=False) if r.reviewer in active]
        comparisons = [c for c in store.comparisons(current_only=False) if c.reviewer in active]
        strata = {name: population / sampled for name, (population, sampled) in store.strata().items() if sampled}
        weights = {item.key: strata.get(item.stratum, 1.0) for item in store.items()}
    finally:
        store.close()
    return _collect(str(path), rubric, ratings, comparisons, weights)


def labels_from_export(path: str | Path, rubric: Rubric) -> HumanLabels:
    """Ratings and A/B choices of a `harness review export` file (JSONL or CSV), checked row by row."""
    from harness.review.exchange import read_rows
    from harness.review.store import Comparison, Rating

    path = Path(path)
    ratings, comparisons = [], []
    for line, row in read_rows(path):
        where = f"{path}:{line}"
        kind = row.get("kind")
        fields = ("eval_set", "item_id", "reviewer")
        missing = [f for f in (*fields, "output_hash" if kind == "rating" else "pair_hash") if not row.get(f)]
        if kind not in ("rating", "comparison") or missing:
            problem = f"field {missing[0]!r} is missing" if missing else f"field 'kind' is {kind!r}"
            raise HarnessError(f"{where}: {problem}", hint="use a file written by `harness review export`")
        common = [str(row[f]) for f in fields] + [str(row.get("created_at", ""))]
        if kind == "rating":
            version = str(row.get("rubric_version", ""))
            scores = row.get("scores")
            if version == rubric.version:
                try:
                    scores = rubric.check_scores(scores if isinstance(scores, dict) else {})
                except HarnessError as exc:
                    raise HarnessError(f"{where}: {exc}") from None
            ratings.append(Rating(*common, version, str(row["output_hash"]), scores or {}))
        else:
            winner = str(row.get("winner", ""))
            if winner not in WINNERS:
                raise HarnessError(f"{where}: winner {winner!r} is not one of {', '.join(WINNERS)}")
            comparisons.append(Comparison(*common, str(row["pair_hash"]), str(row.get("choice", "")), winner))
    return _collect(str(path), rubric, ratings, comparisons)
