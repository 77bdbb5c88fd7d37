"""Each data-lint rule on small inputs: normalisation, duplicates, contamination, PII, labels, domain, style."""

from __future__ import annotations

import json
import string
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.dataquality.contamination import shared_ngrams
from harness.dataquality.duplicates import exact_key, near_duplicate_pairs
from harness.dataquality.lint import lint_dataset
from harness.dataquality.ngrams import lm_eval_words, normalise
from harness.dataquality.pii import find_pii, iban_valid, luhn_valid
from harness.dataquality.records import read_records
from harness.dataquality.rules import count_sentences
from harness.dataquality.spec import DuplicateRule, load_spec

SPEC = """\
version: 1
format: text_label
labels:
  allowed: [a, b, c]
patterns:
  forbidden:
    - {name: placeholder, regex: 'lorem ipsum'}
style:
  no_first_person: true
  max_sentences: 2
length: {unit: words, min: 3, max: 40}
size: {minimum: 1, recommended: 10}
domain:
  examples:
    - "The tenant shall pay the rent on the first day of each month to the landlord."
    - "Either party may terminate this lease by giving the other party written notice."
"""
LEASE = [
    "The tenant must pay the monthly rent to the landlord by bank transfer on the first day.",
    "The landlord may end the lease by written notice if the tenant fails to pay the rent.",
    "The tenant shall keep the premises in good repair and return them to the landlord at the end.",
    "Either party may renew this lease for a further year by written notice to the other party.",
]


def write(tmp_path: Path, rows: list[dict], spec: str = SPEC) -> tuple[Path, Path]:
    spec_path = tmp_path / "data_spec.yaml"
    spec_path.write_text(spec)
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return spec_path, data


def lint_rows(tmp_path: Path, rows: list[dict], eval_dir: Path | None = None, spec: str = SPEC):
    spec_path, data = write(tmp_path, rows, spec)
    return lint_dataset(spec_path, data, [eval_dir] if eval_dir else [])


def rows_of(texts: list[str], label: str = "a") -> list[dict]:
    return [{"id": f"r{i}", "text": t, "label": label} for i, t in enumerate(texts)]


# --- normalisation and exact duplicates -------------------------------------------------------------------


@given(st.text())
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


@given(st.text(alphabet=string.ascii_letters + string.digits + ".,;", min_size=1), st.data())
def test_exact_duplicate_key_ignores_whitespace_and_case(text, data):
    words = text.split(".")
    spaces = data.draw(st.lists(st.sampled_from([" ", "  ", "\t", "\n "]), min_size=len(words), max_size=len(words)))
    variant = "".join(w.swapcase() + s for w, s in zip(words, spaces, strict=True))
    original = " ".join(words)
    assert exact_key(variant) == exact_key(original)


def test_exact_duplicates_are_reported_against_the_first_copy(tmp_path):
    rows = rows_of(LEASE) + [{"id": "copy", "text": "  " + LEASE[1].upper(), "label": "a"}]
    found = lint_rows(tmp_path, rows).by_rule("exact_duplicate")
    assert [(f.record_id, f.related) for f in found] == [("copy", (f"{tmp_path / 'train.jsonl'}:2 (id r1)",))]


# --- near duplicates ---------------------------------------------------------------------------------------


def test_near_duplicate_found_and_distinct_texts_are_not():
    texts = [*LEASE, LEASE[2].rstrip(".") + " in full."]
    assert [(i, j) for i, j, _ in near_duplicate_pairs(texts, DuplicateRule())] == [(2, 4)]


def test_short_texts_are_compared_by_characters():
    texts = ["Rent is due monthly.", "Rent is due monthy.", "Notice must be written."]
    assert [(i, j) for i, j, _ in near_duplicate_pairs(texts, DuplicateRule(near_threshold=0.6))] == [(0, 1)]


@given(st.lists(st.sampled_from([*LEASE, LEASE[0].upper(), "short text here", ""]), min_size=0, max_size=8))
def test_a_record_is_never_its_own_near_duplicate(texts):
    for i, j, score in near_duplicate_pairs(texts, DuplicateRule()):
        assert i < j
        assert 0.8 <= score <= 1.0


# --- contamination -----------------------------------------------------------------------------------------

GRAM = "the supplier shall deliver all ordered goods to the named warehouse before the agreed date"  # 15 words


def test_contamination_finds_a_shared_13_gram_after_normalisation():
    train = ["Preamble words here. The Supplier, shall deliver all ordered goods to the named warehouse before THE"]
    evals = ["unrelated start " + GRAM + " and more"]
    found, _ = shared_ngrams(train, evals, 13)
    assert list(found) == [0] and list(found[0]) == [0]
    assert len(found[0][0]) == 13


def test_contamination_ignores_a_12_gram_overlap():
    twelve = " ".join(GRAM.split()[:12])
    assert shared_ngrams([f"alpha beta {twelve} gamma"], [f"delta {twelve} epsilon"], 13) == ({}, 0)


def test_contamination_lists_the_leaked_eval_items(tmp_path):
    eval_dir = tmp_path / "evals"
    eval_dir.mkdir()
    (eval_dir / "qa.jsonl").write_text(
        json.dumps({"id": "q1", "prompt": GRAM, "answer": "x"}) + "\n" + json.dumps({"id": "q2", "prompt": "no"})
    )
    rows = rows_of(LEASE) + [{"id": "leak", "text": GRAM.capitalize() + ".", "label": "a"}]
    report = lint_rows(tmp_path, rows, eval_dir)
    (finding,) = report.by_rule("contamination")
    assert finding.record_id == "leak"
    assert finding.related == (f"{eval_dir / 'qa.jsonl'}:1 (id q1)",)


