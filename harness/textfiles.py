"""Reading the user's text files: bounded in size, strictly UTF-8, with the byte offset of a bad byte."""

from __future__ import annotations

from pathlib import Path

from harness.errors import HarnessError

MAX_TEXT_BYTES = 256 * 1024 * 1024  # eval sets and logs; YAML documents get a far smaller limit


def decode_utf8(data: bytes, source: str) -> str:
    """UTF-8 text (a leading byte-order mark is dropped); a bad byte is an error naming its line and offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise HarnessError(
            f"{source}:{line}: not UTF-8 text (byte {data[exc.start]:#04x} at byte offset {exc.start})",
            hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8 FILE > NEW`)",
        ) from None


def read_text(path: Path, *, max_bytes: int = MAX_TEXT_BYTES, source: str | None = None) -> str:
    """The file's text: refused when missing, larger than `max_bytes`, or not UTF-8."""
    source = source or str(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise HarnessError(
                f"{source}: {size:,} bytes is more than the {max_bytes:,} this file may hold",
                hint="split the file, or check that it is the file you meant",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise HarnessError(f"{source}: cannot be read ({exc.strerror or exc})", hint="check the path") from None
    return decode_utf8(data, source)
