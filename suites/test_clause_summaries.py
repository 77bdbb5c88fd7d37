"""Generation quality on clause summaries: ROUGE and BLEU against reference summaries."""

from __future__ import annotations

from harness import metrics
from harness.scoring import answers


def test_summary_rouge_l(model, clause_summaries, summary_decoding, record_metric):
    out = answers(model, clause_summaries, summary_decoding)
    result = metrics.rouge(out.texts, out.references, out.ids, kind="rougeL", name="summary_rougeL")
    record_metric(
        result,
        eval_set=clause_summaries,
        decoding=summary_decoding,
        outputs=out,
        max_drop_vs_promoted=0.05,
        alpha=0.05,
    )


def test_summary_bleu(model, clause_summaries, summary_decoding, record_metric):
    out = answers(model, clause_summaries, summary_decoding)
    result = metrics.bleu(out.texts, out.references, out.ids, name="summary_bleu")
    record_metric(result, eval_set=clause_summaries, decoding=summary_decoding)
