"""Harness settings: command-line options over [tool.harness] in pyproject.toml over defaults, resolved once."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_type_hints

if TYPE_CHECKING:
    from harness.rules import GateRule

from harness.errors import HarnessError

DEFAULT_BASE_MODEL = "demo:base"
DEFAULT_TUNED_MODEL = "demo:clauses-replay"
SAME_AS_BASE = "same-as-base"  # --tuned-model for an A/A run: the base against itself
Multiplicity = Literal["holm", "bh"]
MULTIPLICITIES: tuple[Multiplicity, ...] = get_args(Multiplicity)


@dataclass(frozen=True)
class HarnessConfig:
    """Everything the plugin needs to know, after options and pyproject.toml are merged."""

    rootdir: Path
    base_model: str = DEFAULT_BASE_MODEL
    tuned_model: str = DEFAULT_TUNED_MODEL
    allow_pickle: bool = False
    trust_remote_code: bool = False
    allow_download: bool = False
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 0
    eval_data: Path | None = None
    cache_dir: Path | None = None
    no_cache: bool = False
    cache_sampled: bool = False
    baselines_dir: Path | None = None
    threads: int = 0
    multiplicity: Multiplicity = "holm"
    """How the run's gated comparisons are corrected together: holm or bh."""
    seed: int = 0
    """Seed of the gate's bootstrap resampling (paired comparisons and non-inferiority tests)."""
    base_model_origin: str = ""
    """Set when the base was not given: where it came from."""
    gate: dict[str, GateRule] = field(default_factory=dict)
    """The [tool.harness.gate.METRIC] tables, parsed once when the config is resolved."""

    def models_line(self) -> str:
        """'base X, tuned Y', saying where the base came from when it was not given."""
        origin = f" ({self.base_model_origin})" if self.base_model_origin else ""
        return f"base {self.base_model}{origin}, tuned {self.tuned_model}"

    @property
    def eval_data_dir(self) -> Path:
        return self.eval_data or self.rootdir / "fixtures" / "data"

    @property
    def baselines_directory(self) -> Path:
        return self.baselines_dir or self.rootdir / "baselines"

    @property
    def harness_cache_dir(self) -> Path:
        return self.cache_dir or Path(os.environ.get("HARNESS_CACHE_DIR") or self.rootdir / ".harness")


@dataclass(frozen=True)
class RunFlags:
    """What this invocation asks of the end of the run: baseline writes, reports, how INCONCLUSIVE counts."""

    reuse_base: bool = False
    update_baselines: bool = False
    promote: bool = False
    force: bool = False
    allow_inconclusive: bool = False
    json: Path | None = None
    markdown: Path | None = None
    html: Path | None = None
    command: tuple[str, ...] = ()
    """The command line, as the HTML report's provenance shows it."""


_NOT_OPTIONS = ("rootdir", "base_model_origin", "gate")
# config field -> its type, for the fields that options and [tool.harness] may set
OPTION_FIELDS: dict[str, Any] = {
    name: kind
    for name, kind in get_type_hints(HarnessConfig, localns={"GateRule": Any}).items()
    if name not in _NOT_OPTIONS and name in {f.name for f in fields(HarnessConfig)}
}


def read_pyproject_table(rootdir: Path) -> dict[str, Any]:
    """The [tool.harness] table of rootdir/pyproject.toml, or {} when there is none."""
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: not valid TOML ({exc})", hint="fix the syntax error it names") from None
    table = data.get("tool", {}).get("harness", {})
    if not isinstance(table, dict):
        raise HarnessError(f"{path}: [tool.harness] must be a table")
    return table


def gate_rules(rootdir: Path, table: Any) -> dict[str, GateRule]:
    """[tool.harness.gate.<metric>] tables, parsed into GateRules."""
    from harness.rules import GateRule

    where = f"{rootdir / 'pyproject.toml'} [tool.harness.gate"
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise HarnessError(
            f"{where}]: each metric needs its own table", hint="write [tool.harness.gate.general_accuracy]"
        )
    return {metric: GateRule.parse(rules, f"{where}.{metric}]") for metric, rules in table.items()}


def _coerce(name: str, value: Any, source: str, rootdir: Path) -> Any:
    kind = OPTION_FIELDS[name]
    if Path in get_args(kind):
        return None if value in (None, "") else (rootdir / Path(str(value)).expanduser()).resolve()
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise HarnessError(f"{source}: {name} must be true or false, got {value!r}")
    if kind is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise HarnessError(f"{source}: {name} must be a whole number, got {value!r}") from None
    return str(value)


def resolve_config(rootdir: Path, cli: dict[str, Any]) -> HarnessConfig:
    """Merge command-line values (None = not given) over [tool.harness] over the defaults."""
    table = read_pyproject_table(rootdir)
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name == "gate":
            values["gate"] = gate_rules(rootdir, value)
            continue
        if name not in OPTION_FIELDS:
            known = ", ".join(sorted(OPTION_FIELDS))
            raise HarnessError(
                f"{rootdir / 'pyproject.toml'}: unknown key {key!r} in [tool.harness]", hint=f"use one of: {known}"
            )
        values[name] = _coerce(name, value, f"{rootdir / 'pyproject.toml'} [tool.harness]", rootdir)
    for name, value in cli.items():
        if value is not None:
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}", Path.cwd())
    if values.get("batch_size", 0) < 0:
        raise HarnessError(
            f"batch size must be a positive number, got {values['batch_size']}",
            hint="pass --batch-size 16, or 0 for auto",
        )
    if "base_model" not in values and "tuned_model" in values:
        values["base_model"] = default_base_model(str(values["tuned_model"]), bool(values.get("allow_download")))
        if values["base_model"] != DEFAULT_BASE_MODEL:
            values["base_model_origin"] = "named in the adapter's adapter_config.json"
    if values.get("multiplicity", "holm") not in MULTIPLICITIES:
        raise HarnessError(
            f"multiplicity must be holm or bh, got {values['multiplicity']!r}",
            hint="holm controls the chance of any false FAIL; bh the share of false FAILs among them",
        )
    return HarnessConfig(rootdir=rootdir, **values)


def default_base_model(tuned_model: str, allow_download: bool) -> str:
    """The base to compare with when only --tuned-model is given: the base an adapter names, or the demo base.

    A full model (or a server URL) does not say what it was fine-tuned from, so it needs --base-model.
    """
    from harness.models.loading import DEMO_PREFIX, LoadOptions, base_for_adapter

    if tuned_model.startswith(DEMO_PREFIX) or tuned_model == SAME_AS_BASE:
        return DEFAULT_BASE_MODEL
    base = base_for_adapter(tuned_model, LoadOptions(allow_download=allow_download))
    if base is not None:
        return base
    raise HarnessError(
        f"--tuned-model {tuned_model} is not an adapter that names its base, and no --base-model was given",
        hint="pass --base-model with the model it was fine-tuned from (or set base_model in [tool.harness])",
    )
