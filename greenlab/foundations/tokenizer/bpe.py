"""Byte-level byte-pair encoding (BPE), the tokenizer of GPT-2 and most language models since.

The idea fits in four lines:
    1. Split text into chunks with a regex (words with their leading space, numbers, punctuation, spaces),
       so that no token ever spans "dog" and "." — this is GPT-2's pre-tokenization.
    2. Write each chunk as UTF-8 bytes: 256 base tokens cover every possible text. Nothing is out of vocabulary.
    3. Merge the most frequent pair of adjacent tokens into a new token, until the vocabulary has `vocab_size`
       tokens. The ordered list of merges *is* the tokenizer.
    4. To encode, split and write as bytes the same way, then apply the merges in the order they were learned.

`plain_bpe.py` writes steps 3 and 4 as plain loops: read it first. This module learns the same merges in seconds
instead of minutes, and the same as Hugging Face `tokenizers` from the same text (`tie_break_rank`).
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import regex

from greenlab.foundations.validation import check_whole
from greenlab.foundations.tokenizer.interface import as_token_id

GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
END_OF_TEXT = "<|endoftext|>"
FILE_FORMAT = "greenlab-bpe"
FILE_VERSION = 1
ROUND_TRIP_PROBE = "Hello, World 42!\n\tÜber x_y=1; 😀 it's"  # every tokenizer must give this text back whole


def to_bytes(text: str) -> bytes:
    """UTF-8, keeping lone surrogates (which Python strings may hold) as their 3-byte form, so they round-trip."""
    return text.encode("utf-8", errors="surrogatepass")


def from_bytes(data: bytes) -> str:
    """The inverse of `to_bytes`; bytes that are no valid text (a model's odd output) become U+FFFD."""
    try:
        return data.decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in character for each byte (Hugging Face's byte-level vocabulary uses them)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, codes)}


def printable(token: bytes) -> str:
    """A token's bytes spelled with their stand-ins, as Hugging Face's byte-level vocabularies write them."""
    stand_in = bytes_to_unicode()
    return "".join(stand_in[b] for b in token)


def from_printable(text: str) -> bytes:
    """The inverse of `printable`."""
    byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
    return bytes(byte_of[char] for char in text)


@lru_cache(maxsize=1)
def _byte_tie_ranks() -> tuple[int, ...]:
    stand_ins = bytes_to_unicode()
    order = sorted(range(256), key=lambda b: stand_ins[b])
    ranks = [0] * 256
    for rank, b in enumerate(order):
        ranks[b] = rank
    return tuple(ranks)


def tie_break_rank(token_id: int) -> int:
    """Among equally frequent pairs, the smallest (rank, rank) is merged first, as Hugging Face's trainer does with
    its ids, which list the 256 bytes in the order of their printable stand-ins (`bytes_to_unicode`). Our ids are
    the byte values themselves, easier to read, so bytes are ranked by their stand-in."""
    return _byte_tie_ranks()[token_id] if token_id < 256 else token_id


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids` (left to right, without overlaps) by `new_id`."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def encode_bytes(data: bytes, merges: dict[tuple[int, int], int],
                 ranks: dict[tuple[int, int], int] | None = None) -> list[int]:
    """Apply `merges` ({pair: new id}, in the order learned) to the bytes: always the earliest-learned pair first.
    The result is exactly the plain loop's (tests compare the two), but a long chunk (a run of 100,000 digits or
    spaces) costs n log n instead of n². `ranks` ({pair: position in merges}) can be passed in when encoding many
    texts with the same merges."""
    # The tokens form a linked list and the pairs wait in a heap by (rank, position): a merge touches only its
    # two neighbours.
    ids = list(data)
    ranks = ranks if ranks is not None else {pair: rank for rank, pair in enumerate(merges)}
    end = len(ids)  # the list's end marker
    following = list(range(1, end + 1))  # following[i]: the token after token i (tokens keep their first index)
    preceding = list(range(-1, end - 1))
    heap = [(ranks[pair], i) for i, pair in enumerate(zip(ids, ids[1:])) if pair in ranks]
    heapq.heapify(heap)
    while heap:
        rank, positions, merged = heap[0][0], [], []
        while heap and heap[0][0] == rank:  # every occurrence of the earliest-learned pair, left to right
            positions.append(heapq.heappop(heap)[1])
        for i in sorted(set(positions)):
            j = following[i]
            if ids[i] is None or j == end or ranks.get((ids[i], ids[j])) != rank:
                continue  # merged away, or overlapping a merge just made ("aaa": only the first "aa")
            ids[i], ids[j] = merges[(ids[i], ids[j])], None
            following[i] = following[j]
            if following[j] != end:
                preceding[following[j]] = i
            merged.append(i)
        for i in merged:  # the merged token's new neighbours may form pairs that a merge applies to
            for left in (preceding[i], i):
                if left >= 0 and following[left] != end and (pair := (ids[left], ids[following[left]])) in ranks:
                    heapq.heappush(heap, (ranks[pair], left))
    return [token for token in ids if token is not None]


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_training_input(text: str, vocab_size: int, special_tokens: tuple[str, ...]) -> int:
    """`vocab_size`, once the text is non-empty text, the special tokens a tuple and the vocabulary large enough
    for the 256 bytes and the special tokens; else a ValueError naming the value. Both trainers (this one and
    plain_bpe's) check their input here."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"cannot train a tokenizer on {text!r}: it needs a non-empty text (a string)")
    if isinstance(special_tokens, str):
        raise ValueError(f"special_tokens must be a tuple of strings, got the string {special_tokens!r}")
    minimum = 256 + len(special_tokens)
    return check_whole("vocab_size", vocab_size, minimum, why=f"the 256 bytes and {len(special_tokens)} special "
                                                             f"token(s) need at least {minimum}")


class BPETokenizer:
    """A trained byte-level BPE tokenizer: merges (in order), vocabulary and special tokens."""

    def __init__(self, merges: list[tuple[int, int, int]], special_tokens: dict[str, int],
                 pattern: str = GPT2_SPLIT_PATTERN):
        self.merges = [tuple(m) for m in merges]  # (left id, right id, new id), in the order learned
        self.special_tokens = dict(special_tokens)
        self.pattern = pattern
        self._split = regex.compile(pattern)
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        for number, merge_ in enumerate(self.merges):
            if len(merge_) != 3 or not all(_is_id(i) for i in merge_):
                raise ValueError(f"merge {number} is {merge_!r}, not three token ids (left, right, new)")
            left, right, new = merge_
            if left not in self.vocab or right not in self.vocab:
                raise ValueError(f"merge {number} {merge_!r} joins an id that no earlier merge made")
            made = self.vocab[left] + self.vocab[right]
            if new < 256 or self.vocab.get(new, made) != made:
                raise ValueError(f"merge {number} {merge_!r} gives id {new}, which already stands for "
                                 f"{self.vocab[new]!r}")
            self.vocab[new] = made
        for text, token_id in self.special_tokens.items():
            if not isinstance(text, str) or not text:
                raise ValueError(f"a special token must be a non-empty string, got {text!r}")
            if not _is_id(token_id) or token_id in self.vocab:
                raise ValueError(f"special token {text!r} has id {token_id!r}, which is not a free token id")
        if len(set(self.special_tokens.values())) != len(self.special_tokens):
            raise ValueError(f"two special tokens share an id: {self.special_tokens}")
        self.merge_table = {(left, right): new for left, right, new in self.merges}  # ordered as learned
        self.ranks = {pair: rank for rank, pair in enumerate(self.merge_table)}
        self._special_split = (regex.compile("(" + "|".join(map(regex.escape, self.special_tokens)) + ")")
                               if self.special_tokens else None)
        self._encode_chunk = lru_cache(maxsize=65536)(self._encode_chunk_uncached)
        ids = sorted([*self.vocab, *self.special_tokens.values()])
        if ids[-1] != len(ids) - 1:  # a model's embedding has one row per id, so no id may skip ahead
            raise ValueError(f"the token ids must run from 0 to {len(ids) - 1} without a gap, but one is {ids[-1]}")
        if (back := self.decode(self.encode_ordinary(ROUND_TRIP_PROBE))) != ROUND_TRIP_PROBE:
            raise ValueError(f"the split pattern {pattern!r} loses text: {ROUND_TRIP_PROBE!r} comes back as {back!r}")
        self._encode_chunk.cache_clear()  # a new tokenizer starts with an empty encoding cache

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    # --- training -------------------------------------------------------------------------------------

    @classmethod
    def train(cls, text: str, vocab_size: int, special_tokens: tuple[str, ...] = (END_OF_TEXT,),
              pattern: str = GPT2_SPLIT_PATTERN) -> BPETokenizer:
        """Learn merges from `text` until the vocabulary (bytes + merges + special tokens) has `vocab_size`."""
        vocab_size = check_training_input(text, vocab_size, special_tokens)
        chunk_counts = Counter(regex.findall(pattern, text))
        words = [list(to_bytes(chunk)) for chunk in chunk_counts]
        counts = list(chunk_counts.values())

        # Pairs are counted once; each merge then updates the counts of the words it touches only, and a heap finds
        # the most frequent pair (plain_bpe recounts everything for every merge).
        pair_counts: Counter = Counter()
        where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> the words that contain it
        for w, (word, count) in enumerate(zip(words, counts)):
            for pair in zip(word, word[1:]):
                pair_counts[pair] += count
                where[pair].add(w)
        heap = [(-c, tie_break_rank(a), tie_break_rank(b), (a, b)) for (a, b), c in pair_counts.items()]
        heapq.heapify(heap)

        vocab = {i: bytes([i]) for i in range(256)}
        id_of = {v: k for k, v in vocab.items()}
        merges: list[tuple[int, int, int]] = []
        while len(vocab) + len(special_tokens) < vocab_size and heap:
            negative_count, _, _, pair = heapq.heappop(heap)
            if -negative_count != pair_counts.get(pair, 0) or negative_count == 0:
                continue  # a stale entry: this pair's count changed since it was pushed
            new_bytes = vocab[pair[0]] + vocab[pair[1]]
            new_id = id_of.setdefault(new_bytes, len(vocab))  # two merges can spell the same token: one id
            vocab[new_id] = new_bytes
            merges.append((*pair, new_id))
            changed = set()
            for w in where.pop(pair):
                old_word, count = words[w], counts[w]
                words[w] = new_word = merge(old_word, pair, new_id)
                for p in zip(old_word, old_word[1:]):
                    pair_counts[p] -= count
                    changed.add(p)
                for p in zip(new_word, new_word[1:]):
                    pair_counts[p] += count
                    where[p].add(w)
                    changed.add(p)
            for p in changed:
                if pair_counts[p] > 0:
                    heapq.heappush(heap, (-pair_counts[p], tie_break_rank(p[0]), tie_break_rank(p[1]), p))
        first_special = len(vocab)
        return cls(merges, {s: first_special + i for i, s in enumerate(special_tokens)}, pattern)

    # --- encoding and decoding -----------------------------------------------------------------------

    def _encode_chunk_uncached(self, chunk: str) -> tuple[int, ...]:
        return tuple(encode_bytes(to_bytes(chunk), self.merge_table, self.ranks))

    def encode_ordinary(self, text: str) -> list[int]:
        """Token ids of `text`, treating special-token strings as ordinary text."""
        return [i for chunk in self._split.findall(text) for i in self._encode_chunk(chunk)]

    def encode(self, text: str, allowed_special: str | set[str] = "all") -> list[int]:
        """Token ids of any string. `allowed_special`: "all", "none", one special token or a set of them."""
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special == "none":
            allowed = set()
        elif isinstance(allowed_special, str):  # one special token's name, not a set of its characters
            allowed = {allowed_special}
        else:
            allowed = set(allowed_special)
            unknown = allowed - set(self.special_tokens)
            if unknown:
                raise ValueError(f"unknown special token(s) {sorted(unknown)}; this tokenizer has "
                                 f"{sorted(self.special_tokens)}")
        if not allowed or self._special_split is None:
            return self.encode_ordinary(text)
        ids = []
        for part in self._special_split.split(text):
            if part in allowed:
                ids.append(self.special_tokens[part])
            elif part:
                ids.extend(self.encode_ordinary(part))
        return ids

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a token stands for (a special token's own text)."""
        if token_id in self.vocab:
            return self.vocab[token_id]
        for text, special_id in self.special_tokens.items():
            if special_id == token_id:
                return text.encode("utf-8")
        raise ValueError(f"token id {token_id} is not in the vocabulary (ids 0..{self.vocab_size - 1})")

    def decode(self, ids: list[int]) -> str:
        """The text of a sequence of ids (bytes that form no valid UTF-8 become U+FFFD)."""
        return from_bytes(b"".join(self.token_bytes(as_token_id(i)) for i in ids))

    def tokens(self, text: str) -> list[str]:
        """`text` cut into its tokens, each shown as text (a token that splits a character shows U+FFFD)."""
        return [from_bytes(self.token_bytes(i)) for i in self.encode(text)]

    # --- files -------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write a readable JSON file: the merges in order, each with the token it makes, and the specials."""
        path = Path(path)
        merges = [{"left": a, "right": b, "id": new, "token": printable(self.vocab[new])} for a, b, new in self.merges]
        content = {"format": FILE_FORMAT, "version": FILE_VERSION, "pattern": self.pattern,
                   "special_tokens": self.special_tokens, "merges": merges}
        path.write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        """Read a file written by `save`; anything else is a clear error naming the path."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no tokenizer file at {path}")
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
            if content.get("format") != FILE_FORMAT:
                raise ValueError(f"format is {content.get('format')!r}, not {FILE_FORMAT!r}")
            if content.get("version") != FILE_VERSION:
                raise ValueError(f"version {content.get('version')!r} is not {FILE_VERSION}")
            merges = [(m["left"], m["right"], m["id"]) for m in content["merges"]]
            return cls(merges, content["special_tokens"], content["pattern"])
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError, regex.error) as error:
            raise ValueError(f"{path} is not a greenlab BPE tokenizer file ({error})") from None

    def __repr__(self) -> str:
        return (f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
                f"special_tokens={list(self.special_tokens)})")
