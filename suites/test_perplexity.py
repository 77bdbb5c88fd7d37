"""Domain fit and general fluency: perplexity on held-out contract prose and general text."""

from __future__ import annotations

from harness import metrics
from harness.scoring import rolling_loglikelihoods


def perplexity(model, texts, name):
    return metrics.perplexity(rolling_loglikelihoods(model, texts["text"]), texts["text"], texts.ids, name=name)


def test_domain_perplexity(model, heldout_domain, record_metric):
    record_metric(perplexity(model, heldout_domain, "domain_perplexity"), eval_set=heldout_domain)


def test_general_perplexity(model, heldout_general, record_metric):
    record_metric(
        perplexity(model, heldout_general, "general_perplexity"), eval_set=heldout_general, max_drop_vs_base="25%"
    )
