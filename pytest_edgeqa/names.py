"""What a suite, a marker or a fixture argument may use as the name of a registered metric or preprocess
function, and what a string that is not such a name looks like, for messages. A leaf: the registry, the
metrics and the suite reader all ask it."""

from __future__ import annotations

import re
from typing import Any

# What a suite, a marker or a fixture argument may use as the name of a registered metric or preprocess
# function: a word, never a path, a hub id or an import path, so a name can be nothing but a name.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}\Z")
NAME_RULE = "a name: letters, digits, '_' and '-', at most 64, starting with a letter or '_'"


def is_name(text: Any) -> bool:
    return isinstance(text, str) and NAME.match(text) is not None


def describe(text: str) -> str:
    """What a string that is not a plain name looks like it is, for messages."""
    if text.endswith(".py") or text.startswith((".", "/", "~")) or "\\" in text:
        return "a path to a script"
    if ":" in text:
        return "an import path ('module:function')"
    if text.count("/") == 1:
        return "a Hugging Face Hub id"
    if "/" in text:
        return "a path"
    return "not a plain name"
