"""Byte-level BPE the plain way: the whole algorithm as two short loops, to read before bpe.py.

Both loops rescan everything for every merge, so training costs (number of merges) x (size of the text): a page in
a second, the course's corpus in minutes where bpe.py takes a second. bpe.py learns exactly the same merges and
gives exactly the same ids (the tests compare them), but updates only the counts that a merge changes: read it second.
"""

from __future__ import annotations

from collections import Counter

import regex

from greenlab.foundations.tokenizer.bpe import (END_OF_TEXT, GPT2_SPLIT_PATTERN, BPETokenizer, check_training_input,
                                                merge, tie_break_rank, to_bytes)


def train(text: str, vocab_size: int, special_tokens: tuple[str, ...] = (END_OF_TEXT,),
          pattern: str = GPT2_SPLIT_PATTERN) -> BPETokenizer:
    """Learn merges from `text` until the vocabulary (bytes + merges + special tokens) has `vocab_size`: the same
    tokenizer as `BPETokenizer.train`, found slowly."""
    vocab_size = check_training_input(text, vocab_size, special_tokens)
    # Pre-tokenize, and keep each distinct chunk once with how often it occurs: its pairs count that many times.
    words = [(list(to_bytes(chunk)), count) for chunk, count in Counter(regex.findall(pattern, text)).items()]
    merges: list[tuple[int, int, int]] = []
    for new_id in range(256, vocab_size - len(special_tokens)):  # ids 0-255 are the bytes themselves
        pair_counts: Counter = Counter()
        for ids, count in words:
            for pair in zip(ids, ids[1:]):
                pair_counts[pair] += count
        if not pair_counts:
            break  # every chunk is a single token: nothing is left to merge
        # The most frequent pair; among equally frequent ones, the one Hugging Face's trainer picks.
        pair = min(pair_counts, key=lambda p: (-pair_counts[p], tie_break_rank(p[0]), tie_break_rank(p[1])))
        merges.append((*pair, new_id))
        words = [(merge(ids, pair, new_id), count) for ids, count in words]
    first_special = 256 + len(merges)
    return BPETokenizer(merges, {special: first_special + i for i, special in enumerate(special_tokens)}, pattern)


def encode_bytes(data: bytes, merges: dict[tuple[int, int], int]) -> list[int]:
    """Apply `merges` ({pair: new id}, in the order learned) to the bytes: the earliest-learned pair present goes
    first, everywhere, then the next — the same ids as bpe.encode_bytes."""
    rank = {pair: number for number, pair in enumerate(merges)}  # a dict keeps the order the merges were learned
    ids = list(data)
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(rank)))
        if pair not in rank:
            break  # no merge applies to any pair left
        ids = merge(ids, pair, merges[pair])
    return ids


def encode_ordinary(tokenizer: BPETokenizer, text: str) -> list[int]:
    """Token ids of `text` by the plain loop, treating special-token strings as ordinary text: the same ids as
    `tokenizer.encode_ordinary(text)`."""
    return [i for chunk in regex.findall(tokenizer.pattern, text)
            for i in encode_bytes(to_bytes(chunk), tokenizer.merge_table)]
