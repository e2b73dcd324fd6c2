"""Tokenizers: byte-level BPE from scratch, first as plain loops to read (plain_bpe), then fast (bpe), its Hugging
Face export (huggingface), and the character- and word-level tokenizers it is compared with (baselines); all offer
one interface (interface.Tokenizer)."""

from greenlab.foundations.tokenizer.baselines import CharTokenizer, WordTokenizer
from greenlab.foundations.tokenizer.bpe import END_OF_TEXT, GPT2_SPLIT_PATTERN, BPETokenizer
from greenlab.foundations.tokenizer.interface import Tokenizer

__all__ = ["BPETokenizer", "CharTokenizer", "WordTokenizer", "Tokenizer", "END_OF_TEXT", "GPT2_SPLIT_PATTERN"]
