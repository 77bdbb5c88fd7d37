"""Labels: only allowed ones, no class too rare to learn, and shares close to the spec's targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from harness.dataquality.findings import Finding
from harness.dataquality.records import TrainingRecord
from harness.dataquality.spec import DataSpec


def label_shares(labels: Sequence[str]) -> dict[str, float]:
    """Each label's share of the examples."""
    counts = Counter(labels)
    total = sum(counts.values())
    return {label: n / total for label, n in sorted(counts.items())} if total else {}


def rare_labels(counts: dict[str, int], rare_factor: float = 0.1) -> list[tuple[str, int, float]]:
    """Labels whose share is under rare_factor x 1/K (K = number of classes): (label, count, cut-off share)."""
    total = sum(counts.values())
    if not total or len(counts) < 2:
        return []
    cutoff = rare_factor / len(counts)
    return [(label, n, cutoff) for label, n in sorted(counts.items()) if n / total < cutoff]


def check_labels(records: Sequence[TrainingRecord], spec: DataSpec) -> list[Finding]:
    """Disallowed labels per record; rare classes and distance from target proportions for the set."""
    rule = spec.labels
    if rule is None:
        return []
    labelled = [r for r in records if r.label is not None]
    if not labelled:
        return []
    findings: list[Finding] = []
    if rule.allowed:
        for r in labelled:
            if r.label not in rule.allowed:
                findings.append(
                    Finding(
                        "label_not_allowed",
                        spec.severity["label_not_allowed"],
                        f"label {r.label!r} is not one of the spec's labels ({', '.join(rule.allowed)})",
                        "relabel it, or add the label to labels.allowed",
                        r.file,
                        r.line,
                        r.id,
                    )
                )
    counts = Counter(r.label for r in labelled if not rule.allowed or r.label in rule.allowed)
    for label in rule.allowed:
        counts.setdefault(label, 0)
    total = sum(counts.values())
    examples = {label: [r.where for r in labelled if r.label == label][:5] for label in counts}
    for label, n, cutoff in rare_labels(dict(counts), rule.rare_factor):
        findings.append(
            Finding(
                "label_imbalance",
                spec.severity["label_imbalance"],
                f"label {label!r} has {n} example(s) ({n / total:.1%} of {total}), under {rule.rare_factor:g} x 1/K "
                f"= {cutoff:.1%} for K={len(counts)} labels",
                f"add at least {max(int(cutoff * total) + 1 - n, 1)} more reviewed examples of {label!r}, "
                "or drop the label",
                related=tuple(examples[label]),
                details={"label": label, "count": n},
            )
        )
    if rule.proportions:
        shares = {label: counts.get(label, 0) / total for label in counts}
        distance = 0.5 * sum(
            abs(shares.get(k, 0) - rule.proportions.get(k, 0)) for k in set(shares) | set(rule.proportions)
        )
        for label, target in sorted(rule.proportions.items()):
            actual = shares.get(label, 0.0)
            if abs(actual - target) > rule.tolerance:
                findings.append(
                    Finding(
                        "label_proportion",
                        spec.severity["label_proportion"],
                        f"label {label!r} is {actual:.1%} of the set, target {target:.1%} (tolerance "
                        f"{rule.tolerance:.1%}; total variation distance {distance:.3f})",
                        f"{'add' if actual < target else 'remove'} examples of {label!r}",
                        details={"label": label, "share": round(actual, 4), "target": target},
                    )
                )
    return findings
