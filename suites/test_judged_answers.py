"""Clause summaries graded by a judge model against the review rubric, calibrated by the human review.

The judge is --judge-model (a local model directory or an openai+http:// URL). Without it, a run on the demo
models is judged by demo:judge, a scripted judge (harness.demo.judge: rules, since no demo model can judge),
and a run on other models skips these tests. Judged pass rates per rubric criterion
and the pairwise win rate appear in the summary table next to ROUGE; with human ratings in the review
database (--review-db) or an export (--judge-labels), the pass rates are corrected by prediction-powered
inference and judge-human agreement is reported.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.records import BASE, TUNED

DEFAULT_RUBRIC = Path(__file__).resolve().parents[1] / "fixtures" / "review" / "rubric.yaml"
NO_JUDGE = (
    "no judge model: pass --judge-model DIR or --judge-model 'openai+http://HOST:PORT/v1?model=NAME' "
    "(only a run on the demo models gets the scripted demo:judge by default)"
)


@pytest.fixture(scope="module")
def judge(request: pytest.FixtureRequest, harness_session):
    """The judge model, loaded once, refused when it is a model under evaluation (unless allowed)."""
    from harness.demo import default_judge
    from harness.judge import Judge, check_not_self
    from harness.models.loading import LoadOptions, load_model
    from harness.review.rubric import load_rubric

    spec = request.config.getoption("--judge-model") or default_judge(harness_session.config.base_model)
    if not spec:
        pytest.skip(NO_JUDGE)
    if not request.config.getoption("--judge-model"):
        harness_session.note(
            f"judge: {spec}, the demo's scripted judge (rules, not a model; see harness/demo/judge_rules.py); "
            "pass --judge-model to judge with a real model"
        )
    model_pair = request.getfixturevalue("model_pair")  # loaded only when there is a judge
    config = harness_session.config
    rubric = load_rubric(request.config.getoption("--judge-rubric") or DEFAULT_RUBRIC)
    options = LoadOptions(
        allow_pickle=config.allow_pickle,
        trust_remote_code=config.trust_remote_code,
        allow_download=config.allow_download,
        device=config.device,
        dtype=config.dtype,
        batch_size=config.batch_size,
        cache_dir=config.harness_cache_dir,
    )
    model = load_model(spec, options, role="judge", option="--judge-model")
    notes = check_not_self(
        model,
        {BASE: model_pair.base, TUNED: model_pair.tuned},
        allow_self_judge=request.config.getoption("--allow-self-judge"),
    )
    for note in notes:
        harness_session.note(note)
    cache = None
    if not config.no_cache:
        from harness.models.cache import ResponseCache

        cache = ResponseCache(config.harness_cache_dir / "responses.sqlite")
    return Judge(model, rubric, cache=cache)


@pytest.fixture(scope="module")
def human_labels(request: pytest.FixtureRequest, harness_session, judge):
    """Reviewers' ratings to calibrate the judge: --judge-labels, else the review database when there is one."""
    from harness.judge.calibration import labels_from_export, labels_from_review_db

    export = request.config.getoption("--judge-labels")
    if export:
        return labels_from_export(export, judge.rubric)
    db = request.config.getoption("--review-db")
    path = Path(db) if db else harness_session.config.harness_cache_dir / "review.sqlite"
    return labels_from_review_db(path, judge.rubric) if path.is_file() else None


@pytest.fixture(scope="module")
def judged_summaries(request, harness_session, judge, human_labels, model_pair, clause_summaries, summary_decoding):
    """Both models' summaries, judged once per run."""
    from harness.judge.assess import RunAnswers, assess_run
    from harness.scoring import answers

    base = answers(model_pair.base, clause_summaries, summary_decoding)
    tuned = answers(model_pair.tuned, clause_summaries, summary_decoding)
    run = RunAnswers(
        clause_summaries.name,
        clause_summaries.ids,
        clause_summaries["prompt"],
        clause_summaries["reference"],
        base.texts,
        tuned.texts,
    )
    assessment = assess_run(
        judge,
        run,
        human_labels,
        max_drop=request.config.getoption("--judge-max-drop"),
        min_kappa=request.config.getoption("--judge-min-kappa"),
        min_win_rate=request.config.getoption("--judge-min-win-rate"),
    )
    for note in assessment.notes:
        harness_session.note(f"judge ({judge.method}): {note}")
    if hasattr(judge.model, "hits"):
        asked = judge.model.hits + judge.model.misses
        harness_session.note(f"judge calls: {asked:,} ({judge.model.hits:,} from the cache)")
    return assessment


def _record(assessment, prefix, record_metric, eval_set, decoding) -> None:
    for gated in assessment.metrics:
        if gated.result.name.startswith(prefix):
            record_metric(gated.result, role=gated.role, eval_set=eval_set, decoding=decoding, **gated.rules)


def test_judged_pass_rates(judged_summaries, record_metric, clause_summaries, summary_decoding):
    _record(judged_summaries, "judged_pass_", record_metric, clause_summaries, summary_decoding)


def test_judged_win_rate(judged_summaries, record_metric, clause_summaries, summary_decoding):
    _record(
        judged_summaries, ("judged_win_rate", "judged_preference"), record_metric, clause_summaries, summary_decoding
    )
