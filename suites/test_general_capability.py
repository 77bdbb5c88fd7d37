"""Forgetting: the fine-tune must keep the general skills its base had."""

from __future__ import annotations

from harness import metrics
from harness.assertions import assert_no_regression
from harness.scoring import multiple_choice


def general_accuracy(model, probes):
    picks = multiple_choice(model, probes)
    return metrics.accuracy(picks.picks, picks.answers, picks.ids, name="general_accuracy")


def test_general_accuracy(model, general_probes, record_metric):
    record_metric(general_accuracy(model, general_probes), eval_set=general_probes, max_drop_vs_base=0.05, alpha=0.05)


def test_no_forgetting(base_model, tuned_model, general_probes):
    """Fails, in one line, unless general accuracy is shown to drop by less than 5 points."""
    assert_no_regression(
        general_accuracy(tuned_model, general_probes),
        general_accuracy(base_model, general_probes),
        max_drop=0.05,
        alpha=0.05,
    )
