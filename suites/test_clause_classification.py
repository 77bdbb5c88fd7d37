"""Domain skill: does the fine-tune classify contract clauses better than its base?"""

from __future__ import annotations

from harness import metrics
from harness.scoring import multiple_choice


def test_clause_accuracy(model, clauses, record_metric):
    picks = multiple_choice(model, clauses)
    result = metrics.accuracy(picks.picks, picks.answers, picks.ids, name="clause_accuracy")
    record_metric(result, eval_set=clauses, floor=0.5, max_drop_vs_promoted=0.05, alpha=0.05)


def test_clause_accuracy_on_unseen_templates(model, clauses, record_metric):
    unseen = clauses.where(category="unseen_template")
    picks = multiple_choice(model, unseen)
    result = metrics.accuracy(picks.picks, picks.answers, picks.ids, name="clause_accuracy_unseen_templates")
    record_metric(result, eval_set=clauses)


def test_clause_macro_f1(model, clauses, record_metric):
    picks = multiple_choice(model, clauses)
    result = metrics.f1(picks.picks, picks.answers, picks.ids, average="macro", name="clause_macro_f1")
    record_metric(result, eval_set=clauses, floor=0.4, max_drop_vs_promoted=0.05, alpha=0.05)
