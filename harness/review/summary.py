"""Everything a review says, computed from the database: completeness, pass rates, A/B outcome, agreement."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.review.rubric import Criterion
from harness.review.stats import (
    Rate,
    SignTest,
    alpha_undefined_reason,
    cohen_kappa,
    krippendorff_alpha,
    sign_test,
    weighted_rate,
)
from harness.review.store import Comparison, Rating, ReviewMeta, ReviewStore, StoredItem

OVERALL = "overall"
WIN_SCORE = {"tuned": 1.0, "base": 0.0, "tie": 0.5, "both_bad": 0.5}
BLINDING = (
    "A/B sides are drawn per reviewer and pair, from HMAC-SHA256 of the item and its pair under the reviewer's own "
    "secret random key, kept in the review database and never sent to a page; a reviewer is not shown a pair whose "
    "tuned answer they rated on its own; the pages name no model"
)


@dataclass(frozen=True)
class Agreement:
    """Inter-rater agreement on one criterion: kappa for exactly two reviewers, alpha for any number."""

    reviewers: int
    items: int  # items rated by at least two reviewers
    kappa: float | None
    alpha: float
    note: str = ""  # why alpha is undefined (NaN), in words


@dataclass(frozen=True)
class CriterionSummary:
    """Pass rate and agreement of one criterion (OVERALL: every gated criterion passes)."""

    name: str
    gated: bool
    rate: Rate
    agreement: Agreement


@dataclass(frozen=True)
class ABSummary:
    """Blind A/B outcome: counts per verdict, tuned's weighted win rate (ties as half) and the sign test."""

    compared: int  # disagreeing items with at least one comparison
    needed: int  # disagreeing items, each needing min_reviews comparisons
    complete: int
    identical: int  # items where the normalised answers match: ties without asking anyone
    counts: dict[str, int]
    win_rate: Rate
    test: SignTest
    agreement: Agreement
    per_item: dict[str, float] = field(default_factory=dict)
    reviews_per_item: tuple[int, ...] = ()  # distinct reviewers who compared each disagreeing pair


@dataclass(frozen=True)
class ReviewerActivity:
    """What one reviewer did, for spotting ratings nobody can have thought about."""

    name: str
    ratings: int
    comparisons: int
    score_sets: int  # distinct sets of rubric scores they gave
    choices: tuple[str, ...]  # distinct A/B choices they made
    median_seconds: float | None  # median time between consecutive submissions (None with fewer than two)


@dataclass(frozen=True)
class ReviewSummary:
    """The state of a review, ready for the report and the gate."""

    meta: ReviewMeta
    items: int
    rated_complete: int
    reviewers: tuple[str, ...]
    criteria: tuple[CriterionSummary, ...]
    ab: ABSummary | None
    per_item: dict[str, float]  # item -> share of its reviewers who passed it (overall)
    stale_ratings: int
    reviews_per_item: tuple[int, ...] = ()  # distinct reviewers who rated each sampled answer
    activity: tuple[ReviewerActivity, ...] = ()
    revoked: tuple[int, int] = (0, 0)  # ratings and A/B choices of revoked reviewers: kept, not counted
    blinding: str = BLINDING

    @property
    def overall(self) -> CriterionSummary:
        return next(c for c in self.criteria if c.name == OVERALL)

    @property
    def complete(self) -> bool:
        """Every sampled item has min_reviews ratings, and every disagreement min_reviews comparisons."""
        ab_done = self.ab is None or self.ab.complete == self.ab.needed
        return self.rated_complete == self.items and ab_done


def item_key(eval_set: str, item_id: str) -> str:
    return f"{eval_set}/{item_id}"


def summarise(store: ReviewStore, confidence: float = 0.95) -> ReviewSummary:
    """Compute the summary of the review in `store` (current ratings only)."""
    meta = store.meta()
    items = store.items()
    strata = store.strata()
    weight = {name: population / sampled if sampled else 0.0 for name, (population, sampled) in strata.items()}
    ratings = store.ratings()
    by_item: dict[tuple[str, str], list[Rating]] = {}
    for rating in ratings:
        by_item.setdefault((rating.eval_set, rating.item_id), []).append(rating)
    comparisons = store.comparisons()
    reviewers = tuple(sorted({r.reviewer for r in ratings}))
    criteria = [_criterion(c, items, by_item, reviewers, weight, confidence) for c in meta.rubric.criteria]
    overall_scores, overall_weights, per_item = [], [], {}
    for item in items:
        rated = by_item.get(item.key, [])
        if rated:
            score = float(np.mean([meta.rubric.passes(r.scores) for r in rated]))
            overall_scores.append(score)
            overall_weights.append(weight[item.stratum])
            per_item[item_key(*item.key)] = score
    overall_values = {
        r.reviewer: {} for r in ratings
    }  # reviewer -> item -> 1.0 pass / 0.0 fail, for the agreement on the overall verdict
    for r in ratings:
        overall_values[r.reviewer][(r.eval_set, r.item_id)] = float(meta.rubric.passes(r.scores))
    criteria.append(
        CriterionSummary(
            OVERALL,
            True,
            weighted_rate(overall_scores, overall_weights, confidence),
            _agreement(overall_values, items, reviewers, ordinal=False, domain=(0.0, 1.0)),
        )
    )
    reviews_per_item = tuple(len({r.reviewer for r in by_item.get(item.key, [])}) for item in items)
    revoked = store.revoked_counts()
    return ReviewSummary(
        meta=meta,
        items=len(items),
        rated_complete=sum(count >= meta.min_reviews for count in reviews_per_item),
        reviewers=tuple(sorted(set(reviewers) | {c.reviewer for c in comparisons})),
        criteria=tuple(criteria),
        ab=_ab(comparisons, items, weight, meta.min_reviews, confidence),
        per_item=per_item,
        stale_ratings=store.count("ratings") - len(ratings) - revoked[0],
        reviews_per_item=reviews_per_item,
        activity=activity(ratings, comparisons),
        revoked=revoked,
    )


