"""Fixtures shared by the unit tests."""

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh, empty greenlab cache folder (and so a fresh green ledger) for one test."""
    monkeypatch.setenv("GREENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def tiny(cache) -> str:
    """The zoo's test-size recipe, "tiny" (trained in a second), with a fresh cache."""
    return "tiny"
