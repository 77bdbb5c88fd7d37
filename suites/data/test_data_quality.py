"""Gate the fine-tuning data like the model: each rule of the data specification is one test.

A test fails when its rules report errors; warnings (e.g. a set under the recommended size) are printed.
"""

from __future__ import annotations

import pytest

from harness.dataquality.findings import ERROR, WARNING

CHECKS = {
    "well_formed_records": ("schema", "encoding"),
    "spec_rules": ("length", "required_pattern", "forbidden_pattern", "style"),
    "size": ("size",),
    "no_exact_duplicates": ("exact_duplicate",),
    "no_near_duplicates": ("near_duplicate",),
    "labels": ("label_not_allowed", "label_imbalance", "label_proportion"),
    "in_domain": ("off_domain",),
    "no_eval_contamination": ("contamination",),
    "no_pii": ("pii",),
    "synthetic_approved": ("unapproved_synthetic",),
}


def _listing(findings) -> str:
    shown = [f"  {f.where}: [{f.rule}] {f.message}\n      fix: {f.fix}" for f in findings[:20]]
    more = [f"  ... and {len(findings) - 20} more"] if len(findings) > 20 else []
    return "\n".join(shown + more)


@pytest.mark.parametrize("rules", list(CHECKS.values()), ids=list(CHECKS))
def test_data_quality(data_lint, rules):
    warnings = data_lint.by_rule(*rules, severity=WARNING)
    for finding in warnings:
        print(f"warning: {finding.where}: [{finding.rule}] {finding.message}")
    errors = data_lint.by_rule(*rules, severity=ERROR)
    assert not errors, f"{len(errors)} problem(s) in the training data:\n{_listing(errors)}"