def activity(ratings: Sequence[Rating], comparisons: Sequence[Comparison]) -> tuple[ReviewerActivity, ...]:
    """Per reviewer: how many reviews, how varied, and how fast (median gap between consecutive submissions)."""
    names = sorted({r.reviewer for r in ratings} | {c.reviewer for c in comparisons})
    result = []
    for name in names:
        mine = [r for r in ratings if r.reviewer == name]
        choices = [c for c in comparisons if c.reviewer == name]
        times = sorted(_moment(x.created_at) for x in [*mine, *choices])
        gaps = [(later - earlier).total_seconds() for earlier, later in zip(times, times[1:], strict=False)]
        result.append(
            ReviewerActivity(
                name,
                len(mine),
                len(choices),
                len({json.dumps(r.scores, sort_keys=True) for r in mine}),
                tuple(sorted({c.choice for c in choices})),
                float(np.median(gaps)) if gaps else None,
            )
        )
    return tuple(result)


def _moment(created_at: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(created_at)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _criterion(
    criterion: Criterion,
    items: Sequence[StoredItem],
    by_item: dict[tuple[str, str], list[Rating]],
    reviewers: tuple[str, ...],
    weight: dict[str, float],
    confidence: float,
) -> CriterionSummary:
    scores, weights = [], []
    values: dict[str, dict[tuple[str, str], float]] = {reviewer: {} for reviewer in reviewers}
    for item in items:
        rated = by_item.get(item.key, [])
        if not rated:
            continue
        scores.append(float(np.mean([criterion.passes(r.scores[criterion.name]) for r in rated])))
        weights.append(weight[item.stratum])
        for r in rated:
            values[r.reviewer][item.key] = criterion.numeric(r.scores[criterion.name])
    domain = tuple(criterion.numeric(option) for option in criterion.options)
    return CriterionSummary(
        criterion.name,
        criterion.gated,
        weighted_rate(scores, weights, confidence),
        _agreement(values, items, reviewers, ordinal=criterion.ordinal, domain=domain),
    )


def _agreement(
    values: dict[str, dict[tuple[str, str], float]],
    items: Sequence[StoredItem],
    reviewers: Sequence[str],
    *,
    ordinal: bool,
    domain: Sequence[float],
) -> Agreement:
    matrix = np.full((len(reviewers), len(items)), np.nan)
    for row, reviewer in enumerate(reviewers):
        for column, item in enumerate(items):
            matrix[row, column] = values.get(reviewer, {}).get(item.key, np.nan)
    pairable = int(((~np.isnan(matrix)).sum(axis=0) >= 2).sum())
    kappa = None
    if len(reviewers) == 2:
        both = ~np.isnan(matrix).any(axis=0)
        kappa = cohen_kappa(matrix[0, both], matrix[1, both], ordinal=ordinal) if both.any() else float("nan")
    alpha = krippendorff_alpha(matrix, ordinal=ordinal, domain=domain)
    note = alpha_undefined_reason(matrix) if math.isnan(alpha) else ""
    return Agreement(len(reviewers), pairable, kappa, alpha, note)


def _ab(
    comparisons: Sequence[Comparison],
    items: Sequence[StoredItem],
    weight: dict[str, float],
    min_reviews: int,
    confidence: float,
) -> ABSummary | None:
    paired = [item for item in items if item.pair_hash is not None]
    if not paired:
        return None
    by_item: dict[tuple[str, str], list[Comparison]] = {}
    for comparison in comparisons:
        by_item.setdefault((comparison.eval_set, comparison.item_id), []).append(comparison)
    counts = dict.fromkeys(WIN_SCORE, 0)
    scores, weights, per_item = [], [], {}
    wins = losses = 0
    for item in paired:
        if not item.disagree:
            score = 0.5
        elif chosen := by_item.get(item.key):
            for comparison in chosen:
                counts[comparison.winner] += 1
            score = float(np.mean([WIN_SCORE[c.winner] for c in chosen]))
            wins, losses = wins + (score > 0.5), losses + (score < 0.5)
        else:
            continue
        scores.append(score)
        weights.append(weight[item.stratum])
        per_item[item_key(*item.key)] = score
    disagreeing = [item for item in paired if item.disagree]
    reviewers = tuple(sorted({c.reviewer for c in comparisons}))
    labels = tuple(WIN_SCORE)
    values = {
        reviewer: {
            (c.eval_set, c.item_id): float(labels.index(c.winner)) for c in comparisons if c.reviewer == reviewer
        }
        for reviewer in reviewers
    }
    return ABSummary(
        compared=sum(1 for item in disagreeing if item.key in by_item),
        needed=len(disagreeing),
        complete=sum(1 for item in disagreeing if len(by_item.get(item.key, [])) >= min_reviews),
        identical=len(paired) - len(disagreeing),
        counts=counts,
        win_rate=weighted_rate(scores, weights, confidence),
        test=sign_test(wins, losses),
        agreement=_agreement(values, disagreeing, reviewers, ordinal=False, domain=range(len(labels))),
        per_item=per_item,
        reviews_per_item=tuple(len({c.reviewer for c in by_item.get(item.key, [])}) for item in disagreeing),
    )
