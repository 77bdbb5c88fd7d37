"""Loading tokenizers and models from local directories only, never running code shipped with them.

A directory whose config names custom classes (`auto_map`) would make transformers ask on stdin whether to run
that code; here `trust_remote_code=False` is always passed, so it is refused at once, with the directory named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import HarnessError


def load_local(loader: Any, directory: str | Path, *, what: str, hint: str, **options: Any) -> Any:
    """`loader.from_pretrained(directory)` from local files, no downloads, no custom code, no prompt.

    `what` names the setting the directory came from (e.g. "length.tokenizer"); any failure is a HarnessError
    naming it and the directory.
    """
    location = Path(directory)
    if not location.is_dir():
        raise HarnessError(f"{what} {str(directory)!r} is not a directory", hint=hint)
    try:
        return loader.from_pretrained(str(location), local_files_only=True, trust_remote_code=False, **options)
    except Exception as exc:  # transformers raises many types for a bad directory; all are the user's to fix
        message = str(exc)
        if "trust_remote_code" in message or "custom code" in message:
            raise HarnessError(
                f"{what} {str(directory)!r} needs custom Python code (auto_map in its config), "
                "which the harness never runs",
                hint="use a directory saved with a built-in transformers class (e.g. a tokenizer.json tokenizer)",
            ) from None
        first = next((line for line in message.splitlines() if line.strip()), type(exc).__name__)
        raise HarnessError(f"{what} {str(directory)!r} could not be loaded: {first}", hint=hint) from None
