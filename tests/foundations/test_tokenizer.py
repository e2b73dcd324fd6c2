import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenlab.foundations.data import load_corpus
from greenlab.foundations.tokenizer import END_OF_TEXT, BPETokenizer, CharTokenizer, Tokenizer, WordTokenizer
from greenlab.foundations.tokenizer import plain_bpe
from greenlab.foundations.tokenizer.bpe import (bytes_to_unicode, encode_bytes, from_printable, merge, printable,
                                                tie_break_rank)
from greenlab.foundations.tokenizer.huggingface import to_hf_tokenizer, to_transformers, train_hf_bpe

CORPUS = load_corpus()
TEXT = CORPUS.train_text[:60_000]


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train(TEXT, 512)


TRICKY = [
    "", " ", "\n\n", "hello world", "don't you've I'll", "  leading and trailing  ", "tabs\tand\r\nCRLF",
    "emoji 👩‍👩‍👧 flags 🇫🇷 skin 👍🏽", "combining e\u0301 a\u0308\u0323", "CJK 漢字かなカナ 한국어", "RTL مرحبا עברית",
    "control \x00\x01\x1b[0m\x7f", "lone surrogates \ud800 and \udfff", "zero\u200bwidth", "numbers 3.14159 1e-5",
    END_OF_TEXT, f"a{END_OF_TEXT}b", "<|endoftext", "\U0010ffff private \ue000",
]


@pytest.mark.parametrize("text", TRICKY)
def test_round_trip_on_tricky_strings(bpe, text):
    assert bpe.decode(bpe.encode(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=60))
def test_round_trip_on_any_unicode_string(bpe, text):
    assert bpe.decode(bpe.encode(text)) == text


def test_vocabulary_size_and_ids(bpe):
    assert bpe.vocab_size == 512
    assert bpe.special_tokens == {END_OF_TEXT: 511}
    assert sorted(bpe.vocab) == list(range(511))
    assert bpe.encode(END_OF_TEXT) == [511]
    assert bpe.encode(END_OF_TEXT, allowed_special="none") != [511]


def test_merges_compress(bpe):
    sample = CORPUS.validation_text[:5000]
    assert len(bpe.encode(sample)) < 0.5 * len(sample.encode())


def test_printable_round_trip():
    data = bytes(range(256))
    assert from_printable(printable(data)) == data and printable(b" a") == "Ġa"


def test_merge_is_left_to_right_without_overlap():
    assert merge([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]


def test_tie_break_follows_the_printable_byte_order():
    stand_in = bytes_to_unicode()
    assert len(set(stand_in.values())) == 256
    assert tie_break_rank(ord("!")) == 0  # '!' is the smallest stand-in
    assert tie_break_rank(ord(" ")) > tie_break_rank(ord("~"))  # a space's stand-in is 'Ġ' (U+0120)
    assert tie_break_rank(300) == 300


def test_same_merges_as_hugging_face(bpe):
    library = train_hf_bpe(TEXT, 512)
    merges = json.loads(library.to_str())["model"]["merges"]
    ours = [[printable(bpe.vocab[x]) for x in (a, b)] for a, b, _ in bpe.merges]
    assert ours == [list(m) for m in merges]


def test_export_encodes_identically(bpe, tmp_path):
    text = CORPUS.validation_text[:3000] + END_OF_TEXT + "ünïcödé 👍"
    exported = to_hf_tokenizer(bpe)
    assert exported.encode(text).ids == bpe.encode(text)
    fast = to_transformers(bpe)
    assert fast(text)["input_ids"] == bpe.encode(text) and fast.decode(bpe.encode(text)) == text
    fast.save_pretrained(tmp_path / "tok")
    from transformers import AutoTokenizer

    reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert reloaded(text)["input_ids"] == bpe.encode(text)


def test_save_and_load(bpe, tmp_path):
    path = bpe.save(tmp_path / "bpe.json")
    content = json.loads(path.read_text(encoding="utf-8"))
    assert content["format"] == "greenlab-bpe" and content["merges"][0]["token"]  # readable
    again = BPETokenizer.load(path)
    assert again.merges == bpe.merges and again.special_tokens == bpe.special_tokens
    assert again.encode(CORPUS.validation_text[:2000]) == bpe.encode(CORPUS.validation_text[:2000])


@pytest.mark.parametrize("content", ['{"format": "other"}', "not json", '{"format": "greenlab-bpe", "version": 9}',
                                     '{"format": "greenlab-bpe", "version": 1, "merges": [{"left": 1}]}'])
def test_loading_a_wrong_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="is not a greenlab BPE tokenizer file"):
        BPETokenizer.load(path)
    with pytest.raises(FileNotFoundError, match="no tokenizer file"):
        BPETokenizer.load(tmp_path / "missing.json")


