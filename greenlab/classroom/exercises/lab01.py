"""Checks for lab 01, tokenization: pair counting, one merge step, encoding with merges, tokens and FLOPs."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Callable

import torch

from greenlab.classroom.checks import CheckResult, check_function
from greenlab.measurement import footprint
from greenlab.foundations.data import load_corpus
from greenlab.foundations.tokenizer import BPETokenizer, CharTokenizer
from greenlab.foundations.tokenizer.bpe import encode_bytes, merge


def _random_ids(generator: torch.Generator, high: int = 5) -> list[int]:
    length = int(torch.randint(0, 30, (), generator=generator))
    return torch.randint(0, high, (length,), generator=generator).tolist()


def check_count_pairs(fn: Callable[[list[int]], dict]) -> CheckResult:
    return check_function(
        fn, lambda ids: dict(Counter(zip(ids, ids[1:]))), lambda g: (_random_ids(g),),
        exercise="count_pairs", trials=20,
        hint="count every pair of neighbours (the ids at positions i and i + 1) as a (left, right) tuple, each "
             "position once; a list of fewer than two ids has no pairs")


def check_merge(fn: Callable[[list[int], tuple[int, int], int], list[int]]) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        ids = _random_ids(g, high=3)
        pair = tuple(torch.randint(0, 3, (2,), generator=g).tolist())
        return ids, pair, 99
    return check_function(
        fn, merge, inputs, exercise="merge", trials=30,
        hint="walk left to right; after replacing a pair, skip both of its tokens (so [1, 1, 1] gives [99, 1])")


@lru_cache(maxsize=1)
def _small_tokenizer() -> BPETokenizer:
    return BPETokenizer.train(load_corpus().train_text[:50_000], 300, special_tokens=())


def _snippet(generator: torch.Generator, max_length: int = 120) -> str:
    text = load_corpus().validation_text
    start = int(torch.randint(0, len(text) - max_length, (), generator=generator))
    return text[start: start + int(torch.randint(1, max_length, (), generator=generator))]


def check_encode(fn: Callable[[str, dict], list[int]]) -> CheckResult:
    merges = _small_tokenizer().merge_table
    return check_function(
        fn, lambda text, table: encode_bytes(text.encode("utf-8"), table),
        lambda g: (_snippet(g), dict(merges)), exercise="encode", trials=10,
        hint="start from the text's UTF-8 bytes; each round, merge the text's pair that was learned earliest "
             "(the smallest position in `merges`, not the most frequent pair); stop when no pair of the text is "
             "in `merges`")


def check_training_flops_for_text(fn: Callable[[str, object, float], float]) -> CheckResult:
    tokenizers = [CharTokenizer(load_corpus().train_text), _small_tokenizer()]

    def inputs(g: torch.Generator) -> tuple:
        tokenizer = tokenizers[int(torch.randint(0, 2, (), generator=g))]
        return _snippet(g, 400), tokenizer, float(torch.randint(10**5, 10**7, (), generator=g))
    return check_function(
        fn, lambda text, tokenizer, n: footprint.training_flops(n, len(tokenizer.encode(text))), inputs,
        exercise="training_flops_for_text", hint="the compute is 6 × parameters × the number of *tokens*")
