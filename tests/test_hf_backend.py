"""The transformers + peft backend: batching must not change answers, adapters share weights."""

from __future__ import annotations

import warnings

import pytest

from harness.models.base import DecodingSettings, Model
from harness.models.hf import PromptTruncatedWarning

PROMPTS = [
    "The capital of",
    "Either party may terminate this agreement with",
    "3 +",
    "x",
    "The opposite of hot is cold. The capital of France",
    "The receiving party shall",
    "2 + 2 =",
]
REQUESTS = [
    ("The capital of France is", " Paris"),
    ("", "hello world"),
    ("3 + 4 =", " 7"),
    ("a b c " * 5, "d"),
    ("The opposite of hot is ", "cold"),
    ("Either party may", " terminate this agreement"),
]


@pytest.mark.parametrize("role", ["base", "tuned"])
def test_batched_generation_equals_one_at_a_time(tiny_pair, role):
    model = tiny_pair.by_role(role)
    settings = DecodingSettings(max_new_tokens=8)
    batched = model._generate_uncached(PROMPTS, settings)
    single = [model._generate_uncached([p], settings)[0] for p in PROMPTS]
    assert [g.text for g in batched] == [g.text for g in single]


@pytest.mark.parametrize("role", ["base", "tuned"])
def test_batched_loglikelihoods_equal_one_at_a_time(tiny_pair, role):
    model = tiny_pair.by_role(role)
    batched = model.loglikelihood(REQUESTS)
    single = [model.loglikelihood([r])[0] for r in REQUESTS]
    for b, s in zip(batched, single, strict=True):
        assert b.logprob == pytest.approx(s.logprob, abs=1e-4)
        assert b.n_tokens == s.n_tokens


def test_adapter_pair_shares_one_copy_of_the_weights(tiny_pair):
    assert tiny_pair.shares_weights
    assert tiny_pair.base.module is tiny_pair.tuned.module
    assert isinstance(tiny_pair.base, Model) and isinstance(tiny_pair.tuned, Model)
    # Same weights, different behaviour: the adapter is off for the base.
    base_lp = tiny_pair.base.loglikelihood(REQUESTS[:1])[0].logprob
    tuned_lp = tiny_pair.tuned.loglikelihood(REQUESTS[:1])[0].logprob
    assert base_lp != pytest.approx(tuned_lp, abs=1e-6)
    assert tiny_pair.base.fingerprint != tiny_pair.tuned.fingerprint


def test_base_of_pair_equals_base_loaded_alone(tiny_dirs, tiny_pair):
    from harness.models.loading import LoadOptions, load_pair

    alone = load_pair(str(tiny_dirs["base"]), str(tiny_dirs["base"]), LoadOptions()).base
    assert alone.loglikelihood(REQUESTS)[2].logprob == pytest.approx(
        tiny_pair.base.loglikelihood(REQUESTS)[2].logprob, abs=1e-5
    )


def test_missing_pad_token_is_handled_with_eos_and_said(tiny_pair):
    assert tiny_pair.base.tokenizer.pad_token == "</s>"
    assert any("no pad token" in note for note in tiny_pair.notes)


def test_stop_strings_cut_the_answer(tiny_pair):
    model = tiny_pair.tuned
    free = model.generate(["The capital of"], DecodingSettings(max_new_tokens=12))[0].text
    assert len(free) > 2
    stop = free[1:3]
    cut = model.generate(["The capital of"], DecodingSettings(max_new_tokens=12, stop=(stop,)))[0].text
    assert stop not in cut and free.startswith(cut)


def test_long_input_is_cut_from_the_left_and_warned_once(tiny_dirs):
    from harness.models.loading import LoadOptions, load_pair

    model = load_pair(str(tiny_dirs["base"]), str(tiny_dirs["adapter"]), LoadOptions()).tuned
    long_prompt = "word " * 200
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = model.generate([long_prompt, long_prompt + "x"], DecodingSettings(max_new_tokens=4))
        model.loglikelihood([(long_prompt, " end")])
    truncation = [w for w in caught if issubclass(w.category, PromptTruncatedWarning)]
    assert len(truncation) == 1
    assert "cut from the left" in str(truncation[0].message)
    assert all(g.prompt_truncated for g in out)


def test_rolling_loglikelihood_counts_every_token_once(tiny_pair):
    model = tiny_pair.base
    short, long = "The capital of France is Paris.", "The capital of France is Paris. " * 20
    results = model.loglikelihood_rolling([short, long])
    assert results[0].n_tokens == len(model._encode(short))
    assert results[1].n_tokens == len(model._encode(long)) > model.context_window
    assert results[1].logprob < results[0].logprob < 0
    # A text that fits the window scores the same as one continuation after the eos prefix.
    assert results[0].logprob == pytest.approx(model.loglikelihood([("", short)])[0].logprob, abs=1e-4)