TRAINERS = {"fast": BPETokenizer.train, "plain": plain_bpe.train}


@pytest.mark.parametrize("trainer", TRAINERS)
def test_bad_training_input_is_a_clear_error(trainer):
    train = TRAINERS[trainer]
    with pytest.raises(ValueError, match="empty text"):
        train("", 300)
    with pytest.raises(ValueError, match="need at least 257"):
        train("abc", 256)
    with pytest.raises(ValueError, match="vocab_size must be a whole number >= 257 .*, got 100"):
        train("abc", 100)
    with pytest.raises(ValueError, match="vocab_size must be a whole number >= 257 .*, got 300.5"):
        train("abc", 300.5)
    with pytest.raises(ValueError, match="a special token must be a non-empty string, got ''"):
        train("abc", 300, special_tokens=("",))
    with pytest.raises(ValueError, match="special_tokens must be a tuple of strings, got the string '<|eot|>'"):
        train("abc", 300, special_tokens="<|eot|>")


@pytest.fixture(scope="module")
def plain_and_fast() -> tuple[BPETokenizer, BPETokenizer]:
    """The same small text and vocabulary, trained by the plain loop and by the fast one."""
    text = TEXT[:5000]
    return plain_bpe.train(text, 600), BPETokenizer.train(text, 600)


def test_the_plain_trainer_learns_the_fast_trainers_merges_in_the_same_order(plain_and_fast):
    plain, fast = plain_and_fast
    assert len(fast.merges) == 600 - 257  # the small text holds enough pairs for every merge asked for
    assert plain.merges == fast.merges and plain.special_tokens == fast.special_tokens


def test_the_plain_trainer_breaks_ties_like_the_fast_one():
    # chunks "ba" and " ab": three pairs seen once each; the first seen is (b, a), but ties go to the smallest
    # pair of printable stand-ins, (a, b)
    for train in TRAINERS.values():
        assert train("ba ab", 258).merges == [(ord("a"), ord("b"), 256)]


@pytest.mark.parametrize("text", [*TRICKY, CORPUS.validation_text[:2000]])
def test_plain_encoding_gives_the_fast_ids(plain_and_fast, text):
    plain, fast = plain_and_fast
    assert plain_bpe.encode_ordinary(plain, text) == fast.encode_ordinary(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab \n", max_size=40) | st.text(max_size=40))
def test_heap_encoding_equals_the_plain_loop(bpe, text):
    for data in (text.encode(), ("ab" * 5 + text).encode()):
        assert encode_bytes(data, bpe.merge_table) == plain_bpe.encode_bytes(data, bpe.merge_table)


def test_encoding_a_long_chunk_equals_the_plain_loop(bpe):
    for chunk in (CORPUS.validation_text[:3000], " " * 2000, "1" * 1500, "aaab" * 400):
        data = chunk.encode()
        assert encode_bytes(data, bpe.merge_table) == plain_bpe.encode_bytes(data, bpe.merge_table)


def _merges_file(tmp_path, merges, special_tokens, pattern="\\S+|\\s+"):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"format": "greenlab-bpe", "version": 1, "pattern": pattern,
                                "special_tokens": special_tokens,
                                "merges": [{"left": a, "right": b, "id": c} for a, b, c in merges]}))
    return path


@pytest.mark.parametrize("merges, special_tokens, message", [
    ([(97, 98, 256)], {"<|x|>": 256}, "special token '<|x|>' has id 256, which is not a free token id"),
    ([(97, 98, 97)], {}, "merge 0 \\(97, 98, 97\\) gives id 97, which already stands for b'a'"),
    ([(97, 98, 256), (97, 99, 256)], {}, "gives id 256, which already stands for b'ab'"),
    ([(97, 300, 256)], {}, "joins an id that no earlier merge made"),
    ([(97, 98, 256.5)], {}, "not three token ids"),
    ([(97, 98, 256)], {"": 257}, "a special token must be a non-empty string, got ''"),
    ([(97, 98, 256)], {"<|a|>": 257, "<|b|>": 257}, "two special tokens share an id"),
])
def test_a_tokenizer_file_that_would_decode_wrongly_is_refused(tmp_path, merges, special_tokens, message):
    with pytest.raises(ValueError, match=f"is not a greenlab BPE tokenizer file.*{message}"):
        BPETokenizer.load(_merges_file(tmp_path, merges, special_tokens))


