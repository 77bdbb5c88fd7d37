"""RE2 for patterns and texts users supply: linear-time matching, and text made safe for RE2 to read."""

from __future__ import annotations

import re

import re2

_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """`text` with lone surrogates (not encodable as UTF-8) replaced by U+FFFD, so RE2 can read it."""
    return _SURROGATE.sub("\ufffd", text)


def re2_options() -> re2.Options:
    """RE2 options that do not log to stderr: the caller reports the error where the pattern was written."""
    options = re2.Options()
    options.log_errors = False
    return options
