"""What every tokenizer of the course offers, byte-level BPE and the character and word baselines alike.

    ids = tokenizer.encode(text)          # text -> token ids, each below tokenizer.vocab_size
    tokenizer.decode(ids)                 # ids -> text (the baselines lose what their vocabulary lacks: <unk>)
    tokenizer.tokens(text)                # the pieces as strings, to see where the cuts fall

A model, a widget or a cost measurement written against this interface takes any of the three, which is how
notebook 01 compares them on equal terms.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Tokenizer(Protocol):
    """Text to ids and back, the vocabulary's size, and the pieces as strings."""

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def tokens(self, text: str) -> list[str]: ...
