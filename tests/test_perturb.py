"""Perturbations: reproducible for a seed, and each keeps what it promises to keep."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import perturb
from harness.perturb import HOMOGLYPHS, PERTURBATIONS, strategies

CLAUSE = "The Supplier shall pay all invoices within 30 days of the invoice date."
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
words = st.text(alphabet=st.sampled_from("abcdefghij KLMNOP.,;!?\t"), max_size=80)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(st.sampled_from(sorted(PERTURBATIONS)), texts, seeds)
def test_the_same_seed_gives_the_same_text(name, text, seed):
    assert perturb.perturb(name, text, seed) == perturb.perturb(name, text, random.Random(seed))


def test_different_seeds_give_different_noise():
    outputs = {perturb.typos(CLAUSE, seed, rate=0.1) for seed in range(10)}
    assert len(outputs) > 5


@FAST
@given(texts, seeds, st.sampled_from(["random", "upper", "lower", "title"]))
def test_casing_changes_only_the_case_of_letters(text, seed, mode):
    out = perturb.casing(text, seed, mode=mode)
    assert len(out) == len(text)
    assert out.casefold() == text.casefold()


def test_casing_modes():
    assert perturb.casing("the Supplier shall pay", mode="upper") == "THE SUPPLIER SHALL PAY"
    assert perturb.casing("the SUPPLIER shall pay", mode="title") == "The Supplier Shall Pay"
    assert perturb.casing("Straße", mode="upper") == "STRAßE"  # ß has no one-letter upper case: kept


@FAST
@given(texts, seeds, st.floats(min_value=0.0, max_value=1.0))
def test_whitespace_keeps_the_words(text, seed, rate):
    out = perturb.whitespace(text, seed, rate=rate)
    assert out.split() == text.split()
    assert out != text


@FAST
@given(words, seeds, st.floats(min_value=0.0, max_value=0.5))
def test_typos_keep_the_length_within_the_number_of_edits(text, seed, rate):
    out = perturb.typos(text, seed, rate=rate)
    letters = sum(c.isalpha() for c in text)
    edits = max(1, round(rate * letters)) if letters else 0
    assert len(text) - edits <= len(out) <= len(text)
    assert sorted(c for c in out if not c.isalpha()) == sorted(c for c in text if not c.isalpha())


def test_typos_always_change_a_word():
    assert perturb.typos("termination", 3, rate=0.0) != "termination"


@FAST
@given(texts, seeds)
def test_punctuation_keeps_letters_and_digits(text, seed):
    out = perturb.punctuation(text, seed)
    assert [c for c in out if c.isalnum()] == [c for c in text if c.isalnum()]


@FAST
@given(texts, seeds, st.floats(min_value=0.0, max_value=1.0))
def test_homoglyphs_change_code_points_but_not_length(text, seed, rate):
    out = perturb.homoglyphs(text, seed, rate=rate)
    assert len(out) == len(text)
    changed = [(a, b) for a, b in zip(text, out, strict=True) if a != b]
    assert all(HOMOGLYPHS[a] == b for a, b in changed)
    assert bool(changed) == any(c in HOMOGLYPHS for c in text)


def test_homoglyphs_look_the_same_but_are_not_ascii():
    out = perturb.homoglyphs("Paris", 0, rate=1.0)
    assert out != "Paris" and not out.isascii()


def test_synonyms_swap_words_and_keep_their_capital():
    out = perturb.synonyms("Agreement and agreement", 0, rate=1.0)
    assert out == "Contract and contract"


def test_synonyms_from_a_user_file(tmp_path):
    path = tmp_path / "synonyms.txt"
    path.write_text("# clause words\nindemnify, hold harmless_\nwarranty, guarantee\n", encoding="utf-8")
    with pytest.raises(ValueError, match="synonyms.txt:2"):
        perturb.synonyms("x", 0, file=str(path))
    path.write_text("# clause words\nwarranty, guarantee\n", encoding="utf-8")
    assert perturb.synonyms("The warranty lasts.", 0, file=str(path)) == "The guarantee lasts."


def test_distractor_injection_and_false_premise_add_text_around_the_input():
    assert perturb.distractor(CLAUSE, 0, sentence="It rained.", position="start") == "It rained. " + CLAUSE
    injected = perturb.injection(CLAUSE, 0, target="payment")
    assert injected.startswith(CLAUSE) and "payment" in injected[len(CLAUSE) :]
    premise = perturb.false_premise(CLAUSE, 0, premise="This clause is void.")
    assert premise == "This clause is void. " + CLAUSE


def test_ambiguous_blurs_parties_and_numbers():
    assert perturb.ambiguous(CLAUSE) == "a party shall pay all invoices within some days of the invoice date."
    assert perturb.ambiguous("Who wrote the book about dogs?") == "Who wrote the"


def test_overlong_and_empty():
    long = perturb.overlong("Type?", chars=500)
    assert len(long) == 500 and long.endswith("Type?")
    assert perturb.overlong("Type?", chars=100, position="end").startswith("Type?")
    assert perturb.empty(CLAUSE) == ""


def test_parameters_are_checked_by_name_and_type():
    with pytest.raises(ValueError, match="no parameter 'rat'"):
        perturb.check_params("typos", {"rat": 0.1})
    with pytest.raises(ValueError, match="rate should be a number"):
        perturb.check_params("typos", {"rate": "high"})
    with pytest.raises(ValueError, match="between 0 and 1"):
        perturb.check_params("homoglyphs", {"rate": 2})
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb.check_params("typo", {})
    perturb.check_params("overlong", {"chars": 9000, "position": "end"})


def test_numeric_parameters_have_a_range():
    with pytest.raises(ValueError, match="chars must be between 0 and 100,000, got 20000000"):
        perturb.check_params("overlong", {"chars": 20_000_000})
    with pytest.raises(ValueError, match="rate must be between 0 and 1, got nan"):
        perturb.check_params("typos", {"rate": float("nan")})
    with pytest.raises(ValueError, match="chars should be a whole number, got True"):
        perturb.check_params("overlong", {"chars": True})


def test_a_synonym_file_must_be_a_small_regular_file(tmp_path):
    with pytest.raises(ValueError, match="/dev/zero: not a file"):
        perturb.load_synonym_file("/dev/zero")
    (tmp_path / "big.txt").write_text("a, b\n" * 300_000, encoding="utf-8")
    with pytest.raises(ValueError, match="more than the 1,048,576"):
        perturb.load_synonym_file(str(tmp_path / "big.txt"))
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9, coffee\n")
    with pytest.raises(ValueError, match="latin1.txt:1: not UTF-8 text"):
        perturb.load_synonym_file(str(tmp_path / "latin1.txt"))


def _typos_by_scanning(text, rng, rate):
    """The straightforward typos: rescan the letters for every edit (quadratic; the reference)."""
    chars = list(text)
    n_letters = sum(c.isalpha() for c in chars)
    for _ in range(max(1, round(rate * n_letters)) if n_letters else 0):
        letters = [i for i, c in enumerate(chars) if c.isalpha()]
        if not letters:
            break
        i = rng.choice(letters)
        swappable = i + 1 < len(chars) and chars[i + 1].isalpha() and chars[i + 1] != chars[i]
        if swappable and rng.random() < 0.5:
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        else:
            del chars[i]
    if n_letters and "".join(chars) == text:
        del chars[rng.choice([i for i, c in enumerate(chars) if c.isalpha()])]
    return "".join(chars)


@FAST
@given(st.text(alphabet=st.sampled_from("abAB \t.,xyé\u0301"), max_size=60), seeds, st.sampled_from([0.05, 0.5, 1.0]))
def test_typos_draw_the_same_edits_as_rescanning_the_text(text, seed, rate):
    assert perturb.typos(text, seed, rate=rate) == _typos_by_scanning(text, random.Random(seed), rate)


def test_long_inputs_are_perturbed_in_about_linear_time():
    text = CLAUSE * 1400  # about 100,000 characters
    start = time.perf_counter()
    for name in ("typos", "punctuation", "whitespace", "homoglyphs", "synonyms"):
        perturb.perturb(name, text, 1, rate=1.0)
    perturb.perturb("casing", text, 1)
    assert time.perf_counter() - start < 5


@FAST
@given(strategies.typos(CLAUSE, rate=0.1))
def test_strategies_give_perturbed_texts(text):
    assert text != CLAUSE and abs(len(text) - len(CLAUSE)) <= 7


@FAST
@given(strategies.any_of(CLAUSE))
def test_any_of_keeps_the_meaning_perturbations(text):
    assert text.strip()


def test_unknown_strategy_is_named():
    with pytest.raises(AttributeError, match="no perturbation strategy 'typoz'"):
        strategies.typoz  # noqa: B018
