"""Our errors as pytest outcomes: an ``Unsupported`` skips, any other ``EdgeQAError`` fails in one paragraph."""

from __future__ import annotations

from typing import Literal

import pytest

from .errors import EdgeQAError, Unsupported


class as_outcome:
    """Our errors become a one-paragraph failure (or a skip), never a traceback into the plugin.

    A class, not @contextmanager: its __exit__ frame can be hidden, so pytest reports the user's line
    as the location, and `from None` drops the 'during handling of the above exception' chain."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> Literal[False]:
        __tracebackhide__ = True
        if isinstance(exc, Unsupported):
            raise pytest.skip.Exception(str(exc)) from None
        if isinstance(exc, EdgeQAError):
            raise pytest.fail.Exception(str(exc), pytrace=False) from None
        return False
