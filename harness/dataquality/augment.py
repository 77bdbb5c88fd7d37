"""Augmentation: paraphrase examples with a generator model, filter every candidate, write them as `pending`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.dataquality.duplicates import exact_key
from harness.dataquality.pii import find_pii
from harness.dataquality.records import TrainingRecord
from harness.dataquality.review import PENDING, is_synthetic
from harness.dataquality.rules import check_record, length_counter
from harness.dataquality.spec import DataSpec
from harness.errors import HarnessError
from harness.models.base import DecodingSettings, Model
from harness.pretrained import load_local

NOVELTY_NEIGHBOURS = 20  # ROUGE-L is computed against the source and the most similar existing examples


@dataclass(frozen=True)
class Candidate:
    """A generated example, the source it came from, and whether (and why not) it passed the filters."""

    row: dict[str, Any]
    source: TrainingRecord
    text: str
    rejected: str | None


def paraphrase_field(spec: DataSpec) -> str:
    """The record field that augmentation rewrites: the spec's choice, else the text / instruction."""
    if spec.augmentation.field:
        return spec.augmentation.field
    if spec.format == "chat":
        raise HarnessError(
            "augmentation of chat records needs augmentation.field in the spec",
            hint="name a string field to rewrite, or convert the records to instruction/response",
        )
    return spec.field_name("text" if spec.format == "text_label" else "instruction")


def load_generator(spec: str, device: str = "auto", batch_size: int = 0) -> Model:
    """A generator model from any spec the harness loads: demo:NAME, a local directory, or openai+http://..."""
    from harness.models.loading import LoadOptions, load_model

    return load_model(spec, LoadOptions(device=device, batch_size=batch_size), option="--generator")


def back_translate(texts: Sequence[str], to_pivot: str, from_pivot: str, max_new_tokens: int = 128) -> list[str]:
    """Translate into a pivot language and back with two local seq2seq models (e.g. a Marian pair)."""
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    hint = "pass directories written by save_pretrained(); nothing is downloaded and no custom code runs"

    def translate(batch: Sequence[str], directory: str) -> list[str]:
        if not (Path(directory) / "config.json").is_file():
            raise HarnessError(f"translation model {directory} is not a local model directory", hint=hint)
        what = "--translation-models"
        tokenizer = load_local(AutoTokenizer, directory, what=what, hint=hint)
        model = load_local(AutoModelForSeq2SeqLM, directory, what=what, hint=hint, use_safetensors=True).eval()
        encoded = tokenizer(list(batch), return_tensors="pt", padding=True, truncation=True)
        output = model.generate(**encoded, max_new_tokens=max_new_tokens, num_beams=1, do_sample=False)
        return tokenizer.batch_decode(output, skip_special_tokens=True)

    return translate(translate(texts, to_pivot), from_pivot)


