"""Two simpler tokenizers to compare BPE with: one token per character, and one per word.

Both learn a fixed vocabulary from a training text and map anything else to `<unk>` — the out-of-vocabulary
problem that byte-level BPE removes. The character vocabulary can also hold other special tokens at chosen ids,
which is how a sequence-to-sequence task's vocabulary (`greenlab.foundations.tasks.PairVocabulary`) is built.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter

import regex

from greenlab.foundations.validation import check_whole
from greenlab.foundations.tokenizer.interface import as_token_id

UNKNOWN = "<unk>"
WORD_PATTERN = regex.compile(r"\p{L}+|\p{N}+|[^\s\p{L}\p{N}]")


class _FixedVocabulary(ABC):
    """A vocabulary learned once: the special tokens at their ids (by default only `<unk>`, at 0), the known pieces
    in order at the ids left between them."""

    def __init__(self, pieces: list[str], specials: dict[str, int] | None = None):
        specials = {UNKNOWN: 0} if specials is None else specials
        if not isinstance(specials, dict) or not all(isinstance(token, str) for token in specials):
            raise TypeError(f"specials maps each special token (a str) to its id, got {specials!r}")
        if UNKNOWN not in specials:
            raise ValueError(f"specials must give {UNKNOWN} an id too, got {specials!r}")
        if clashes := sorted(set(specials) & set(pieces)):
            raise ValueError(f"special tokens cannot be pieces of the text too, got {', '.join(map(repr, clashes))}")
        size = len(specials) + len(pieces)
        special_at = {check_whole(f"the id of {token}", token_id, 0, size - 1, why=f"an id of the {size} tokens"): token
                      for token, token_id in specials.items()}
        if len(special_at) < len(specials):
            raise ValueError(f"the special tokens need distinct ids, got {specials}")
        known = iter(pieces)
        self.itos = [special_at[i] if i in special_at else next(known) for i in range(size)]
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.unk_id = self.stoi[UNKNOWN]

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @abstractmethod
    def split(self, text: str) -> list[str]:
        """The text as vocabulary pieces."""

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(piece, self.unk_id) for piece in self.split(text)]

    def tokens(self, text: str) -> list[str]:
        return [self.itos[i] for i in self.encode(text)]

    def _piece(self, token_id: int) -> str:
        """The piece of one id: an integer (Python's, NumPy's or a tensor's) of the vocabulary; a negative id is an
        error, not a count from the end."""
        return self.itos[check_whole("token id", as_token_id(token_id), 0, self.vocab_size - 1,
                                     why=f"the vocabulary has {self.vocab_size} pieces")]


class CharTokenizer(_FixedVocabulary):
    """One token per character seen in training, in sorted order; unseen characters become `<unk>`. `specials`
    places special tokens at chosen ids, `<unk>` among them (by default `<unk>` alone, at 0): a model that reads
    padding or a start token at fixed ids gets a vocabulary laid out to match."""

    def __init__(self, text: str, *, specials: dict[str, int] | None = None):
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        super().__init__(sorted(set(text)), specials)

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
