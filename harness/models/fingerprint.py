"""Content fingerprints of model directories, cached by (path, size, mtime) so big checkpoints hash once."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from harness.atomic import atomic_write_text

# Files that decide what a model computes: weights, config, tokenizer, adapter config.
_RELEVANT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".json", ".model", ".txt", ".jinja")
_CHUNK = 1 << 20


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class DigestCache:
    """A small JSON map from (absolute path, size, mtime_ns) to sha256, so unchanged files are not re-read."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[str, str] = {}
        self._dirty = False
        if path is not None and path.is_file():
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self._entries = {str(k): str(v) for k, v in loaded.items()}
            except (OSError, ValueError):
                self._entries = {}

    def digest(self, file: Path) -> str:
        stat = file.stat()
        key = f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self._entries:
            self._entries[key] = _file_digest(file)
            self._dirty = True
        return self._entries[key]

    def save(self) -> None:
        if self.path is not None and self._dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps(self._entries, indent=0, sort_keys=True))
            self._dirty = False


def fingerprint_directory(directory: Path, cache: DigestCache | None = None) -> str:
    """sha256 over the names and contents of the files that define a model (or adapter) directory."""
    cache = cache or DigestCache(None)
    combined = hashlib.sha256()
    files = sorted(
        p for p in directory.rglob("*") if p.is_file() and p.suffix in _RELEVANT_SUFFIXES and ".git" not in p.parts
    )
    for file in files:
        combined.update(os.fsencode(file.relative_to(directory).as_posix()))
        combined.update(cache.digest(file).encode())
    return combined.hexdigest()


def combine(*parts: str) -> str:
    """One fingerprint from several (e.g. base weights + adapter + tokenizer)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
