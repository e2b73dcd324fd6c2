import datetime

import pytest

from greenlab.foundations.tasks import (PairVocabulary, Pairs, distinct_draws, load_task, number_to_words,
                                        pig_latin, written_date)
from greenlab.foundations.tokenizer import CharTokenizer, Tokenizer


@pytest.mark.parametrize("number, words", [
    (0, "zero"), (13, "thirteen"), (20, "twenty"), (21, "twenty-one"), (100, "one hundred"),
    (110, "one hundred ten"), (4021, "four thousand twenty-one"), (70_000, "seventy thousand"),
    (999_999, "nine hundred ninety-nine thousand nine hundred ninety-nine")])
def test_numbers_in_words(number, words):
    assert number_to_words(number) == words


@pytest.mark.parametrize("bad", [-1, 1_000_000, 2.0, True, "7"])
def test_number_out_of_range_is_named(bad):
    with pytest.raises(ValueError, match=repr(bad).replace(".", r"\.")):
        number_to_words(bad)


def test_dates_are_written_in_english_whatever_the_locale():
    day = datetime.date(2024, 3, 5)  # a Tuesday
    assert [written_date(day, style) for style in range(6)] == [
        "March 5, 2024", "5 March 2024", "Tuesday, March 5, 2024", "Tue 5 Mar 2024", "Mar 5 2024", "5.3.2024"]


def test_pig_latin_rules():
    assert pig_latin("is a string of rhythm") == "isway away ingstray ofway ythmrhay"


def test_distinct_draws_are_distinct_and_in_range():
    import random

    drawn = distinct_draws(random.Random(0), 50, 50)
    assert sorted(drawn) == list(range(50))  # a permutation when all are drawn
    with pytest.raises(ValueError, match="cannot draw 6 distinct values from 5"):
        distinct_draws(random.Random(0), 5, 6)


@pytest.mark.parametrize("name", ["numbers", "dates", "pig-latin"])
def test_splits_share_no_value(name):
    task = load_task(name, train=1000 if name != "pig-latin" else None, validation=200, test=200)
    splits = [task.train, task.validation, task.test]
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            assert not set(a.sources) & set(b.sources)
            assert not set(a.targets) & set(b.targets)  # the same number or day is never in two splits
    assert (len(task.validation), len(task.test)) == (200, 200)


def test_tasks_are_the_same_on_every_machine_and_python():
    # pinned: generated from rng.random() alone, which Python keeps identical across versions (CI: 3.11, 3.13)
    numbers, dates = load_task("numbers", train=3), load_task("dates", train=3)
    assert numbers.train.sources == ["489140", "184055", "918533"]
    assert dates.train.sources[0] == "Monday, September 28, 1925" and dates.train.targets[0] == "1925-09-28"
    assert load_task("numbers", train=3) == numbers and load_task("numbers", train=3, seed=1) != numbers


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "klingon"}, "unknown task 'klingon'"), ({"train": 0}, "train must be .* got 0"),
    ({"validation": True}, "validation must be .* got True"),
    ({"name": "pig-latin", "train": 10_000}, "the corpus has .* short sentences; asked for 11,000")])
def test_bad_task_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_task(**kwargs)


def test_teacher_forcing_batch():
    task = load_task("numbers", train=50)
    vocabulary = PairVocabulary(task.train)
    src, decoder_input, labels = vocabulary.batch(["12", "7"], ["twelve", "seven"])
    assert src.tolist()[1] == [*vocabulary.encode("7"), vocabulary.pad_id]
    assert decoder_input.tolist()[0] == [vocabulary.bos_id, *vocabulary.encode("twelve")]
    assert labels.tolist()[1] == [*vocabulary.encode("seven"), vocabulary.eos_id, vocabulary.pad_id]
    assert vocabulary.decode(labels[1].tolist()) == "seven"
    assert vocabulary.encode("§") == [vocabulary.unk_id]
    with pytest.raises(ValueError, match="2 sources but 1 targets"):
        vocabulary.batch(["1", "2"], ["one"])


