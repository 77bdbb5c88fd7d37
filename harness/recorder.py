"""The object behind the `record_metric` fixture: a test's MetricResult, with its provenance, into the session."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.config import SAME_AS_BASE
from harness.errors import HarnessError
from harness.records import ROLES, TUNED, MetricRecord, OutputRecord

if TYPE_CHECKING:
    from harness.data import EvalSet
    from harness.metrics.result import MetricResult
    from harness.models.base import DecodingSettings
    from harness.scoring import Answers
    from harness.session import HarnessSession


def relative(path: Path | str | None, root: Path) -> str:
    """`path` relative to the rootdir, in POSIX form ("" for none; unchanged when it lies outside)."""
    if path is None:
        return ""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


class MetricRecorder:
    """Records one test's metrics: `record_metric(result, floor=0.5)` calls `record`.

    The role comes from the test's `model` parameter, or pass role="base"/"tuned". The keyword rules
    (floor, floor_lower_bound, ceiling, max_drop_vs_base, max_drop_vs_promoted, alpha) go to the gate; a
    floor or ceiling the tuned model misses also fails the test at once.
    """

    def __init__(self, node: pytest.Item, session: HarnessSession) -> None:
        self.node = node
        self.session = session
        self.suite = relative(Path(str(node.path)), session.config.rootdir)
        self.test = getattr(node, "originalname", node.name)
        callspec = getattr(node, "callspec", None)
        self.default_role: str | None = callspec.params.get("model") if callspec else None

    def record(
        self,
        result: MetricResult,
        *,
        role: str | None = None,
        eval_set: EvalSet | None = None,
        decoding: DecodingSettings | None = None,
        outputs: Answers | None = None,
        check_now: bool = True,
        **rules: Any,
    ) -> MetricResult:
        """Keep `result` for the gate and the reports (and `outputs` for human review); returns it.

        `check_now=False` leaves a missed floor or ceiling to the gate's verdict, for a test that reports it
        itself among other reasons (the human review does).
        """
        __tracebackhide__ = True
        from harness.environment import describe
        from harness.rules import check_rule

        role = role or self.default_role
        if role not in ROLES:
            raise HarnessError(
                f"record_metric({result.name!r}) in {self.node.nodeid}: cannot tell whether this is the base or "
                "tuned model",
                hint="take the `model` fixture, or pass role='base' or role='tuned'",
            )
        pair = self.session.model_pair()
        model = pair.by_role(role)
        record = MetricRecord(
            suite=self.suite,
            test=self.test,
            role=role,
            result=result,
            model=model.name,
            model_fingerprint=model.fingerprint,
            base_fingerprint=pair.base.fingerprint,
            data_fingerprint=eval_set.fingerprint if eval_set is not None else "",
            data_path=relative(eval_set.path if eval_set is not None else None, self.session.config.rootdir),
            decoding=decoding.key() if decoding is not None else "",
            rules=rules,
            environment=describe(model),
            clusters=_clusters(eval_set),
        )
        rule = record.rule  # a malformed rule fails here, in the test that wrote it
        self.session.record(record)
        if outputs is not None:
            self._record_outputs(outputs, eval_set, role, model.name)
        # the tuned model's floors and ceilings fail the test now (an A/A run measures noise, not floors)
        if check_now and role == TUNED and self.session.config.tuned_model != SAME_AS_BASE:
            if missed := check_rule(rule, result).failures:
                pytest.fail("\n".join(missed), pytrace=False)
        return result

    __call__ = record

    def _record_outputs(self, outputs: Answers, eval_set: EvalSet | None, role: str, model: str) -> None:
        """Keep a run's answers for human review."""
        rows = {row["id"]: row for row in eval_set} if eval_set is not None else {}
        name = eval_set.name if eval_set is not None else self.suite
        for item_id, text, reference in zip(outputs.ids, outputs.texts, outputs.references, strict=True):
            row = rows.get(item_id, {})
            self.session.record_output(
                OutputRecord(
                    name,
                    item_id,
                    role,
                    row.get("prompt", ""),
                    text,
                    reference,
                    row.get("category") or "",
                    self.suite,
                    model,
                )
            )


def _clusters(eval_set: EvalSet | None) -> dict[str, str]:
    """item id -> cluster for an eval set whose rows name a `cluster` (else empty: items are independent)."""
    rows = eval_set.rows if eval_set is not None else ()
    return {str(row["id"]): str(row["cluster"]) for row in rows if row.get("cluster") is not None}
