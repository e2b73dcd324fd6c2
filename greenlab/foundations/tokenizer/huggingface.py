"""Our BPE as a Hugging Face tokenizer, so the rest of the HF stack (datasets `.map`, transformers) uses it as is.

The export is exact: the same vocabulary and ids, the same merges, the same pre-tokenization regex, so
`to_hf_tokenizer(bpe).encode(text).ids == bpe.encode(text)` for every text.
"""

from __future__ import annotations

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from greenlab.foundations.validation import check_whole
from greenlab.foundations.tokenizer.bpe import END_OF_TEXT, GPT2_SPLIT_PATTERN, BPETokenizer, from_printable, printable

MAX_VOCAB_SIZE = 1_000_000  # the library sets memory aside for every id at once, and when that fails it ends Python
# itself (a kernel lost, not an error); the largest vocabularies in use have about 256,000 tokens


def _byte_level_pre_tokenizer(pattern: str):
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def to_hf_tokenizer(bpe: BPETokenizer) -> Tokenizer:
    """A `tokenizers.Tokenizer` with our vocabulary, ids, merges and special tokens."""
    vocab = {printable(token): token_id for token_id, token in bpe.vocab.items()}
    merges = [(printable(bpe.vocab[left]), printable(bpe.vocab[right])) for left, right, _ in bpe.merges]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = _byte_level_pre_tokenizer(bpe.pattern)
    tokenizer.decoder = decoders.ByteLevel()
    for text, token_id in sorted(bpe.special_tokens.items(), key=lambda item: item[1]):
        tokenizer.add_special_tokens([AddedToken(text, special=True, normalized=False)])
        if tokenizer.token_to_id(text) != token_id:
            raise RuntimeError(f"special token {text!r} got id {tokenizer.token_to_id(text)}, expected {token_id}")
    return tokenizer


def to_transformers(bpe: BPETokenizer) -> PreTrainedTokenizerFast:
    """A `transformers` tokenizer (save_pretrained, AutoTokenizer, datasets .map) wrapping our BPE."""
    eos = END_OF_TEXT if END_OF_TEXT in bpe.special_tokens else None
    return PreTrainedTokenizerFast(tokenizer_object=to_hf_tokenizer(bpe), eos_token=eos, bos_token=eos,
                                   unk_token=None, pad_token=eos)


def train_hf_bpe(text: str, vocab_size: int, special_tokens: tuple[str, ...] = (END_OF_TEXT,)) -> Tokenizer:
    """The library's own byte-level BPE trained with the same settings as `BPETokenizer.train`. `vocab_size` is checked
    first: the bytes and special tokens at least, and at most MAX_VOCAB_SIZE."""
    check_whole("vocab_size", vocab_size, 256 + len(special_tokens), MAX_VOCAB_SIZE,
                why="the 256 bytes and the special tokens at least; the library sets memory aside for every id")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = _byte_level_pre_tokenizer(GPT2_SPLIT_PATTERN)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text], trainer=trainer)
    return tokenizer


def token_agreement(bpe: BPETokenizer, our_ids: list[int], library: Tokenizer, their_ids: list[int]) -> int:
    """How many positions hold the same token (compared as bytes) in our encoding and the library's."""
    ours = (bpe.token_bytes(i) for i in our_ids)
    theirs = (from_printable(library.id_to_token(i)) for i in their_ids)
    return sum(a == b for a, b in zip(ours, theirs))
