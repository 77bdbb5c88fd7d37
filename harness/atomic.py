"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path


def _mode_for(path: Path) -> int:
    """The replaced file's permissions, or what a plain open() would give a new file (0666 less umask)."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same directory, fsync it, then rename over `path`.

    The file keeps the permissions of the one it replaces (a new one gets the usual 0666 less umask,
    not the private 0600 of a temporary file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Atomic write of UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


TEMPORARY_GLOB = ".*.tmp"  # what an interrupted atomic write leaves next to its target


def atomic_write_many(files: Mapping[Path, str]) -> None:
    """Write several text files as one change: every temporary first, then the renames.

    A failure before the renames leaves every file as it was; the renames themselves take microseconds.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            os.fchmod(fd, _mode_for(path))
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:  # the ones not renamed yet; a renamed one is gone from here already
            Path(tmp).unlink(missing_ok=True)
        raise


def remove_leftover_temporaries(directory: Path) -> list[Path]:
    """Delete temporaries that a killed atomic write left under `directory`; returns what was removed."""
    if not directory.is_dir():
        return []
    removed = [p for p in directory.rglob(TEMPORARY_GLOB) if p.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
