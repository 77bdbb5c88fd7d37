"""The harness's command-line options, and what the plugin reads from them: config values, run flags, the shard."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.config import RunFlags
from harness.errors import HarnessError
from harness.shards import Shard

# Options that override [tool.harness] in pyproject.toml: the dest is "harness_" + the HarnessConfig field.
_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--base-model", {"help": "base model: a local directory or demo:base (default: demo:base)"}),
    (
        "--tuned-model",
        {
            "help": "fine-tuned model: a full model or PEFT adapter directory, or demo:NAME "
            "(default: demo:clauses-replay)"
        },
    ),
    (
        "--allow-pickle",
        {
            "action": "store_true",
            "default": None,
            "help": "allow loading pickle (.bin/.pt) checkpoints; they can run code on load",
        },
    ),
    (
        "--trust-remote-code",
        {"action": "store_true", "default": None, "help": "allow model repositories to run their own Python code"},
    ),
    (
        "--allow-download",
        {"action": "store_true", "default": None, "help": "allow fetching models from a hub (off: local paths only)"},
    ),
    ("--device", {"help": "torch device: auto, cpu, cuda, cuda:N (default: auto)"}),
    ("--dtype", {"help": "weights dtype: auto, float32, bfloat16, float16 (default: auto)"}),
    ("--batch-size", {"help": "requests per forward pass; 0 = auto: 16 on CPU, 64 on a GPU, halved on out-of-memory"}),
    ("--eval-data", {"help": "directory of eval sets the suites read (default: fixtures/data)"}),
    ("--cache-dir", {"help": "where the response cache, fingerprints and demo models live (default: .harness/)"}),
    (
        "--no-cache",
        {"action": "store_true", "default": None, "help": "ask the models again instead of using the response cache"},
    ),
    (
        "--cache-sampled",
        {
            "action": "store_true",
            "default": None,
            "help": "also keep sampled (temperature > 0) answers in the response cache; off: only greedy ones",
        },
    ),
    ("--threads", {"help": "torch threads per process (default: cores / xdist workers)"}),
    (
        "--multiplicity",
        {"help": "correction of the run's gated comparisons taken together: holm (default) or bh"},
    ),
    ("--baselines-dir", {"help": "where baselines are stored (default: baselines/)"}),
]

# Run-workflow flags: command line only; each is a boolean field of RunFlags.
_FLAGS: list[tuple[str, str]] = [
    ("--reuse-base", "take the base model's results from the stored baselines when their fingerprints match"),
    ("--update-baselines", "rewrite the stored `base` baselines of the selected tests from this run"),
    ("--promote", "after a passing run, store the tuned model's results as the new `promoted` baseline"),
    ("--force", "with --promote: promote even though the run failed"),
    (
        "--allow-inconclusive",
        "let INCONCLUSIVE gated metrics (eval sets too small to tell) warn instead of failing the run",
    ),
]
_REPORTS = ("--harness-json", "--harness-markdown", "--harness-html")
_WHOLE_RUN = ("--promote", "--update-baselines", "--reuse-base")  # refused with --shard


def _dest(flag: str) -> str:
    return "harness_" + flag.removeprefix("--").removeprefix("harness-").replace("-", "_")


def add_options(parser: pytest.Parser) -> None:
    """Declare the harness's options in their own group of `pytest --help`."""
    group = parser.getgroup("harness", "LLM promotion harness")
    for flag, kwargs in _OPTIONS:
        group.addoption(flag, **{"dest": _dest(flag), "default": None, **kwargs})
    for flag, help_text in _FLAGS:
        group.addoption(flag, action="store_true", default=False, dest=_dest(flag), help=help_text)
    group.addoption("--harness-json", metavar="PATH", default=None, help="write the gate's verdicts as JSON")
    group.addoption("--harness-markdown", metavar="PATH", default=None, help="write the gate's verdicts as Markdown")
    group.addoption(
        "--shard",
        metavar="I/N",
        default=None,
        dest="harness_shard",
        help="answer only share I of N (0-based) of every eval set and case file, into the response cache; "
        "no verdict: combine the shards' caches with `harness merge`, then run without --shard",
    )
    group.addoption(
        "--harness-html",
        metavar="PATH",
        default=None,
        help="write the verdict, forest plot, flipped items and provenance as one self-contained HTML page",
    )


def cli_values(config: pytest.Config) -> dict[str, Any]:
    """Each option's value under its HarnessConfig field name (None when not given)."""
    return {_dest(flag).removeprefix("harness_"): config.getoption(_dest(flag)) for flag, _ in _OPTIONS}


def run_flags(config: pytest.Config) -> RunFlags:
    """The run-workflow flags and report paths of this invocation."""

    def path(option: str) -> Path | None:
        value = config.getoption(_dest(option))
        return Path(value) if value else None

    return RunFlags(
        reuse_base=bool(config.getoption("harness_reuse_base")),
        update_baselines=bool(config.getoption("harness_update_baselines")),
        promote=bool(config.getoption("harness_promote")),
        force=bool(config.getoption("harness_force")),
        allow_inconclusive=bool(config.getoption("harness_allow_inconclusive")),
        json=path("--harness-json"),
        markdown=path("--harness-markdown"),
        html=path("--harness-html"),
        command=("pytest", *config.invocation_params.args),
    )


def shard(config: pytest.Config) -> Shard | None:
    """The --shard share, refused together with options that need a whole run."""
    value = config.getoption("harness_shard")
    if not value:
        return None
    try:
        share = Shard.parse(value)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    if whole := [flag for flag in _WHOLE_RUN if config.getoption(_dest(flag))]:
        raise pytest.UsageError(
            f"--shard {value} gives no verdict and cannot be combined with {whole[0]}; "
            "run it on the merged cache, without --shard"
        )
    return share


def check_report_paths(config: pytest.Config) -> None:
    """Refuse an unwritable --harness-json / --harness-markdown / --harness-html path now, not after the run."""
    for option in _REPORTS:
        value = config.getoption(_dest(option))
        if not value:
            continue
        path = Path(value).expanduser()
        if path.is_dir():
            raise pytest.UsageError(f"{option} {value} is a directory; give the path of a file to write")
        parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise pytest.UsageError(f"{option} {value}: {parent} is not a directory this run can write to")
