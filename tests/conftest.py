"""Fixtures shared by the unit tests."""

from pathlib import Path

import pytest

from greenlab import zoo
from greenlab.model import GPTConfig
from greenlab.train import TrainConfig


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh, empty greenlab cache folder (and so a fresh green ledger) for one test."""
    monkeypatch.setenv("GREENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


TINY = zoo.Recipe("tiny", "a test recipe", GPTConfig(vocab_size=300, block_size=16, n_layer=1, n_head=2, n_embd=16),
                  TrainConfig(steps=6, batch_size=4, block_size=16, warmup_steps=1, eval_interval=3, eval_batches=1),
                  vocab_size=300)


@pytest.fixture
def tiny(cache, monkeypatch) -> str:
    """A tiny recipe, "tiny", in the zoo (trained in a second), with a fresh cache."""
    monkeypatch.setitem(zoo.RECIPES, "tiny", {"cpu": TINY, "gpu": TINY})
    return "tiny"
