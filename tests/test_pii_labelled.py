"""Personal data with precision: the labelled set, the false positives seen on real data, reserved domains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn.metrics import precision_recall_fscore_support
from sklearn.preprocessing import MultiLabelBinarizer

from harness.dataquality.pii import find_pii, reserved_domain
from harness.dataquality.spec import load_spec
from harness.errors import HarnessError

LABELLED = Path(__file__).resolve().parents[1] / "fixtures" / "data_quality" / "pii_labelled.jsonl"
KINDS = ["phone number", "email", "card number", "iban"]


def test_precision_and_recall_on_the_labelled_set_are_at_least_0_9():
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 200 and sum(bool(r["pii"]) for r in rows) >= 90
    binarizer = MultiLabelBinarizer(classes=KINDS)
    truth = binarizer.fit_transform([r["pii"] for r in rows])
    found = binarizer.transform([{h.kind for h in find_pii(r["text"])} for r in rows])
    precision, recall, _, _ = precision_recall_fscore_support(truth, found, average="micro", zero_division=0)
    assert precision >= 0.9 and recall >= 0.9
    per_kind, _, _, _ = precision_recall_fscore_support(truth, found, zero_division=0)
    assert min(per_kind) >= 0.9


@pytest.mark.parametrize(
    "text",
    [
        "pi = 3.141592653589793",
        "created_at 1700000000",
        "ISBN 978-0-306-40615-7",
        "ISBN 0306406152",
        "at 2024-01-15 10:30:00",
        "2023-12-31T23:59:59Z",
        "the digits 0123456789",
        "offset 14400-10800",
        "write to someone@example.com",
        "bob@bar.invalid and alice@foo.test",
    ],
)
def test_what_real_data_flagged_wrongly_is_not_personal_data(text):
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text", ["Call +33 1 42 68 53 00 today", "Sydney office: +61 2 9374 4000", "ring 020 7946 0958", "(415) 555-0132"]
)
def test_international_and_national_phone_formats_are_found(text):
    assert [h.kind for h in find_pii(text)] == ["phone number"]


def test_a_bare_digit_run_is_a_phone_number_only_after_a_phone_word():
    assert find_pii("order 2125550147 shipped") == []
    assert [h.kind for h in find_pii("call 2125550147 tonight")] == ["phone number"]


def test_reserved_example_domains():
    for domain in ["example.com", "mail.example.org", "EXAMPLE.NET", "foo.test", "x.invalid", "a.example", "localhost"]:
        assert reserved_domain(domain), domain
    for domain in ["gmail.com", "example-corp.com", "examples.com", "test.com"]:
        assert not reserved_domain(domain), domain


def test_phone_regions_are_checked_in_the_spec(tmp_path):
    spec = tmp_path / "data_spec.yaml"
    spec.write_text("format: text_label\npii:\n  phone_regions: [US, UK]\n")
    with pytest.raises(HarnessError, match=r"data_spec.yaml:3.*unknown region 'UK'"):
        load_spec(spec)
