"""The one error type for mistakes a user can fix: a bad file, path, option or case."""

from __future__ import annotations


class HarnessError(Exception):
    """A problem in the user's input, with a message that names where it is and how to fix it.

    The pytest plugin shows these as one readable line, without a harness-internal traceback.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.hint = hint
        super().__init__(f"{message}\n  fix: {hint}" if hint else message)
