"""Every malformed or hostile input ends in one clear message: a table per family (tests/bad_inputs/),
each case a real pytest session, checked for its outcome, its text, its time bound, and no traceback
from inside the plugin or a runtime."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import time
from pathlib import Path

import pytest
from bad_inputs import DATA, MODELS, Case
from conftest import CRASH_MARKERS, SUITES

# Frames a user must never see: the plugin's own code, or a runtime's.
FOREIGN_FRAMES = ("pytest_edgeqa/", "site-packages/openvino", "site-packages/onnxruntime", "site-packages/nncf")


def _cases() -> list[Case]:
    import bad_inputs

    found: list[Case] = []
    for info in pkgutil.iter_modules(bad_inputs.__path__):
        found += importlib.import_module(f"bad_inputs.{info.name}").CASES
    return found


CASES = _cases()


def _lay_out(root: Path, case: Case) -> None:
    for rel, content in case.files.items():
        if content == MODELS:
            shutil.copytree(SUITES / "models", root / rel, dirs_exist_ok=True)
        elif content == DATA:
            shutil.copytree(SUITES / "data", root / rel, dirs_exist_ok=True)
        else:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    _lay_out(pytester.path, case)
    if case.setup is not None:
        case.setup(pytester.path)
    start = time.monotonic()
    if case.subprocess:
        result = pytester.runpytest_subprocess(*case.args, timeout=case.timeout)
    else:
        result = pytester.runpytest(*case.args)
    took = time.monotonic() - start
    text = result.stdout.str() + "\n" + result.stderr.str()
    where = f"{case.id} ({case.note})\n{text}" if case.note else f"{case.id}\n{text}"
    for expected in case.expect:
        assert expected in text, f"missing {expected!r} in {where}"
    for unexpected in case.absent:
        assert unexpected not in text, f"unexpected {unexpected!r} in {where}"
    for marker in CRASH_MARKERS + FOREIGN_FRAMES:
        assert marker not in text, f"{marker!r} in {where}"
    if case.outcomes is not None:
        result.assert_outcomes(**case.outcomes)
    if case.exit_code is not None:
        assert result.ret == case.exit_code, where
    assert took < case.timeout, f"{case.id} took {took:.0f} s"
    if case.check is not None:
        case.check(pytester.path)
    assert len(text) < 200_000, f"{case.id}: {len(text)} characters of output"  # no value printed whole


def test_there_are_at_least_eighty_cases_across_every_family() -> None:
    families = {c.id.split("-", 1)[0] for c in CASES}
    assert len(CASES) >= 80, len(CASES)
    assert {"options", "markers", "data", "models", "goldens", "cache", "suites", "security"} <= families, families
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
