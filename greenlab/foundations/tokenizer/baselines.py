"""Two simpler tokenizers to compare BPE with: one token per character, and one per word.

Both learn a fixed vocabulary from a training text and map anything else to `<unk>` — the out-of-vocabulary
problem that byte-level BPE removes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter

import regex

from greenlab.foundations.settings import check_whole
from greenlab.foundations.tokenizer.interface import as_token_id

UNKNOWN = "<unk>"
WORD_PATTERN = regex.compile(r"\p{L}+|\p{N}+|[^\s\p{L}\p{N}]")


class _FixedVocabulary(ABC):
    """A vocabulary learned once: id 0 is `<unk>`, then the known pieces."""

    def __init__(self, pieces: list[str]):
        self.itos = [UNKNOWN, *pieces]
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @abstractmethod
    def split(self, text: str) -> list[str]:
        """The text as vocabulary pieces."""

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(piece, 0) for piece in self.split(text)]

    def tokens(self, text: str) -> list[str]:
        return [self.itos[i] for i in self.encode(text)]

    def _piece(self, token_id: int) -> str:
        """The piece of one id: an integer (Python's, NumPy's or a tensor's) of the vocabulary; a negative id is an
        error, not a count from the end."""
        return self.itos[check_whole("token id", as_token_id(token_id), 0, self.vocab_size - 1,
                                     why=f"the vocabulary has {self.vocab_size} pieces")]


class CharTokenizer(_FixedVocabulary):
    """One token per character seen in training; unseen characters become `<unk>`."""

    def __init__(self, text: str):
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        super().__init__(sorted(set(text)))

    def split(self, text: str) -> list[str]:
        return list(text)

    def decode(self, ids: list[int]) -> str:
        return "".join(self._piece(i) for i in ids)


class WordTokenizer(_FixedVocabulary):
    """One token per word or punctuation mark, for the `max_words` most frequent; spaces are dropped."""

    def __init__(self, text: str, max_words: int = 10_000):
        check_whole("max_words", max_words, why="the vocabulary's size, <unk> included")
        words = WORD_PATTERN.findall(text)
        if not words:
            raise ValueError("cannot build a vocabulary from a text without words")
        super().__init__([w for w, _ in Counter(words).most_common(max_words - 1)])

    def split(self, text: str) -> list[str]:
        return WORD_PATTERN.findall(text)

    def decode(self, ids: list[int]) -> str:
        """Words joined by single spaces: the original spacing is lost."""
        return " ".join(self._piece(i) for i in ids)