def source_similarity(sources: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
    """TF-IDF cosine similarity of each candidate to its own source."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    matrix = TfidfVectorizer(sublinear_tf=True).fit_transform([*sources, *candidates])
    a, b = matrix[: len(sources)], matrix[len(sources) :]
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def _novelty(candidates: Sequence[str], existing: Sequence[str]) -> list[tuple[float, int]]:
    """For each candidate: the highest ROUGE-L F1 against its nearest existing examples, and which one."""
    from rouge_score import rouge_scorer
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True).fit([*existing, *candidates])
    near = (vectorizer.transform(candidates) @ vectorizer.transform(existing).T).toarray()
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    out = []
    for row, text in zip(near, candidates, strict=True):
        best = (0.0, -1)
        for index in np.argsort(-row)[:NOVELTY_NEIGHBOURS]:
            score = scorer.score(existing[index], text)["rougeL"].fmeasure
            best = max(best, (score, int(index)))
        out.append(best)
    return out


def _candidate_record(source: TrainingRecord, row: dict[str, Any], field: str, text: str) -> TrainingRecord:
    prompt = text if source.prompt == source.fields.get(field) else source.prompt
    output = text if source.output == source.fields.get(field) else source.output
    return TrainingRecord(source.file, source.line, str(row["id"]), row, prompt, output, source.label)


def filter_candidates(
    spec: DataSpec,
    records: Sequence[TrainingRecord],
    sources: Sequence[TrainingRecord],
    texts: Sequence[str],
    method: str,
    generator: str,
) -> list[Candidate]:
    """Build candidate rows and apply the automatic filters: faithful, novel, within the spec's rules, no PII."""
    field = paraphrase_field(spec)
    rule = spec.augmentation
    cleaned = [t.strip().splitlines()[0].strip() if t.strip() else "" for t in texts]
    similarity = source_similarity([s.role_text(field, spec) for s in sources], cleaned)
    existing = [r.text for r in records]
    novelty = _novelty([c or "-" for c in cleaned], existing)
    count = length_counter(spec)
    existing_keys = {exact_key(r.role_text(field, spec)) for r in records}
    candidate_keys: set[str] = set()
    per_source: Counter[str] = Counter()
    out = []
    for source, text, sim, (rouge, nearest) in zip(sources, cleaned, similarity, novelty, strict=True):
        per_source[source.id] += 1
        row = dict(source.fields) | {
            field: text,
            "id": f"{source.id}-aug{per_source[source.id]}",
            "source_id": source.id,
            "synthetic": True,
            "origin": "augmented",
            "method": method,
            "generator": generator,
            "status": PENDING,
            "checks": {"source_similarity": round(float(sim), 4), "max_rouge_l": round(rouge, 4)},
        }
        row.pop("reviewer", None)
        candidate = _candidate_record(source, row, field, text)
        reason = None
        if not text:
            reason = "empty generation"
        elif exact_key(text) in existing_keys:
            reason = "copy of an existing example"
        elif exact_key(text) in candidate_keys:
            reason = "same as an earlier candidate"
        elif sim < rule.min_source_similarity:
            reason = f"drifted from its source (TF-IDF cosine {sim:.2f} < {rule.min_source_similarity})"
        elif rouge >= rule.max_novelty_rouge:
            reason = f"too close to {records[nearest].where} (ROUGE-L {rouge:.2f} >= {rule.max_novelty_rouge})"
        elif problems := check_record(candidate, spec, count):
            reason = f"breaks the spec: {problems[0].rule}: {problems[0].message}"
        elif hits := find_pii(text, spec.pii.checks):
            reason = f"contains personal data ({hits[0].kind})"
        candidate_keys.add(exact_key(text))
        out.append(Candidate(row, source, text, reason))
    return out


def augment(
    spec: DataSpec,
    records: Sequence[TrainingRecord],
    *,
    generator: Model | None = None,
    generator_name: str = "",
    translation_models: Sequence[str] = (),
    limit: int | None = None,
    progress: bool = False,
) -> list[Candidate]:
    """Paraphrase (with a generator) or back-translate (with local translation models) each collected record."""
    from tqdm import tqdm

    field = paraphrase_field(spec)
    sources = [r for r in records if not is_synthetic(r.fields) and r.role_text(field, spec)][:limit]
    if translation_models:
        texts = back_translate(
            [s.role_text(field, spec) for s in sources],
            *translation_models,
            max_new_tokens=spec.augmentation.max_new_tokens,
        )
        return filter_candidates(spec, records, sources, texts, "back-translation", " -> ".join(translation_models))
    if generator is None:
        raise HarnessError("augmentation needs a generator model", hint="pass --generator MODEL_SPEC")
    settings = DecodingSettings(max_new_tokens=spec.augmentation.max_new_tokens, stop=("\n",))
    all_sources: list[TrainingRecord] = []
    texts: list[str] = []
    for template in tqdm(spec.augmentation.templates, desc="paraphrasing", disable=not progress, leave=False):
        prompts = [template.format(text=s.role_text(field, spec)) for s in sources]
        texts += [g.text for g in generator.generate(prompts, settings)]
        all_sources += sources
    return filter_candidates(spec, records, all_sources, texts, "paraphrase", generator_name)
