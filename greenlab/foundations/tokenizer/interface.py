"""What every tokenizer of the course offers, byte-level BPE and the character and word baselines alike.

    ids = tokenizer.encode(text)          # text -> token ids, each below tokenizer.vocab_size
    tokenizer.decode(ids)                 # ids -> text (the baselines lose what their vocabulary lacks: <unk>)
    tokenizer.tokens(text)                # the pieces as strings, to see where the cuts fall

A model, a widget or a cost measurement written against this interface takes any of the three, which is how
notebook 01 compares them on equal terms.
"""

from __future__ import annotations

import operator
from typing import Protocol, runtime_checkable


@runtime_checkable
class Tokenizer(Protocol):
    """Text to ids and back, the vocabulary's size, and the pieces as strings."""

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def tokens(self, text: str) -> list[str]: ...


def as_token_id(value: object) -> int:
    """A token id as a Python int: an int, a numpy or torch integer; a float (1.5) is an error, not truncated."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"token ids are integers, got {value!r} ({type(value).__name__})") from None
