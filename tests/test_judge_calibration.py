"""Calibration of the judge by human ratings: PPI against its formula and by simulation, agreement, labels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from harness.errors import HarnessError
from harness.judge.assess import RunAnswers, assess_criterion
from harness.judge.calibration import (
    CALIBRATED,
    HumanLabels,
    agreement,
    human_mean,
    judge_mean,
    labels_from_export,
    ppi_mean,
    pseudo_outcomes,
)
from harness.judge.grader import Grade
from harness.review.items import output_hash
from harness.review.rubric import load_rubric

RUBRIC = load_rubric("fixtures/review/rubric.yaml")


def simulate(rng: np.random.Generator, n_judged: int, n_human: int, p: float, sensitivity: float, false_pass: float):
    """True pass/fail of every answer, a biased noisy judge of each, and a random reviewed subset."""
    truth = (rng.random(n_judged) < p).astype(float)
    judge = np.where(truth == 1, rng.random(n_judged) < sensitivity, rng.random(n_judged) < false_pass).astype(float)
    reviewed = rng.choice(n_judged, size=n_human, replace=False)
    return truth, judge, reviewed


binary = st.lists(st.sampled_from([0.0, 1.0]), min_size=3, max_size=40)


@settings(max_examples=60, deadline=None)
@given(binary, binary, st.lists(st.sampled_from([0.0, 1.0]), min_size=40, max_size=200))
def test_ppi_matches_the_published_estimator(human, judge_on_human, rest):
    """Classic PPI: judge mean on all + mean human-minus-judge, CI +-z*sqrt(var(f)/N + var(y-f)/n)."""
    n = min(len(human), len(judge_on_human))
    y, f = np.array(human[:n]), np.array(judge_on_human[:n])
    f_all = np.concatenate([f, rest])
    estimate = ppi_mean(y, f, f_all, alpha=0.05)
    point = f_all.mean() + (y - f).mean()
    half = norm.ppf(0.975) * np.sqrt(f_all.var() / f_all.size + (y - f).var() / n)
    assert estimate.value == pytest.approx(point)
    assert estimate.ci == pytest.approx((point - half, point + half))
    assert (estimate.n_judged, estimate.n_human) == (f_all.size, n)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 1.0]), st.sampled_from([0.0, 1.0, None]), st.sampled_from([1.0, 2.5, 7.0])),
        min_size=3,
        max_size=80,
    )
)
def test_the_mean_of_the_pseudo_outcomes_is_the_ppi_estimate(rows):
    """Also with stratum weights on the reviewed items (ppi_python's weighted estimator)."""
    judge = np.array([f for f, _, _ in rows])
    human = np.array([np.nan if y is None else y for _, y, _ in rows])
    weights = np.array([w for _, _, w in rows])
    reviewed = ~np.isnan(human)
    if reviewed.sum() < 2:
        with pytest.raises(HarnessError):
            ppi_mean(human[reviewed], judge[reviewed], judge)
        return
    plain = ppi_mean(human[reviewed], judge[reviewed], judge)
    weighted = ppi_mean(human[reviewed], judge[reviewed], judge, weights=weights[reviewed])
    assert pseudo_outcomes(judge, human).mean() == pytest.approx(plain.value)
    assert pseudo_outcomes(judge, human, weights).mean() == pytest.approx(weighted.value)
    share = np.average(human[reviewed] - judge[reviewed], weights=weights[reviewed])
    assert weighted.value == pytest.approx(judge.mean() + share)


def test_ppi_interval_covers_the_true_pass_rate_and_beats_the_human_sample_alone():
    """500 seeded replications: 2,000 judged answers, 200 reviewed, a judge that passes too much."""
    rng = np.random.default_rng(20240611)
    p, reps = 0.7, 500
    covered = {"ppi": 0, "judge": 0, "human": 0}
    widths = {"ppi": [], "human": []}
    for _ in range(reps):
        truth, judge, reviewed = simulate(rng, 2000, 200, p, sensitivity=0.95, false_pass=0.25)
        estimates = {
            "ppi": ppi_mean(truth[reviewed], judge[reviewed], judge),
            "judge": judge_mean(judge),
            "human": human_mean(truth[reviewed]),
        }
        for kind, estimate in estimates.items():
            covered[kind] += estimate.ci[0] <= p <= estimate.ci[1]
        for kind in widths:
            widths[kind].append(estimates[kind].ci[1] - estimates[kind].ci[0])
    assert 0.93 <= covered["ppi"] / reps <= 0.97
    assert 0.93 <= covered["human"] / reps <= 0.97
    assert covered["judge"] / reps < 0.2  # the judge alone is confidently wrong
    assert np.mean(widths["ppi"]) < 0.85 * np.mean(widths["human"])


def test_a_useless_judge_cannot_bias_the_calibrated_estimate():
    """A judge that passes everything: PPI still centres on the truth (its interval is just wider)."""
    rng = np.random.default_rng(7)
    errors = []
    for _ in range(300):
        truth, _, reviewed = simulate(rng, 2000, 100, 0.6, 1.0, 1.0)
        judge = np.ones_like(truth)
        errors.append(ppi_mean(truth[reviewed], judge[reviewed], judge).value - 0.6)
    assert abs(np.mean(errors)) < 0.01


def test_the_pseudo_outcome_spread_gives_the_ppi_standard_error():
    """The gate's paired tests resample per-item pseudo-outcomes: their standard error is PPI's, to ~10%."""
    rng = np.random.default_rng(3)
    ratios = []
    for _ in range(50):
        truth, judge, reviewed = simulate(rng, 2000, 200, 0.7, 0.95, 0.25)
        human = np.full(truth.size, np.nan)
        human[reviewed] = truth[reviewed]
        estimate = ppi_mean(truth[reviewed], judge[reviewed], judge)
        se_ppi = (estimate.ci[1] - estimate.ci[0]) / (2 * norm.ppf(0.975))
        psi = pseudo_outcomes(judge, human)
        ratios.append(psi.std() / np.sqrt(psi.size) / se_ppi)
    assert 0.9 < np.mean(ratios) < 1.1


def test_agreement_is_cohens_kappa_on_pass_fail_with_its_confusion_matrix():
    from sklearn.metrics import cohen_kappa_score

    criterion = RUBRIC.criterion("accuracy")  # passes at 4 or 5
    pairs = [("5", "4"), ("4", "5"), ("2", "1"), ("5", "2"), ("1", "4"), ("3", "3"), ("4", "4")]
    result = agreement(criterion, pairs)
    human = [h in ("4", "5") for _, h in pairs]
    judge = [j in ("4", "5") for j, _ in pairs]
    assert result.kappa == pytest.approx(cohen_kappa_score(human, judge))
    assert result.confusion == [[3, 1], [1, 2]]  # rows human pass/fail, columns judge pass/fail
    assert result.kappa_grades == pytest.approx(
        cohen_kappa_score([int(h) for _, h in pairs], [int(j) for j, _ in pairs], weights="quadratic")
    )
    assert not agreement(criterion, [("5", "5"), ("4", "4")]).allows_gating()  # one class: kappa undefined


def _run(n: int) -> RunAnswers:
    ids = [str(i) for i in range(n)]
    return RunAnswers("clauses", ids, [f"p{i}" for i in ids], ["r"] * n, [f"b{i}" for i in ids], [f"t{i}" for i in ids])


def _labels(run: RunAnswers, roles: dict[str, dict[int, str]]) -> HumanLabels:
    """Ratings of the accuracy criterion for the given answers (role -> item index -> grade)."""
    labels = HumanLabels("test")
    for role, rated in roles.items():
        for i, grade in rated.items():
            answer = run.texts(role)[i]
            labels.ratings[(run.eval_set, run.ids[i], output_hash(run.prompts[i], answer))] = [{"accuracy": grade}]
    return labels


def test_with_both_models_reviewed_the_gate_compares_calibrated_pass_rates():
    run = _run(40)
    grades = {role: [Grade("5")] * 40 for role in ("base", "tuned")}  # the judge passes everything
    truth = {role: {i: ("5" if i % 2 else "1") for i in range(10)} for role in ("base", "tuned")}
    out = assess_criterion(
        RUBRIC.criterion("accuracy"), run, grades, _labels(run, truth), judge_name="j", max_drop=0.05, alpha=0.05
    )
    for role in ("base", "tuned"):
        result = out.named("judged_pass_accuracy", role).result
        assert result.details["estimate"] == CALIBRATED
        assert result.value == pytest.approx(0.5)  # judge 1.0, corrected by human-minus-judge -0.5
        assert np.mean(list(result.per_item.values())) == pytest.approx(result.value)
        assert out.named("judged_pass_accuracy", role).rules == {"max_drop_vs_base": 0.05, "alpha": 0.05}


def test_a_judge_that_disagrees_with_reviewers_does_not_gate_alone():
    run = _run(30)
    grades = {role: [Grade("5") if i % 3 else Grade("1") for i in range(30)] for role in ("base", "tuned")}
    # reviewers: the opposite of the judge on the 12 tuned answers they rated
    rated = {i: ("1" if grades["tuned"][i].option == "5" else "5") for i in range(12)}
    out = assess_criterion(
        RUBRIC.criterion("accuracy"), run, grades, _labels(run, {"tuned": rated}), judge_name="j", max_drop=0.05,
        alpha=0.05,
    )  # fmt: skip
    assert out.agreements["accuracy"].kappa < 0
    assert out.named("judged_pass_accuracy").rules == {}
    assert any("not gated" in note for note in out.notes)
    calibrated, human = out.named("judged_pass_accuracy_ppi"), out.named("judged_pass_accuracy_human")
    assert calibrated.result.details["estimate"] == CALIBRATED and human.result.n == 12
    assert human.result.value == pytest.approx(4 / 12)
    # the judge passes 2/3; the reviewers pass 1/3 of the rated ones: PPI moves towards them
    assert calibrated.result.value < out.named("judged_pass_accuracy").result.value


def test_a_judge_that_agrees_with_reviewers_gates_on_its_own():
    run = _run(30)
    grades = {role: [Grade("5") if i % 3 else Grade("1") for i in range(30)] for role in ("base", "tuned")}
    rated = {i: grades["tuned"][i].option for i in range(12)}
    out = assess_criterion(
        RUBRIC.criterion("accuracy"), run, grades, _labels(run, {"tuned": rated}), judge_name="j", max_drop=0.05,
        alpha=0.05,
    )  # fmt: skip
    assert out.agreements["accuracy"].kappa == 1.0
    assert out.named("judged_pass_accuracy").rules == {"max_drop_vs_base": 0.05, "alpha": 0.05}


def test_labels_from_an_export_file_and_a_bad_row_named_by_line(tmp_path):
    good = {
        "kind": "rating", "eval_set": "clauses", "item_id": "1", "reviewer": "ana", "rubric_version": RUBRIC.version,
        "output_hash": output_hash("p", "a"), "created_at": "",
        "scores": {"accuracy": "4", "factual_correctness": "pass", "coherence": "5", "tone": "neutral",
                   "guideline_adherence": "pass"},
    }  # fmt: skip
    comparison = {"kind": "comparison", "eval_set": "clauses", "item_id": "1", "reviewer": "ana",
                  "pair_hash": output_hash("p", "a", "b"), "choice": "A", "winner": "tuned"}  # fmt: skip
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(comparison) + "\n")
    labels = labels_from_export(path, RUBRIC)
    assert labels.scores_for("clauses", "1", "p", "a")[0]["accuracy"] == "4"
    assert labels.scores_for("clauses", "1", "p", "other answer") == []
    assert labels.winners_for("clauses", "1", "p", "a", "b") == ["tuned"]
    bad = dict(good, scores={**good["scores"], "accuracy": "9"})
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(HarnessError, match=r"export.jsonl:2: criterion 'accuracy': '9' is not one of"):
        labels_from_export(path, RUBRIC)


