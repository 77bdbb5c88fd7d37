"""Settings: [tool.harness] read once, coerced by the config's own field types, gate tables parsed with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import resolve_config
from harness.errors import HarnessError
from harness.rules import GateRule, Threshold


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(table, encoding="utf-8")
    return tmp_path


def test_each_key_is_coerced_by_the_type_of_its_field(tmp_path):
    root = _project(
        tmp_path,
        '[tool.harness]\nseed = 7\nbaselines-dir = "refs"\nno-cache = true\nmultiplicity = "bh"\n'
        "[tool.harness.gate.acc]\nmax_drop_vs_base = '5%'\nalpha = 0.01\n",
    )
    config = resolve_config(root, {"threads": "3"})
    assert (config.seed, config.threads, config.no_cache, config.multiplicity) == (7, 3, True, "bh")
    assert config.baselines_directory == (root / "refs").resolve()
    assert config.gate == {"acc": GateRule(max_drop_vs_base=Threshold(0.05, relative=True), alpha=0.01)}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("seed = 'lucky'", r"\[tool.harness\]: seed must be a whole number, got 'lucky'"),
        ("no-cache = 'yes'", r"no_cache must be true or false, got 'yes'"),
        ("multiplicity = 'bonferroni'", r"multiplicity must be holm or bh, got 'bonferroni'"),
        ("[tool.harness.gate.acc]\nmax_dorp = 0.1", r"\[tool.harness.gate.acc\]: unknown gate rule 'max_dorp'"),
        ("gate = 3", r"each metric needs its own table"),
    ],
)
def test_a_bad_setting_names_its_key_when_the_config_is_resolved(tmp_path, table, message):
    root = _project(tmp_path, "[tool.harness]\n" + table + "\n")
    with pytest.raises(HarnessError, match=message):
        resolve_config(root, {})