def test_lm_eval_normalisation_drops_punctuation_and_case():
    assert lm_eval_words("Don't STOP, now!") == ["dont", "stop", "now"]


# --- personal data -----------------------------------------------------------------------------------------


def reference_luhn(number: str) -> bool:
    digits = [int(c) for c in number][::-1]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


@given(st.text(alphabet="0123456789", min_size=1, max_size=24))
def test_luhn_agrees_with_a_reference(number):
    assert luhn_valid(number) == reference_luhn(number)


def test_iban_mod_97():
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert iban_valid("DE89370400440532013000")
    assert not iban_valid("GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Write to jane.doe@gmail.com today.", ["email"]),
        ("Write to jane.doe@example.com today.", []),
        ("Call +1 415 555 0132 after noon.", ["phone number"]),
        ("Charge card 4111 1111 1111 1111 monthly.", ["card number"]),
        ("Pay into GB82 WEST 1234 5698 7654 32 now.", ["iban"]),
        ("Card 4111 1111 1111 1112 fails Luhn.", []),
        ("Pay $25,000 within 30 days of 2024-01-15 under Section 12.3.", []),
    ],
)
def test_find_pii(text, kinds):
    assert [hit.kind for hit in find_pii(text)] == kinds


# --- labels, domain, style, records ------------------------------------------------------------------------


def test_rare_label_under_a_tenth_of_uniform_is_an_error(tmp_path):
    texts = [f"{t} Clause number {i} applies." for i in range(20) for t in LEASE[:2]]
    rows = rows_of(texts[:39], "a") + rows_of(texts[39:40], "b")
    rows += [{"id": f"c{i}", "text": f"{LEASE[3]} Term {i} of the lease.", "label": "c"} for i in range(40)]
    for i, row in enumerate(rows):
        row["id"] = f"x{i}"
    report = lint_rows(tmp_path, rows)
    (finding,) = report.by_rule("label_imbalance")
    assert finding.details == {"label": "b", "count": 1}
    assert report.by_rule("label_not_allowed") == []


def test_disallowed_label_and_off_domain_text(tmp_path):
    rows = rows_of(LEASE) + [
        {"id": "cake", "text": "Whisk the eggs with sugar, fold in flour and bake the sponge cake.", "label": "zzz"}
    ]
    report = lint_rows(tmp_path, rows)
    assert [f.record_id for f in report.by_rule("label_not_allowed")] == ["cake"]
    assert [f.record_id for f in report.by_rule("off_domain")] == ["cake"]


def test_style_length_and_patterns(tmp_path):
    rows = rows_of(LEASE) + [
        {"id": "me", "text": "I will pay the rent to the landlord on time each month.", "label": "a"},
        {"id": "long", "text": "The tenant pays. The landlord repairs. The lease ends.", "label": "a"},
        {"id": "tiny", "text": "Rent due.", "label": "a"},
        {"id": "lorem", "text": "The tenant shall pay lorem ipsum to the landlord.", "label": "a"},
    ]
    report = lint_rows(tmp_path, rows)
    assert {(f.rule, f.record_id) for f in report.by_rule("style", "length", "forbidden_pattern")} == {
        ("style", "me"),
        ("style", "long"),
        ("length", "tiny"),
        ("forbidden_pattern", "lorem"),
    }


def test_sentences_are_counted_by_terminal_punctuation():
    assert count_sentences("One. Two! Three? ") == 3
    assert count_sentences("Pay $1.50 per unit under Section 2.1 of the lease") == 1


def test_bad_lines_are_named_by_file_and_line(tmp_path):
    spec = load_spec(write(tmp_path, [])[0])
    data = tmp_path / "bad.jsonl"
    data.write_bytes(
        b'{"id": "ok", "text": "fine text", "label": "a"}\n'
        b"{not json}\n"
        b'{"id": "enc", "text": "caf\xe9", "label": "a"}\n'
        b'{"id": "nolabel", "text": "a text"}\n'
        b'{"id": "ok", "text": "same id again", "label": "a"}\n'
    )
    records, findings = read_records([data], spec)
    assert [r.id for r in records] == ["ok", "ok"]
    assert [(f.rule, f.line) for f in findings] == [("schema", 2), ("encoding", 3), ("schema", 4), ("schema", 5)]
    assert "already used at" in findings[-1].message


@pytest.mark.parametrize(
    "text", ["." * 100_000 + "x", "a." * 50_000 + "@", "12-" * 40_000, "12 " * 40_000, "a@b.cd " * 20_000]
)
def test_sentences_and_personal_data_take_linear_time_on_hostile_text(text):
    started = time.perf_counter()
    count_sentences(text)
    find_pii(text)
    assert time.perf_counter() - started < 2.0  # quadratic backtracking took minutes on these


def test_user_patterns_run_on_re2_and_match_like_re(tmp_path):
    text = "format: text_label\npatterns:\n  required:\n    - {name: cased, regex: '(?i)^the (tenant|landlord)'}\n"
    spec = load_spec(write(tmp_path, [], text)[0])
    (pattern,) = spec.required_patterns
    assert pattern.regex.search("THE TENANT pays") and not pattern.regex.search("a tenant pays")
    assert pattern.regex.search("x" * 100_000 + "(a+)+$") is None