@pytest.mark.parametrize("merges, pattern, message", [
    ([(97, 98, 100000)], "\\S+|\\s+", "token ids must run from 0 to 256 without a gap, but one is 100000"),
    ([(97, 98, 256)], "", "split pattern '' loses text"),
    ([(97, 98, 256)], "[a-z]+", "split pattern '\\[a-z\\]\\+' loses text: .* comes back as 'elloorld"),
])
def test_a_tokenizer_file_that_loses_text_or_skips_ids_is_refused(tmp_path, merges, pattern, message):
    with pytest.raises(ValueError, match=f"is not a greenlab BPE tokenizer file.*{message}"):
        BPETokenizer.load(_merges_file(tmp_path, merges, {}, pattern))


def test_one_special_token_may_be_named_as_a_string(bpe):
    assert bpe.encode(f"a{END_OF_TEXT}", allowed_special=END_OF_TEXT) == bpe.encode(f"a{END_OF_TEXT}")


def test_unknown_special_token_and_unknown_id(bpe):
    with pytest.raises(ValueError, match="unknown special token"):
        bpe.encode("x", allowed_special={"<|im_start|>"})
    with pytest.raises(ValueError, match="token id 9999 is not in the vocabulary"):
        bpe.decode([9999])


def test_decoding_takes_integer_ids_of_any_kind_and_refuses_floats(bpe):
    import numpy as np
    import torch

    ids = bpe.encode("hello world")
    assert bpe.decode(torch.tensor(ids)) == bpe.decode(np.array(ids)) == "hello world"
    with pytest.raises(TypeError, match="token ids are integers, got 1.5"):
        bpe.decode([1.5])


def test_decoding_ids_that_are_no_valid_text_replaces_only_the_broken_bytes(bpe):
    assert bpe.decode([0xE2, 0x82]) == "\ufffd"  # the first two of the three bytes of "€": one broken character
    assert bpe.decode([0xE2, 0x82, 0xAC]) == "€"  # bytes are joined before decoding, whatever ids carry them
    assert bpe.decode([*b"hi", 0xFF, *b"hi"]) == "hi\ufffdhi"  # 0xFF is never UTF-8: only it is replaced
    assert bpe.decode([0xE2, 0x82, *b" ", 0xAC]) == "\ufffd \ufffd"
    assert bpe.decode([0xED, 0xA0, 0x80]) == "\ud800"  # a lone surrogate's bytes decode to it, not to U+FFFD


@pytest.mark.parametrize("trainer", TRAINERS)
def test_small_corpus_stops_when_nothing_is_left_to_merge(trainer):
    tokenizer = TRAINERS[trainer]("ab ab", 1000)
    # chunks "ab" and " ab": (a, b) occurs twice, so it is merged first; then (space, ab); then no pair is left
    assert tokenizer.merges == [(ord("a"), ord("b"), 256), (ord(" "), 256, 257)]
    assert tokenizer.special_tokens == {END_OF_TEXT: 258} and tokenizer.vocab_size == 259
    assert tokenizer.encode("ab ab") == [256, 257] and tokenizer.decode([256, 257]) == "ab ab"


def test_char_and_word_baselines():
    chars, words = CharTokenizer("hello world."), WordTokenizer("hello world. hello!", max_words=10)
    assert chars.decode(chars.encode("hello")) == "hello"
    assert chars.tokens("hey") == ["h", "e", "<unk>"]
    assert words.tokens("hello there world") == ["hello", "<unk>", "world"]
    assert words.decode(words.encode("hello world.")) == "hello world ."
    with pytest.raises(ValueError):
        CharTokenizer("")


def test_a_character_vocabulary_places_special_tokens_where_asked():
    assert CharTokenizer("hello").itos == CharTokenizer("hello", specials={"<unk>": 0}).itos == [
        "<unk>", "e", "h", "l", "o"]
    chars = CharTokenizer("cab", specials={"<pad>": 4, "<unk>": 1, "<s>": 0})
    assert chars.itos == ["<s>", "<unk>", "a", "b", "<pad>", "c"]  # the characters in order around them
    assert chars.unk_id == 1 and chars.encode("ax") == [2, 1] and chars.tokens("x") == ["<unk>"]
    assert chars.decode([0, 5, 4]) == "<s>c<pad>" and chars.vocab_size == 6