def test_generation_results_are_memoised_per_settings(tiny_pair):
    model = tiny_pair.tuned
    settings = DecodingSettings(max_new_tokens=5)
    first = model.generate(["3 +"], settings)[0]
    again = model.generate(["3 +"], settings)[0]
    assert again is first


def test_sampling_repeats_for_a_seed_draws_each_copy_anew_and_leaves_torch_unseeded(tiny_pair):
    import torch

    model = tiny_pair.tuned
    hot = DecodingSettings(max_new_tokens=8, temperature=5.0, seed=1)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = [g.text for g in model.generate(["The capital of"] * 6, hot)]
    assert torch.rand(1) == before  # the caller's random stream is not disturbed
    assert [g.text for g in model.generate(["The capital of"] * 6, hot)] == first
    assert len(set(first)) > 1  # six samples, not one answer repeated
    other = [g.text for g in model.generate(["The capital of"] * 6, DecodingSettings(8, temperature=5.0, seed=2))]
    assert other != first


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"temperature": -1.0}, "temperature"), ({"top_p": 0.0}, "top_p"), ({"max_new_tokens": 0}, "max_new_tokens")],
)
def test_impossible_decoding_settings_are_refused(settings, message):
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match=message):
        DecodingSettings(**settings)


def test_single_token_choices_after_one_context_cost_one_forward_pass(tiny_pair):
    model = tiny_pair.tuned
    context = "The capital of France is"
    single_tokens = [
        t
        for t in (" Paris", " the", " cold", " party", " of", " is", " c", " hot")
        if len(model._encode(context + t)) == len(model._encode(context)) + 1
    ]
    assert len(single_tokens) >= 2
    calls = []
    hook = model.module.register_forward_hook(lambda module, args, kwargs_or_out, *rest: calls.append(1))
    try:
        shared = model.loglikelihood([(context, t) for t in single_tokens])
    finally:
        hook.remove()
    assert len(calls) == 1
    alone = [model.loglikelihood([(context, t)])[0].logprob for t in single_tokens]
    assert [r.logprob for r in shared] == pytest.approx(alone, abs=1e-5)


CONTEXTS = ["The capital of France is", "Clause: The Buyer shall pay each invoice.\nType:", "x", "a b c d e f g h"]
CHOICES = [" Paris", " limitation_of_liability", " New Delhi and more", " a", " governing law"]


@pytest.mark.parametrize("role", ["base", "tuned"])
def test_multi_token_choices_after_a_shared_context_score_as_one_at_a_time(tiny_pair, role, monkeypatch):
    model = tiny_pair.by_role(role)
    monkeypatch.setattr(model, "batch_size", 16)  # every context in one batch
    requests = [(context, choice) for context in CONTEXTS for choice in CHOICES]
    assert any(len(model._encode(choice)) > 1 for choice in CHOICES)
    seen = []
    hook = model.module.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(kwargs["input_ids"].numel()), with_kwargs=True
    )
    try:
        shared = model.loglikelihood(requests)
    finally:
        hook.remove()
    alone = [model.loglikelihood([r])[0] for r in requests]  # a lone request takes the plain path
    assert [r.logprob for r in shared] == pytest.approx([r.logprob for r in alone], abs=1e-4)
    assert [r.is_greedy for r in shared] == [r.is_greedy for r in alone]
    assert [r.n_tokens for r in shared] == [r.n_tokens for r in alone]
    # each context once, then only the continuations: fewer token positions than one row per request
    plain = sum(len(c) + len(x) - 1 for c, x in (model._split(*r) for r in requests))
    assert len(seen) == 2 and sum(seen) < plain


def test_out_of_memory_halves_the_batch_and_keeps_the_answers(tiny_dirs, monkeypatch):
    import torch

    from harness.models.loading import LoadOptions, load_pair

    model = load_pair(str(tiny_dirs["base"]), str(tiny_dirs["adapter"]), LoadOptions(batch_size=8)).tuned
    expected = [r.logprob for r in model.loglikelihood(REQUESTS)]
    real_forward = model.module.forward
    seen_batches = []

    def forward_that_runs_out_of_memory(*args, **kwargs):
        rows = kwargs["input_ids"].shape[0]
        seen_batches.append(rows)
        if rows > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(model.module, "forward", forward_that_runs_out_of_memory)
    got = [r.logprob for r in model.loglikelihood(REQUESTS)]
    assert got == pytest.approx(expected, abs=1e-5)
    assert model.batch_size == 2 and seen_batches[:3] == [6, 4, 2]


def test_the_environment_names_versions_device_dtype_batch_and_threads(tiny_pair) -> None:
    import torch

    from harness.environment import describe

    environment = describe(tiny_pair.tuned)
    assert environment["torch"] == torch.__version__ and environment["transformers"]
    assert environment["device"] == "cpu" and environment["dtype"] == "float32"
    assert environment["batch_size"] == 3 and environment["threads"] == torch.get_num_threads()
