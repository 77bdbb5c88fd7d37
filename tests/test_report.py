"""How the gate table writes a delta."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.report import _signed


@given(st.floats(-10, 10, allow_nan=False))
def test_a_delta_is_signed_to_three_places_and_never_minus_zero(x):
    text = _signed(x)
    assert text != "-0.000" and text[0] in "+-"
    assert abs(float(text) - x) <= 0.0005 + 1e-12


def test_a_difference_below_the_shown_precision_reads_as_no_change():
    assert _signed(-4e-7) == "+0.000"
    assert _signed(-0.0006) == "-0.001"


def test_the_markdown_summary_names_why_the_run_does_not_exit_zero():
    from harness.report import Reason, markdown

    reasons = [
        Reason("test failed", "suites/adversarial/cases.yaml::overlong-classification[tuned]", "label: expected x"),
        Reason("stale", "suites/test_a.py::acc", "stored promoted baseline of acc is stale"),
    ]
    text = markdown([], reasons=reasons)
    assert "- test failed: suites/adversarial/cases.yaml::overlong-classification[tuned]: label: expected x" in text
    assert "stale" not in text  # a stale reference explains a verdict, it does not block it
    assert "does not exit 0" not in markdown([])
