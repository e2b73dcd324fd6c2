"""Finding the passage that answers a question: BM25, the search engines' ranking function, before any model.

    passages = split_passages(read_pydoc_topics())   # the documentation cut into overlapping windows of words
    index = BM25Index(passages)
    index.search("Can a lambda contain statements?", k=3)   # the 3 best passages, best first

BM25 (Robertson and Zaragoza, 2009, "The Probabilistic Relevance Framework: BM25 and Beyond") scores a passage
by the query words it contains: a word rare in the collection counts more (inverse document frequency), a repeated
one with diminishing returns (k1), and a long passage is discounted (b). Nothing is learned, so the index builds in
milliseconds on any machine. It is the `bm25s` library's (Lù, 2024, arXiv:2407.03618) with its defaults (Lucene's
variant, k1 = 1.5, b = 0.75) and English stop words; the course writes by hand only the cutting into passages.
"""

from __future__ import annotations

from dataclasses import dataclass

import bm25s

from greenlab.foundations.validation import check_whole


@dataclass(frozen=True)
class Passage:
    """A window of words from one topic of the documentation."""

    topic: str
    start_word: int
    text: str


def split_passages(topics: dict[str, str], size: int = 60, stride: int = 30) -> list[Passage]:
    """Each topic's text cut into windows of `size` words starting every `stride` words (the last window ends at
    the topic's end), so that any run of up to size - stride + 1 words, an answer say, lies whole in some window.
    Words are joined by single spaces; a topic with the same words as an earlier one, or none, is skipped."""
    for name, value in (("size", size), ("stride", stride)):
        check_whole(name, value, why="in words")
    if stride > size:
        raise ValueError(f"stride ({stride}) must not exceed size ({size}): the words between windows would be lost")
    passages, seen = [], set()
    for topic in sorted(topics):
        words = topics[topic].split()
        if not words or tuple(words) in seen:
            continue
        seen.add(tuple(words))
        starts = list(range(0, max(len(words) - size, 0) + 1, stride))
        if starts[-1] + size < len(words):
            starts.append(len(words) - size)
        passages += [Passage(topic, s, " ".join(words[s:s + size])) for s in starts]
    return passages


class BM25Index:
    """A BM25 index over passages (bm25s, English stop words removed, no stemming)."""

    def __init__(self, passages: list[Passage]):
        if not passages:
            raise ValueError("a BM25 index needs at least one passage, got none")
        self.passages = list(passages)
        self._bm25 = bm25s.BM25()
        self._bm25.index(bm25s.tokenize([p.text for p in self.passages], stopwords="en", show_progress=False),
                         show_progress=False)

    def __len__(self) -> int:
        return len(self.passages)

    def check_k(self, k: int) -> int:
        """`k` itself, or a ValueError naming it when the index cannot return that many passages."""
        return check_whole("k", k, 1, len(self.passages), why="the passages in the index")

    def search(self, query: str, k: int = 1) -> list[Passage]:
        """The `k` passages that score highest for `query`, best first."""
        return self.search_many([query], k)[0]

    def search_many(self, queries: list[str], k: int = 1) -> list[list[Passage]]:
        """The `k` best passages for each query, in one call to the index."""
        self.check_k(k)
        for query in queries:
            if not isinstance(query, str) or not query.strip():
                raise ValueError(f"a query must be a non-empty string, got {query!r}")
        tokens = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
        for query, words in zip(queries, tokens):
            if not words:
                raise ValueError(f"the query {query!r} has no word BM25 can search for (only stop words or "
                                 f"one-letter words)")
        ranked, _ = self._bm25.retrieve(tokens, k=k, show_progress=False)
        return [[self.passages[i] for i in row] for row in ranked.tolist()]
