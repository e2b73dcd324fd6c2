import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenlab.applications.retrieval import BM25Index, Passage, split_passages

TOPICS = {
    "cats": "A cat is a small feline. Cats purr when content and sleep most of the day.",
    "dogs": "A dog is a loyal companion. Dogs bark at strangers and fetch sticks.",
    "fish": "A fish swims in water and breathes through gills.",
}


def test_passages_are_windows_of_words_within_one_topic():
    topics = {"long": " ".join(f"w{i}" for i in range(10)), "short": "one two\n\nthree"}
    passages = split_passages(topics, size=4, stride=3)
    assert [(p.topic, p.start_word, p.text) for p in passages] == [
        ("long", 0, "w0 w1 w2 w3"), ("long", 3, "w3 w4 w5 w6"), ("long", 6, "w6 w7 w8 w9"),
        ("short", 0, "one two three")]  # shorter than a window: one passage, whitespace joined by single spaces


def test_the_last_window_ends_at_the_topic_end():
    passages = split_passages({"t": " ".join(f"w{i}" for i in range(11))}, size=4, stride=3)
    assert [p.start_word for p in passages] == [0, 3, 6, 7]
    assert passages[-1].text.endswith("w10")


def test_repeated_and_empty_topics_are_skipped():
    passages = split_passages({"a": "same text here", "b": "same\ntext here", "c": "  \n", "d": "other"}, size=5, stride=5)
    assert [p.topic for p in passages] == ["a", "d"]


@settings(max_examples=200, deadline=None)
@given(words=st.integers(1, 60), size=st.integers(1, 12), data=st.data())
def test_every_run_of_words_that_fits_the_overlap_lies_whole_in_a_window(words, size, data):
    stride = data.draw(st.integers(1, size))
    text = [f"w{i}" for i in range(words)]
    passages = split_passages({"t": " ".join(text)}, size=size, stride=stride)
    length = data.draw(st.integers(1, min(size - stride + 1, words)))
    start = data.draw(st.integers(0, words - length))
    phrase = text[start:start + length]
    windows = [p.text.split() for p in passages]
    assert any(w[i:i + length] == phrase for w in windows for i in range(len(w)))
    assert set(" ".join(p.text for p in passages).split()) == set(text)  # no word lost


@pytest.mark.parametrize("kwargs, message", [({"size": 0}, "size must be"), ({"stride": 2.5}, "stride must be"),
                                             ({"size": 3, "stride": 4}, "must not exceed size")])
def test_bad_window_sizes_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        split_passages(TOPICS, **kwargs)


def test_bm25_ranks_the_passage_with_the_querys_rare_words_first():
    index = BM25Index(split_passages(TOPICS, size=40))
    assert len(index) == 3
    assert index.search("Why does my cat purr?")[0].topic == "cats"
    assert [p.topic for p in index.search("which animal barks at strangers", k=2)][0] == "dogs"
    assert index.search("gills")[0] == Passage("fish", 0, TOPICS["fish"])


def test_search_many_equals_one_search_per_query():
    index = BM25Index(split_passages(TOPICS, size=6, stride=3))
    queries = ["cat purr", "dog fetch sticks", "fish water"]
    assert index.search_many(queries, k=3) == [index.search(q, k=3) for q in queries]


@pytest.mark.parametrize("query, k, message", [
    ("", 1, "non-empty string"), ("   ", 1, "non-empty string"), (None, 1, "non-empty string"),
    ("the and of", 1, "no word BM25 can search for"), ("cat", 0, "k must be"), ("cat", 4, "k must be"),
    ("cat", True, "k must be")])
def test_bad_queries_are_clear_errors(query, k, message):
    with pytest.raises(ValueError, match=message):
        BM25Index(split_passages(TOPICS, size=40)).search(query, k)


def test_an_index_of_nothing_is_a_clear_error():
    with pytest.raises(ValueError, match="at least one passage"):
        BM25Index([])
