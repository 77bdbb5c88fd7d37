"""The shared lint run of the data-quality suite (its options are in harness/suite_options.py).

By default it lints the clean demo set against its spec; point it at your own data with
    pytest suites/data/ --data-spec data_spec.yaml --train-data train.jsonl [--data-eval-sets DIR ...]
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEMO = Path("fixtures") / "data_quality"


@pytest.fixture(scope="session")
def data_lint(request: pytest.FixtureRequest):
    """The lint report of the selected training data, computed once for the whole suite."""
    from harness.dataquality.lint import default_eval_locations, lint_dataset
    from harness.dataquality.report import write_json
    from harness.errors import HarnessError

    root = request.config.rootpath
    spec = request.config.getoption("--data-spec") or root / DEMO / "data_spec.yaml"
    data = request.config.getoption("--train-data") or [root / DEMO / "train_clean.jsonl"]
    eval_sets = request.config.getoption("--data-eval-sets") or default_eval_locations(root)
    try:
        report = lint_dataset(spec, data, eval_sets)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    if path := request.config.getoption("--data-report"):
        write_json(report, Path(path))
    return report
