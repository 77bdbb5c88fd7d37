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


def test_summary_lines_carry_their_severity_instead_of_a_guess_from_their_text():
    from harness.gate import GateRule, Verdict
    from harness.metrics.result import MetricResult
    from harness.report import terminal_lines

    tuned = MetricResult("acc", 0.5, (0.4, 0.6), 10, {})
    verdict = Verdict(
        "suites/s.py",
        "acc",
        tuned,
        None,
        None,
        GateRule(),
        failures=["acc is below its floor: 0.500 < 0.9"],
        inconclusive=["acc vs base: drop 0.010"],
        stale=["stored base baseline of acc is stale"],
        notes=["FAIL is only a word in this note"],  # a note that starts like a failure stays plain
    )
    severity = {line.text: line.severity for line in terminal_lines([verdict])}
    assert severity["FAIL acc is below its floor: 0.500 < 0.9"] == "error"
    assert severity["INCONCLUSIVE acc vs base: drop 0.010"] == "warning"
    assert severity["stale: stored base baseline of acc is stale"] == "warning"
    assert severity["note: FAIL is only a word in this note"] == "info"


def test_a_report_line_styles_itself_for_the_terminal():
    from harness.terminal import ReportLine, verdict_severity

    assert ReportLine("verdict: PROMOTE", verdict_severity("PROMOTE"), bold=True).style() == {
        "green": True,
        "bold": True,
    }
    assert ReportLine("x", verdict_severity("DO NOT PROMOTE")).style() == {"red": True, "bold": False}
    assert ReportLine("x", verdict_severity("INCONCLUSIVE")).style() == {"yellow": True, "bold": False}
