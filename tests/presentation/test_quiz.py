import json
import sys
import types

import nbformat
import pytest

from greenlab.classroom import conventions
from greenlab.classroom.checks import check_quiz
from greenlab.presentation import quiz
from greenlab.presentation.quiz import CHAPTERS, LETTERS, answer, quiz_text, show_quiz

NOTEBOOKS = {path.name[:2]: path for path in conventions.course_notebooks() if path.parent.name == "notebooks"}


def right_reply(question: quiz.QuizQuestion) -> str | float:
    return question.answer


def wrong_reply(question: quiz.QuizQuestion) -> str | float:
    if question.asks_a_number:
        return question.answer * (1 + 2 * question.tolerance) + 1
    return next(letter for letter in LETTERS[:len(question.options)] if letter != question.answer)


def headings(notebook) -> set[str]:
    nb = nbformat.read(notebook, as_version=4)
    return {line.lstrip("#").strip() for cell in nb.cells if cell.cell_type == "markdown"
            for line in cell.source.splitlines() if line.startswith("#")}


def test_every_chapter_has_a_notebook_and_a_quiz():
    assert sorted(NOTEBOOKS) == list(CHAPTERS)
    for chapter in CHAPTERS:
        assert 4 <= len(quiz.quiz(chapter)) <= 6


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_explanation_points_at_a_section_of_its_notebook(chapter):
    sections = headings(NOTEBOOKS[chapter])
    assert [q.see for q in quiz.quiz(chapter) if q.see not in sections] == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_notebook_shows_no_answer(chapter):
    """The saved notebook (what a learner reads as text) holds the questions, never an explanation or a key."""
    saved = json.dumps(nbformat.read(NOTEBOOKS[chapter], as_version=4))
    for question in quiz.quiz(chapter):
        assert question.why[:60] not in saved
    assert "Self-check quiz, chapter" in saved  # the plain-text form is there for front ends without widgets


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_right_letter_is_not_always_the_same(chapter):
    letters = [q.answer for q in quiz.quiz(chapter) if not q.asks_a_number]
    assert len(set(letters)) > 1


def test_a_right_reply_explains_and_points_back():
    question = quiz.quiz("02")[0]
    marking = answer("02", 1, right_reply(question))
    assert marking and repr(marking).startswith("✓ 1. Right.")
    assert question.why in marking.message and question.see in marking.message


def test_a_wrong_reply_gives_nothing_away():
    for chapter in CHAPTERS:
        for number, question in enumerate(quiz.quiz(chapter), 1):
            marking = answer(chapter, number, wrong_reply(question))
            assert not marking and question.why not in marking.message and question.see in marking.message


@pytest.mark.parametrize("reply, expected", [(" B) ", "one letter"), ("e", "one letter of a, b"), (None, "one letter"),
                                              (2, "one letter")])
def test_a_reply_that_is_not_a_letter_says_what_is_expected(reply, expected):
    chapter, number = next((c, n) for c in CHAPTERS for n, q in enumerate(quiz.quiz(c), 1) if not q.asks_a_number)
    marking = answer(chapter, number, reply)
    if reply == " B) ":  # upper case, spaces and a parenthesis are read as the letter
        assert "one letter" not in marking.message
    else:
        assert not marking and expected in marking.message


def test_a_number_question_accepts_its_tolerance_and_text():
    found = [(c, n, q) for c in CHAPTERS for n, q in enumerate(quiz.quiz(c), 1) if q.asks_a_number]
    assert found, "at least one quiz asks for a number"
    for chapter, number, question in found:
        assert answer(chapter, number, question.answer * (1 + question.tolerance / 2))
        assert answer(chapter, number, f"{question.answer:.6e}")
        assert not answer(chapter, number, wrong_reply(question))
        assert "asks for a number" in answer(chapter, number, "b").message
        assert "asks for a number" in answer(chapter, number, float("nan")).message


@pytest.mark.parametrize("chapter, number, expected", [
    ("9", 1, "a chapter is one of"), (True, 1, "a chapter is one of"),
    ("02", 0, "questions 1 to"), ("02", 99, "questions 1 to"), ("02", 1.0, "questions 1 to")])
def test_bad_chapters_and_question_numbers_are_named(chapter, number, expected):
    with pytest.raises(ValueError, match=expected):
        answer(chapter, number, "a")