@pytest.mark.parametrize("specials, error, message", [
    ({"<pad>": 0}, ValueError, "specials must give <unk> an id too, got {'<pad>': 0}"),
    ({"<unk>": 3}, ValueError, "the id of <unk> must be a whole number from 0 to 2 (an id of the 3 tokens), got 3"),
    ({"<unk>": 0, "<pad>": -1}, ValueError,
     "the id of <pad> must be a whole number from 0 to 3 (an id of the 4 tokens), got -1"),
    ({"<unk>": 0, "<pad>": 0}, ValueError, "the special tokens need distinct ids, got {'<unk>': 0, '<pad>': 0}"),
    ({"<unk>": 0, "a": 1}, ValueError, "special tokens cannot be pieces of the text too, got 'a'"),
    ([("<unk>", 0)], TypeError, "specials maps each special token (a str) to its id, got [('<unk>', 0)]")])
def test_bad_special_tokens_are_named(specials, error, message):
    with pytest.raises(error, match=re.escape(message)):
        CharTokenizer("ab", specials=specials)


@pytest.mark.parametrize("kind", ["bpe", "char", "word"])
def test_every_tokenizer_offers_the_one_interface(kind, bpe):
    tokenizer = {"bpe": bpe, "char": CharTokenizer(TEXT), "word": WordTokenizer(TEXT)}[kind]
    assert isinstance(tokenizer, Tokenizer)
    text = "def encode(self, text): return the ids"
    ids = tokenizer.encode(text)
    assert ids and all(0 <= i < tokenizer.vocab_size for i in ids)
    assert len(tokenizer.tokens(text)) == len(ids)
    expected = " ".join(tokenizer.tokens(text)) if kind == "word" else text  # words lose their spacing
    assert tokenizer.decode(ids) == expected


def test_an_object_without_decode_is_not_a_tokenizer():
    class EncoderOnly:
        vocab_size = 3

        def encode(self, text: str) -> list[int]:
            return [0]

        def tokens(self, text: str) -> list[str]:
            return [text]

    assert not isinstance(EncoderOnly(), Tokenizer)


@pytest.mark.parametrize("vocab_size", [-1, 0, 256, "300", 2.5, 2**40])
def test_hugging_face_training_refuses_a_vocabulary_size_it_cannot_hold(vocab_size):
    # 2**40: the library sets memory aside for every id at once, and a failed allocation ends Python itself
    with pytest.raises(ValueError, match=f"vocab_size must be a whole number from 257 to .*, got {vocab_size!r}"):
        train_hf_bpe("hello world", vocab_size)


def test_training_takes_a_numpy_vocab_size_like_an_int():
    import numpy as np

    assert BPETokenizer.train("ab ab", np.int64(300)).merges == BPETokenizer.train("ab ab", 300).merges


def test_a_tokenizer_file_nested_too_deeply_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="is not a greenlab BPE tokenizer file"):
        BPETokenizer.load(path)


@pytest.mark.parametrize("max_words", [0, -1, 2.5, None, "10"])
def test_word_tokenizer_needs_a_whole_number_of_words(max_words):
    with pytest.raises(ValueError, match=f"max_words must be a whole number >= 1 .*, got {max_words!r}"):
        WordTokenizer("hello world", max_words=max_words)


@pytest.mark.parametrize("kind", ["char", "word"])
def test_baselines_decode_only_ids_of_their_vocabulary(kind):
    import numpy as np
    import torch

    tokenizer = CharTokenizer("abc") if kind == "char" else WordTokenizer("a b c")
    assert tokenizer.decode(torch.tensor([1, 2])) == tokenizer.decode(np.array([1, 2])) == tokenizer.decode([1, 2])
    for ids in ([-1], [4], [99]):  # -1 once read the last piece: a wrong answer, not an error
        with pytest.raises(ValueError, match=f"token id must be a whole number from 0 to 3 .*, got {ids[0]}"):
            tokenizer.decode(ids)
    with pytest.raises(TypeError, match="token ids are integers, got 1.5"):
        tokenizer.decode([1.5])
