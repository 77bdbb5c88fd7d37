"""Out-of-domain records: further from the spec's example texts than the examples are from each other.

TF-IDF by default, sentence embeddings optional; the cutoff is calibrated on the examples unless the spec sets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from harness.dataquality.findings import NOTE, Finding
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec

MIN_CALIBRATION_EXAMPLES = 3  # fewer examples: the fixed cutoff below
FIXED_MIN_SIMILARITY = {"tfidf": 0.1, "embeddings": 0.3}
BATCH = 2048  # texts scored per step of the progress bar


def _batches(n: int, size: int, desc: str, progress: bool) -> Iterable[slice]:
    from tqdm import tqdm

    steps = range(0, n, size)
    for lo in tqdm(steps, desc=desc, unit="batch", disable=not progress, leave=False):
        yield slice(lo, min(lo + size, n))


def tfidf_similarity(
    texts: Sequence[str], examples: Sequence[str], fit_sample: int = 20000, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of each text to the centroid of the examples, in character 3-5-gram TF-IDF space,
    and of each example to the centroid of the other examples (leave-one-out), for calibration.

    Character n-grams match inflections (pay, payable, payment) that a handful of examples cannot all spell out;
    the weights are fitted on the examples and a seeded sample of the texts.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    rng = np.random.default_rng(0)
    sample = [texts[i] for i in sorted(rng.choice(len(texts), min(fit_sample, len(texts)), replace=False))]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32)
    vectorizer.fit([*examples, *sample])
    reference = vectorizer.transform(examples)
    centroid = normalize(np.asarray(reference.mean(axis=0)))
    total = np.asarray(reference.sum(axis=0))
    held_out = np.array(
        [float((reference[i] @ normalize(total - reference[i].toarray()).T).item()) for i in range(reference.shape[0])]
    )
    scores = [
        np.asarray(vectorizer.transform(texts[part]) @ centroid.T).ravel()
        for part in _batches(len(texts), BATCH, "domain: tf-idf", progress)
    ]
    return (np.concatenate(scores) if scores else np.zeros(0)), held_out


def embedding_similarity(
    texts: Sequence[str], examples: Sequence[str], batch_size: int = 64, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Highest cosine similarity to any example in all-MiniLM-L6-v2 embeddings (`harness.text.embeddings`),
    and each example's highest similarity to the other examples (leave-one-out), for calibration."""
    from harness.text.embeddings import embed, require_model

    feature, instead = "domain.method: embeddings", "use method: tfidf"
    require_model(feature, instead=instead)
    reference = embed(examples, feature=feature, batch_size=batch_size)
    among = reference @ reference.T
    np.fill_diagonal(among, -1.0)
    held_out = among.max(axis=1)
    scores = [
        (embed(texts[part], feature=feature, batch_size=batch_size) @ reference.T).max(axis=1)
        for part in _batches(len(texts), batch_size, "domain: embeddings", progress)
    ]
    return (np.concatenate(scores) if scores else np.zeros(0)), held_out


def scored_text(record: TrainingRecord, field: str) -> str:
    """The part of a record that is compared with the examples: its prompt, its output, or all of its text."""
    return {"prompt": record.prompt, "output": record.output}.get(field, record.text)


def check_domain(records: Sequence[TrainingRecord], spec: DataSpec, progress: bool = False) -> list[Finding]:
    """An error for each record less similar to the spec's examples than the cutoff.

    Without domain.min_similarity, the cutoff is the `percentile` of the examples' own leave-one-out similarity:
    a record is off-domain when it is further from the examples than (nearly) every example is from the others.
    """
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
    texts = [scored_text(r, rule.field) for r in records]
    if rule.method == "embeddings":
        scores, held_out = embedding_similarity(texts, rule.examples, progress=progress)
    else:
        scores, held_out = tfidf_similarity(texts, rule.examples, progress=progress)
    if rule.min_similarity is not None:
        threshold, how = rule.min_similarity, "domain.min_similarity"
    elif len(rule.examples) < MIN_CALIBRATION_EXAMPLES:
        threshold = FIXED_MIN_SIMILARITY[rule.method]
        how = f"fixed: calibration needs {MIN_CALIBRATION_EXAMPLES} examples"
    else:
        threshold = float(np.percentile(held_out, rule.percentile))
        how = f"percentile {rule.percentile:g} of the examples' leave-one-out similarity"
    return [
        Finding(
            "off_domain",
            spec.severity["off_domain"],
            f"{rule.field} far from the spec's example texts ({rule.method} similarity {score:.2f} < "
            f"{threshold:.2f}, {how}): {text[:60]!r}",
            "drop it if it is off-topic; if it belongs, add a similar text to domain.examples",
            r.file,
            r.line,
            r.id,
            details={"similarity": round(float(score), 4), "cutoff": round(threshold, 4), "field": rule.field},
        )
        for r, text, score in zip(records, texts, scores, strict=True)
        if score < threshold
    ]