def test_labels_from_the_review_database_calibrate_the_tuned_pass_rate(tmp_path):
    from fixtures.review.build import simulate_reviews, synthetic_outputs
    from harness.judge.calibration import labels_from_review_db
    from harness.review.items import pair_outputs
    from harness.review.sampling import draw_sample
    from harness.review.store import ReviewStore

    items = [i for i in pair_outputs(synthetic_outputs(80, seed=0)) if i.eval_set == "clause_summaries"]
    store = ReviewStore(tmp_path / "review.sqlite", create=True)
    store.save_sample(draw_sample(items, seed=0, size=20), RUBRIC, min_reviews=1, seed=0)
    simulate_reviews(store, ("ana", "ben"), seed=1)
    store.revoke("ben")
    ratings = [r for r in store.ratings() if r.reviewer == "ana"]
    store.close()
    labels = labels_from_review_db(tmp_path / "review.sqlite", RUBRIC)
    run = RunAnswers(
        items[0].eval_set, [i.item_id for i in items], [i.prompt for i in items], [i.reference for i in items],
        [i.base_output or "" for i in items], [i.tuned_output for i in items],
    )  # fmt: skip
    rated = [i for i in items if labels.scores_for(i.eval_set, i.item_id, i.prompt, i.tuned_output)]
    assert len(rated) == 20 and all(len(labels.scores_for(*i.key, i.prompt, i.tuned_output)) == 1 for i in rated)
    assert len({labels.weight(*i.key) for i in rated}) > 1  # disagreements are oversampled: weights differ
    criterion = RUBRIC.criterion("guideline_adherence")
    grades = {role: [Grade("pass")] * len(items) for role in ("base", "tuned")}
    out = assess_criterion(criterion, run, grades, labels, judge_name="j", max_drop=0.05, alpha=0.05)
    human = out.named("judged_pass_guideline_adherence_human").result
    passed = np.array([r.scores["guideline_adherence"] == "pass" for r in ratings], dtype=float)
    weights = [labels.weight(r.eval_set, r.item_id) for r in ratings]
    assert 0 < passed.mean() < 1 and human.value == pytest.approx(np.average(passed, weights=weights))
    calibrated = out.named("judged_pass_guideline_adherence_ppi").result
    assert calibrated.value == pytest.approx(human.value)  # a judge that passes all adds nothing but its constant
    assert out.named("judged_pass_guideline_adherence").rules == {}  # kappa undefined: the judge may not gate
