"""The environment a number was measured in, and how two such environments differ.

Stored results carry it so that a number moved by a new torch, another device or another thread count is
told apart from a number moved by another model, other data or other decoding settings (those make a
stored result stale; an environment change is only reported).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

LIBRARIES = ("torch", "transformers", "peft", "tokenizers")


@cache
def library_versions() -> dict[str, str]:
    """The harness's version and those of the libraries that compute the numbers."""
    from harness import __version__

    versions = {"harness": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def describe(model: Any) -> dict[str, Any]:
    """Versions plus what the model's backend reports (device, dtype, batch size, threads; or the server's)."""
    backend = model.environment() if hasattr(model, "environment") else {}
    return {**library_versions(), **backend}


def differences(stored: Mapping[str, Any], live: Mapping[str, Any]) -> list[str]:
    """'torch 2.12.0 -> 2.13.0' for each setting recorded on both sides with different values."""
    return [
        f"{key} {stored[key]} -> {live[key]}"
        for key in sorted(set(stored) & set(live))
        if str(stored[key]) != str(live[key])
    ]


def summary_line(changes: Sequence[str]) -> str | None:
    """One line for the end of a run (None when nothing changed), like pytest-benchmark's machine-info warning."""
    unique = list(dict.fromkeys(changes))
    if not unique:
        return None
    return (
        "environment: stored baselines were measured in another environment ("
        + ", ".join(unique)
        + "); the comparisons ran, but small differences may come from the environment"
    )
