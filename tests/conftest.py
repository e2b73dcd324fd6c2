"""Fixtures shared by the unit tests."""

from pathlib import Path

import pytest
import torch
from torch import nn


class Bigram(nn.Module):
    """The smallest language model: the next token depends on the current one only (every byte by default)."""

    def __init__(self, vocab: int = 256):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        self.norm = nn.LayerNorm(32)
        self.head = nn.Linear(32, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.embed(ids)))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh, empty greenlab cache folder (and so a fresh green ledger) for one test."""
    monkeypatch.setenv("GREENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def tiny(cache) -> str:
    """The zoo's test-size recipe, "tiny" (trained in a second), with a fresh cache."""
    return "tiny"


@pytest.fixture
def bigram() -> type[Bigram]:
    """The class of the smallest language model, for the training and checkpoint tests: call it for a fresh one."""
    return Bigram
