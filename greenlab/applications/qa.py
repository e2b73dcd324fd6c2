"""Questions about the documentation, answered three ways, each scored and measured per 1,000 questions.

    questions = load_questions()                              # 63 questions written for the course
    index = BM25Index(documentation_passages())
    bm25 = Retrieve(index)                                    # reply: the best passage, word for word
    gpt = Generate(model, tokenizer)                          # reply: the course GPT continuing the question
    rag = RetrieveThenGenerate(index, model, tokenizer)       # reply: the GPT continuing passage + question
    replies = answer_all(bm25, questions); score(replies, questions)
    cost_of_uses(lambda: len(answer_all(bm25, questions)), "BM25").joules_per_1000

This is the "customer service" job: a user asks, the service replies. Each question in
`data/pydoc_questions.json` names the topic of the Python reference written to answer it and a phrase quoted from
that topic (the *answer*); a reply is scored by whether it holds that phrase (`metrics.contains_answer`,
`metrics.answer_word_recall`). Several topics repeat each other's text ("compound" holds "if", "for", "try", ...),
so a passage from another topic that holds the phrase counts too. A long prompt loses its beginning, never the
question at its end (`gpt.fit_prompt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from greenlab.applications.retrieval import BM25Index, Passage, split_passages
from greenlab.foundations.data import clean_text, read_pydoc_topics, read_text_records
from greenlab.foundations.metrics import answer_word_recall, contains_answer
from greenlab.foundations.settings import DATA_DIR
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, fit_prompt
from greenlab.models.text import continuations

QUESTIONS = DATA_DIR / "pydoc_questions.json"
FIELDS = ("question", "topic", "answer")


@dataclass(frozen=True)
class Question:
    """A user's question, the topic written to answer it, and the answer phrase quoted from that topic."""

    question: str
    topic: str
    answer: str


def documentation_topics() -> dict[str, str]:
    """The default corpus's topics, cleaned as for training: {topic: text}."""
    return {topic: clean_text(text) for topic, text in read_pydoc_topics().items()}


def documentation_passages(size: int = 60, stride: int = 30) -> list[Passage]:
    """The documentation cut into overlapping windows of words (see `retrieval.split_passages`)."""
    return split_passages(documentation_topics(), size, stride)


def load_questions(path: str | Path = QUESTIONS) -> list[Question]:
    """The question set, each entry checked: the three fields as non-empty text, no question twice, a topic of the
    documentation, and an answer phrase that the topic holds. A ValueError names the entry."""
    path = Path(path)
    entries = read_text_records(path, FIELDS, key="question", what="question set", item="entry")
    topics = documentation_topics()
    for number, entry in enumerate(entries):
        where = f"entry {number} of {path.name}"
        if entry["topic"] not in topics:
            raise ValueError(f"{where} names the topic {entry['topic']!r}, which the documentation does not have")
        if not contains_answer(topics[entry["topic"]], entry["answer"]):
            raise ValueError(f"{where}: the topic {entry['topic']!r} does not hold its answer {entry['answer']!r}")
    return [Question(**entry) for entry in entries]


def recall_at_k(index: BM25Index, questions: list[Question], k: int) -> float:
    """The share (0-1) of questions with the answer phrase in one of the `k` passages the index ranks first."""
    ranked = index.search_many([q.question for q in questions], k)
    return sum(any(contains_answer(p.text, q.answer) for p in passages)
               for q, passages in zip(questions, ranked)) / len(questions)


def check_question(question: str) -> str:
    """`question` itself, or a ValueError naming it when it is not a non-empty string."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"a question must be a non-empty string, got {question!r}")
    return question


class Retrieve:
    """Reply with the `k` passages BM25 ranks first, best first, a blank line between them: no model, no
    generation. A reply of k passages holds the answer as often as recall@k says."""

    def __init__(self, index: BM25Index, k: int = 1):
        self.index, self.k = index, index.check_k(k)
        self.name = "BM25 passage" if k == 1 else f"BM25, {k} passages"

    def __call__(self, question: str) -> str:
        return "\n\n".join(p.text for p in self.index.search(check_question(question), k=self.k))


class Generate:
    """Reply with the GPT's greedy continuation of the question (`new_tokens` tokens)."""

    name = "GPT from the question"

    def __init__(self, model: GPT, tokenizer: BPETokenizer, new_tokens: int = 32):
        fit_prompt([0], model.config.block_size, new_tokens)  # a clear error now for a reply that cannot fit
        self.model, self.tokenizer, self.new_tokens = model, tokenizer, new_tokens

    def prompt(self, question: str) -> str:
        return f"{check_question(question)}\n"

    def __call__(self, question: str) -> str:
        [reply] = continuations(self.model, self.tokenizer, self.prompt(question), self.new_tokens, temperature=0)
        return reply


class RetrieveThenGenerate(Generate):
    """Reply with the GPT's greedy continuation of the best passage followed by the question."""

    name = "BM25 passage, then GPT"

    def __init__(self, index: BM25Index, model: GPT, tokenizer: BPETokenizer, new_tokens: int = 32):
        super().__init__(model, tokenizer, new_tokens)
        self.index = index

    def prompt(self, question: str) -> str:
        passage = self.index.search(check_question(question), k=1)[0].text
        return f"{passage}\n\n{question}\n"


def answer_all(method: Callable[[str], str], questions: list[Question]) -> list[str]:
    """`method`'s reply to each question, in order."""
    return [method(q.question) for q in questions]


def score(replies: list[str], questions: list[Question]) -> dict[str, float]:
    """Percent of replies holding the answer phrase word for word, and the mean percent of its words they hold."""
    if len(replies) != len(questions) or not questions:
        raise ValueError(f"score needs one reply per question: {len(replies)} replies, {len(questions)} questions")
    return {"answer found (%)": 100 * sum(contains_answer(r, q.answer) for r, q in zip(replies, questions))
            / len(questions),
            "answer words (%)": 100 * sum(answer_word_recall(r, q.answer) for r, q in zip(replies, questions))
            / len(questions)}
