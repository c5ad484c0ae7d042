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
