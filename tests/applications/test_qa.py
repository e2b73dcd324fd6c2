import json
import re

import pytest
import torch

from greenlab.applications import qa
from greenlab.applications.retrieval import BM25Index, split_passages
from greenlab.foundations.metrics import contains_answer
from greenlab.training import zoo


@pytest.fixture(scope="module")
def questions():
    return qa.load_questions()


@pytest.fixture(scope="module")
def index():
    return BM25Index(qa.documentation_passages())


@pytest.fixture
def tiny_model(tiny):
    return zoo.load(tiny, progress=False)


def test_the_question_set_is_large_and_each_answer_is_quoted_from_its_topic(questions):
    topics = qa.documentation_topics()
    assert len(questions) >= 50
    assert len({q.question for q in questions}) == len(questions)
    assert all(" ".join(q.answer.split()) in " ".join(topics[q.topic].split()) for q in questions)
    assert not [q.question for q in questions if contains_answer(q.question, q.answer)]  # no question gives it away


def test_every_answer_lies_whole_in_a_passage_so_recall_reaches_one(questions, index):
    assert qa.recall_at_k(index, questions, len(index)) == 1.0
    recalls = [qa.recall_at_k(index, questions, k) for k in (1, 3, 10)]
    assert recalls == sorted(recalls) and 0 < recalls[0] < 1


def _write(tmp_path, entries) -> str:
    path = tmp_path / "questions.json"
    path.write_text(json.dumps(entries) if not isinstance(entries, str) else entries)
    return path


GOOD = {"question": "What does pass do?", "topic": "pass", "answer": "is a null operation"}


@pytest.mark.parametrize("entries, message", [
    ("{not json", "cannot read the question set"),
    ([], "non-empty JSON list"),
    ({"question": "q"}, "non-empty JSON list"),
    ([{"question": "q", "topic": "pass"}], "entry 0 .* exactly the fields question, topic, answer"),
    ([GOOD, {**GOOD, "question": " "}], "entry 1 .* empty or non-text field"),
    ([{**GOOD, "topic": "no-such-topic"}], "names the topic 'no-such-topic'"),
    ([{**GOOD, "answer": "is a no-op"}], "does not hold its answer 'is a no-op'"),
    ([GOOD, GOOD], "entry 1 .* repeats the question"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ([GOOD, [GOOD]], "entry 1 .* exactly the fields question, topic, answer, got list"),
])
def test_a_bad_question_set_is_a_clear_error_naming_the_entry(tmp_path, entries, message):
    with pytest.raises(ValueError, match=message):
        qa.load_questions(_write(tmp_path, entries))


def test_retrieve_replies_with_the_best_passage(index):
    reply = qa.Retrieve(index)("What does the pass statement do?")
    assert reply == index.search("What does the pass statement do?")[0].text
    assert "null operation" in reply


def test_retrieving_k_passages_finds_the_answer_as_often_as_recall_at_k(index, questions):
    five = qa.Retrieve(index, k=5)
    assert five.name == "BM25, 5 passages" and qa.Retrieve(index).name == "BM25 passage"
    assert five("What does the pass statement do?") == "\n\n".join(
        p.text for p in index.search("What does the pass statement do?", k=5))
    found = qa.score(qa.answer_all(five, questions), questions)["answer found (%)"]
    assert abs(found - 100 * qa.recall_at_k(index, questions, 5)) < 1e-9
    with pytest.raises(ValueError, match="k must be a whole number from 1 to [0-9]+ .the passages in the index."):
        qa.Retrieve(index, k=0)


def test_generate_continues_the_question_with_the_gpts_greedy_tokens(tiny_model):
    model, tokenizer = tiny_model.model, tiny_model.tokenizer
    gpt = qa.Generate(model, tokenizer, new_tokens=4)
    question = "What is a lambda?"
    ids = tokenizer.encode(f"{question}\n")
    expected = model.generate(torch.tensor([ids]), 4, temperature=0)[0, len(ids):]
    assert gpt(question) == tokenizer.decode(expected.tolist())


def test_a_long_prompt_keeps_its_end_so_prompt_and_reply_fit_the_context(tiny_model, index):
    model, tokenizer = tiny_model.model, tiny_model.tokenizer
    rag = qa.RetrieveThenGenerate(index, model, tokenizer, new_tokens=4)
    question = "What does the pass statement do?"
    prompt = rag.prompt(question)
    assert prompt.startswith(index.search(question)[0].text) and prompt.endswith(f"\n\n{question}\n")
    ids = tokenizer.encode(prompt)
    kept = ids[-(model.config.block_size - 4):]
    assert len(ids) > len(kept) == 12  # context 16 = 12 prompt tokens + 4 new
    expected = model.generate(torch.tensor([kept]), 4, temperature=0)[0, len(kept):]
    assert rag(question) == tokenizer.decode(expected.tolist())


@pytest.mark.parametrize("question", ["", "  ", None])
def test_an_empty_question_is_a_clear_error_for_every_method(tiny_model, index, question):
    methods = [qa.Retrieve(index), qa.Generate(tiny_model.model, tiny_model.tokenizer, new_tokens=4),
               qa.RetrieveThenGenerate(index, tiny_model.model, tiny_model.tokenizer, new_tokens=4)]
    for method in methods:
        with pytest.raises(ValueError, match="non-empty string"):
            method(question)


@pytest.mark.parametrize("new_tokens", [0, 16, 2.0, True])
def test_new_tokens_must_leave_room_for_the_prompt(tiny_model, new_tokens):
    with pytest.raises(ValueError, match="new_tokens must be a whole number from 1 to 15"):
        qa.Generate(tiny_model.model, tiny_model.tokenizer, new_tokens=new_tokens)


def test_score_counts_answers_found_and_answer_words(questions):
    two = questions[:2]
    replies = [f"so it {two[0].answer}, indeed", f"only {two[1].answer.split()[-1]}"]
    scores = qa.score(replies, two)
    assert scores["answer found (%)"] == 50.0
    assert 50.0 < scores["answer words (%)"] < 100.0
    assert qa.answer_all(lambda question: question.upper(), two) == [q.question.upper() for q in two]
    with pytest.raises(ValueError, match="one reply per question: 1 replies, 2 questions"):
        qa.score(replies[:1], two)


def test_recall_is_exact_on_a_small_index():
    passages = split_passages({"a": "alpha beta gamma", "b": "delta epsilon zeta"}, size=3, stride=3)
    small = BM25Index(passages)
    asked = [qa.Question("where is epsilon?", "b", "epsilon zeta"), qa.Question("alpha?", "a", "beta gamma")]
    assert qa.recall_at_k(small, asked, 1) == 1.0
    assert qa.recall_at_k(small, [qa.Question("zeta?", "a", "alpha beta")], 1) == 0.0


@pytest.mark.parametrize("reply", [None, 3, ["the answer"]])
def test_a_reply_that_is_not_text_is_a_clear_error(reply, questions):
    with pytest.raises(ValueError, match=f"a reply must be text.*got {re.escape(repr(reply))}"):
        qa.score([reply], questions[:1])
