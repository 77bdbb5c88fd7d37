"""Verbosity and speed: answers must not get longer or slower than the base's."""

from __future__ import annotations

from harness import metrics
from harness.scoring import answers


def test_output_length(model, clause_summaries, summary_decoding, record_metric):
    out = answers(model, clause_summaries, summary_decoding)
    result = metrics.output_length(out.generations, out.ids, unit="tokens", name="summary_length_tokens")
    record_metric(result, eval_set=clause_summaries, decoding=summary_decoding, max_drop_vs_base="50%")


def test_latency(model, clause_summaries, summary_decoding, record_metric):
    """Seconds per answer. Recorded for the table; timings are machine-dependent, so not gated by default."""
    out = answers(model, clause_summaries, summary_decoding)
    record_metric(metrics.latency(out.generations, out.ids, name="seconds_per_summary"), eval_set=clause_summaries)
