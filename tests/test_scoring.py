"""Multiple-choice picks follow lm-evaluation-harness, checked on fixed log-probabilities.

The reference below is lm-eval's own definition, written out because lm-eval is not a dependency:
`ConfigurableTask.construct_requests` (lm_eval/api/task.py) asks for `(context, target_delimiter + choice)`
with `target_delimiter = " "`, and `ConfigurableTask.process_results` for `output_type: multiple_choice` computes

    completion_len = np.array([float(len(i)) for i in choices])      # characters, not bytes
    byte_length = np.array([float(len(i.encode("utf-8"))) for i in choices])
    pred = np.argmax(lls)                                             # acc
    pred_norm = np.argmax(lls / completion_len)                       # acc_norm
    pred_byte = np.argmax(lls / byte_length)                          # acc_bytes (not computed here)
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.data import EvalSet
from harness.models.base import DecodingSettings, Generation, Loglikelihood
from harness.scoring import TARGET_DELIMITER, answers, multiple_choice

reproducible = settings(derandomize=True, deadline=None, max_examples=80)


class TableModel:
    """A model whose log-probabilities are a fixed table {(context, continuation): logprob}."""

    role = "base"
    name = "table"

    def __init__(self, table: dict[tuple[str, str], float]) -> None:
        self.table = table
        self.requests: list[tuple[str, str]] = []
        self.prompts: list[str] = []
        self.fingerprint = hashlib.sha256(json.dumps(sorted(table.items())).encode()).hexdigest()

    def loglikelihood(self, requests):
        self.requests.extend(requests)
        return [Loglikelihood(self.table[r], is_greedy=False, n_tokens=1) for r in requests]

    def generate(self, prompts, settings=DecodingSettings()):
        self.prompts.extend(prompts)
        return [Generation(f"{p} answer {i}", 1, 0.0) for i, p in enumerate(prompts)]


def lm_eval_picks(lls: list[float], choices: list[str]) -> tuple[int, int, int]:
    """lm-eval's pred, pred_norm and pred_byte for one document (see the module docstring)."""
    completion_len = np.array([float(len(i)) for i in choices])
    byte_length = np.array([float(len(i.encode("utf-8"))) for i in choices])
    return int(np.argmax(lls)), int(np.argmax(lls / completion_len)), int(np.argmax(lls / byte_length))


def eval_set(rows: list[dict]) -> EvalSet:
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    return EvalSet("mc", Path("mc.jsonl"), tuple(rows), digest)


def test_acc_norm_divides_by_characters_as_lm_eval_does_not_by_bytes():
    # "Zürich" is 6 characters but 7 UTF-8 bytes: per character it loses to "Bern12", per byte it wins.
    row = {"id": "q1", "prompt": "The city is", "choices": ["Zürich", "Bern12"], "answer": "Bern12"}
    lls = [-7.0, -6.5]
    model = TableModel({("The city is", " Zürich"): lls[0], ("The city is", " Bern12"): lls[1]})
    picks = multiple_choice(model, eval_set([row]))
    assert lm_eval_picks(lls, row["choices"]) == (1, 1, 0)
    assert picks.picks == ["Bern12"] and picks.picks_norm == ["Bern12"]


def test_acc_norm_can_differ_from_acc_on_long_choices():
    row = {"id": "q1", "prompt": "Q:", "choices": ["no", "a much longer answer"], "answer": "no"}
    model = TableModel({("Q:", " no"): -3.0, ("Q:", " a much longer answer"): -20.0})
    picks = multiple_choice(model, eval_set([row]))
    assert picks.picks == ["no"] and picks.picks_norm == ["a much longer answer"]  # -1.5/char vs -1.0/char
    assert picks.logprobs == [[-3.0, -20.0]] and picks.answers == ["no"] and picks.ids == ["q1"]


choice_text = st.text(alphabet=st.sampled_from("abcxyz äöü€中 "), min_size=1, max_size=12)
logprob = st.floats(min_value=-50.0, max_value=-0.01, allow_nan=False).map(lambda x: round(x, 2))


@reproducible
@given(
    items=st.lists(
        st.lists(st.tuples(choice_text, logprob), min_size=2, max_size=5, unique_by=lambda c: c[0]),
        min_size=1,
        max_size=6,
    )
)
def test_picks_are_lm_evals_argmax_on_any_log_probabilities(items):
    rows, table = [], {}
    for index, item in enumerate(items):
        prompt, choices = f"Question {index}:", [c for c, _ in item]
        rows.append({"id": f"q{index}", "prompt": prompt, "choices": choices, "answer": choices[0]})
        table.update({(prompt, TARGET_DELIMITER + c): lp for c, lp in item})
    model = TableModel(table)
    picks = multiple_choice(model, eval_set(rows))
    assert model.requests == [(r["prompt"], " " + c) for r in rows for c in r["choices"]]  # lm-eval's requests
    for row, item, pick, pick_norm in zip(rows, items, picks.picks, picks.picks_norm, strict=True):
        pred, pred_norm, _ = lm_eval_picks([lp for _, lp in item], row["choices"])
        assert pick == row["choices"][pred]  # ties: argmax takes the first, in both
        assert pick_norm == row["choices"][pred_norm]
    accuracy = np.mean([p == a for p, a in zip(picks.picks, picks.answers, strict=True)])
    assert math.isclose(
        accuracy, np.mean([lm_eval_picks([lp for _, lp in i], [c for c, _ in i])[0] == 0 for i in items])
    )


def test_equal_scores_pick_the_first_choice_as_numpy_argmax_does():
    row = {"id": "q1", "prompt": "P", "choices": ["ab", "cd"], "answer": "cd"}
    picks = multiple_choice(TableModel({("P", " ab"): -2.0, ("P", " cd"): -2.0}), eval_set([row]))
    assert picks.picks == ["ab"] and picks.picks_norm == ["ab"]


def test_samples_come_back_per_item_in_eval_set_order():
    rows = [{"id": f"g{i}", "prompt": f"p{i}", "reference": f"r{i}"} for i in range(3)]
    model = TableModel({})
    got = answers(model, eval_set(rows), DecodingSettings(temperature=1.0, samples=2))
    assert model.prompts == ["p0", "p0", "p1", "p1", "p2", "p2"]
    assert [g.text for g in got.samples[1]] == ["p0 answer 1", "p1 answer 3", "p2 answer 5"]
    assert [g.text for g in got.generations] == ["p0 answer 0", "p1 answer 2", "p2 answer 4"]
    assert got.references == ["r0", "r1", "r2"] and len(got.each_sample()) == 2