def test_the_default_layout_puts_the_special_tokens_first():
    vocabulary = PairVocabulary(Pairs(["ba"], ["c"]))
    assert vocabulary.itos == ["<pad>", "<s>", "</s>", "<unk>", "a", "b", "c"]
    ids = (vocabulary.pad_id, vocabulary.bos_id, vocabulary.eos_id, vocabulary.unk_id)
    assert ids == (PairVocabulary.PAD, PairVocabulary.BOS, PairVocabulary.EOS, PairVocabulary.UNK) == (0, 1, 2, 3)


def test_a_vocabulary_lays_out_its_special_tokens_where_a_model_wants_them():
    vocabulary = PairVocabulary(Pairs(["ba", "a"], ["c", "cc"]), pad_id=5, bos_id=0, unk_id=6)
    assert vocabulary.itos == ["<s>", "a", "</s>", "b", "c", "<pad>", "<unk>"]  # the characters in order around them
    assert (vocabulary.pad_id, vocabulary.bos_id, vocabulary.eos_id, vocabulary.unk_id) == (5, 0, 2, 6)
    src, decoder_input, labels = vocabulary.batch(["ba", "a"], ["c", "cc"])
    assert src.tolist() == [[3, 1], [1, 5]]
    assert decoder_input.tolist() == [[0, 4, 5], [0, 4, 4]]
    assert labels.tolist() == [[4, 2, 5], [4, 4, 2]]
    assert vocabulary.encode("a§") == [1, 6]
    assert vocabulary.decode([0, 1, 3, 6, 2, 5]) == "ab"  # every special token dropped, none of the characters


@pytest.mark.parametrize("ids, message", [
    ({"pad_id": 7}, "pad_id must be a whole number from 0 to 6 \\(an id of the 7 tokens\\), got 7"),
    ({"unk_id": -1}, "unk_id must be a whole number from 0 to 6"), ({"bos_id": 1.0}, "bos_id .* got 1.0"),
    ({"eos_id": 0}, "the special tokens need distinct ids, got pad_id=0, bos_id=1, eos_id=0, unk_id=3")])
def test_bad_special_ids_are_named(ids, message):
    with pytest.raises(ValueError, match=message):
        PairVocabulary(Pairs(["ba"], ["c"]), **ids)


@pytest.mark.parametrize("ids", [{}, {"pad_id": 5, "bos_id": 0, "unk_id": 6},
                                 {"pad_id": 3, "bos_id": 2, "eos_id": 1, "unk_id": 0}])
def test_a_pair_vocabulary_is_the_character_tokenizer_of_its_pairs(ids):
    vocabulary = PairVocabulary(Pairs(["ba", "a"], ["c", "cc"]), **ids)
    assert isinstance(vocabulary, CharTokenizer) and isinstance(vocabulary, Tokenizer)
    text = "baaccc"
    # the same characters in the same order, only the special tokens placed differently
    assert [t for t in vocabulary.itos if t not in PairVocabulary.SPECIALS] == CharTokenizer(text).itos[1:]
    specials = {"<pad>": vocabulary.pad_id, "<s>": vocabulary.bos_id, "</s>": vocabulary.eos_id,
                "<unk>": vocabulary.unk_id}
    assert vocabulary.itos == CharTokenizer(text, specials=specials).itos


def test_a_pair_vocabulary_decodes_only_ids_it_has():
    vocabulary = PairVocabulary(Pairs(["ba"], ["c"]))
    for ids in ([-1], [7]):  # -1 once read the last character: a wrong answer, not an error
        with pytest.raises(ValueError, match=f"token id must be a whole number from 0 to 6 .*, got {ids[0]}"):
            vocabulary.decode(ids)


def test_pairs_without_characters_have_no_vocabulary():
    with pytest.raises(ValueError, match="cannot build a vocabulary from an empty text"):
        PairVocabulary(Pairs([""], [""]))
