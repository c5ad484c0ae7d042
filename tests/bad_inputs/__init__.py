"""Malformed and hostile inputs, one table per family: what a user gives, and the one message they must read.

Each family module (options, markers, data, models, goldens, cache, suites, security) defines ``CASES``, a
list of ``Case``; tests/test_bad_inputs.py runs every case as a real pytest session and checks that it
ends in the expected outcome with the expected text, within its time bound, and with no traceback from
inside the plugin or a runtime."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Files a case may ask for: the example models and data, copied into the session's directory.
MODELS = "@models"
DATA = "@data"


@dataclass(frozen=True)
class Case:
    id: str  # "<family>-<what>", unique: the test id
    # relative path -> content; MODELS / DATA copy the examples
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # the command line after `pytest`
    expect: tuple[str, ...] = ()  # texts the user must read, each a substring of stdout + stderr
    outcomes: Mapping[str, int] | None = None  # e.g. {"failed": 1}: pytest's counts (passed, failed, skipped, errors)
    exit_code: int | None = None  # e.g. 4 for a usage error
    absent: tuple[str, ...] = ()  # texts that must not appear
    setup: Callable[[Path], Any] | None = None  # prepares what files cannot say (a read-only dir, a corrupt cache)
    subprocess: bool = False  # run in a child process bounded by ``timeout`` (for what could hang or blow up)
    timeout: float = 120.0
    note: str = ""  # what was seen before the fix, for the reader of a failure
    check: Callable[[Path], None] | None = None  # asserts on the session's directory afterwards (e.g. no code ran)