def fake_chapter(monkeypatch, questions) -> None:
    module = types.ModuleType("greenlab.presentation.quizzes.chapter00")
    module.QUESTIONS = questions
    module.__file__ = "chapter00.py"
    monkeypatch.setitem(sys.modules, "greenlab.presentation.quizzes.chapter00", module)


GOOD = {"ask": "Which?", "options": ["x", "y"], "answer": "b", "why": "Because.", "see": "1. Somewhere"}


@pytest.mark.parametrize("change, expected", [
    ({"answer": "c"}, "'answer' must be one of the letters a, b, got 'c'"),
    ({"options": ["x", "x"]}, "'options' must be a list of 2 to 4 different texts"),
    ({"options": ["x"], "answer": "a"}, "'options' must be a list"),
    ({"why": ""}, "'why' must be non-empty text"),
    ({"see": None}, "'see' must be non-empty text"),
    ({"tolerance": 0.1}, "'tolerance' belongs to number questions only"),
    ({"hint": "x"}, "unknown fields \\['hint'\\]"),
    ({"options": None}, "'options' must be a list"),
])
def test_a_bad_question_is_refused_naming_it(monkeypatch, change, expected):
    fake_chapter(monkeypatch, [GOOD, GOOD, GOOD, {**GOOD, **change}])
    with pytest.raises(ValueError, match=f"question 4 of chapter00.py.*{expected}"):
        quiz.quiz("00")


@pytest.mark.parametrize("entry, expected", [
    ({"ask": "How many?", "answer": 3.0, "why": "w", "see": "s"}, "the tolerance must be a finite number"),
    ({"ask": "How many?", "answer": "3", "tolerance": 0.1, "why": "w", "see": "s"}, "the answer must be a finite"),
    ({"ask": "How many?", "answer": 3.0, "tolerance": 1.5, "why": "w", "see": "s"}, "the tolerance must be"),
])
def test_a_bad_number_question_is_refused(monkeypatch, entry, expected):
    fake_chapter(monkeypatch, [GOOD, GOOD, GOOD, entry])
    with pytest.raises(ValueError, match=expected):
        quiz.quiz("00")


@pytest.mark.parametrize("questions", [[GOOD] * 3, [GOOD] * 7, "not a list"])
def test_a_quiz_has_four_to_six_questions(monkeypatch, questions):
    fake_chapter(monkeypatch, questions)
    with pytest.raises(ValueError, match="4 to 6 questions"):
        quiz.quiz("00")


def test_the_text_form_asks_every_question_and_gives_no_answer():
    text = quiz_text("05")
    for number, question in enumerate(quiz.quiz("05"), 1):
        assert f"{number}. {question.ask}" in text and question.why not in text
        for letter, option in zip(LETTERS, question.options):
            assert f"{letter}) {option}" in text
    assert "answer('05', 1, 'a')" in text


def test_the_widgets_mark_a_reply_and_read_as_text_without_widgets():
    shown = show_quiz("02")
    assert repr(shown) == quiz_text("02")
    for number, (row, question) in enumerate(zip(shown.children, quiz.quiz("02")), 1):
        _, reply, buttons = row.children
        button, verdict = buttons.children
        button.click()  # nothing chosen yet
        assert verdict.value.count("✗")
        reply.value = right_reply(question) if not question.asks_a_number else str(question.answer)
        button.click()
        assert f"✓ {number}. Right." in verdict.value


def test_check_quiz_scores_a_lab_reply_without_giving_answers_away():
    questions = quiz.quiz("03")
    replies = {n: right_reply(q) for n, q in enumerate(questions, 1)}
    assert check_quiz("03", replies).passed
    result = check_quiz("03", {**replies, 2: wrong_reply(questions[1])})
    assert not result.passed and "not yet: 2" in result.message and questions[1].why not in result.message
    missing = {n: r for n, r in replies.items() if n != 1}
    assert "not yet: 1" in check_quiz("03", missing).message
    assert "expected a dict" in check_quiz("03", ["b"]).message
    assert check_quiz("03", {}).message.startswith("not implemented yet")  # the student version's empty dict
    assert "not [0]" in check_quiz("03", {**replies, 0: "a"}).message
