"""Self-check quizzes: four to six questions at the end of each chapter that test understanding, not recall.

The questions are data, one module per chapter in `greenlab/presentation/quizzes/`, so that the answers are not in
the notebook's text and a teacher can change them in one place.

    show_quiz("02")              # the questions, each with its options and a "check" button
    answer("02", 1, "b")         # the same feedback, as text: for a front end where widgets do not run
    ✓ 1. Right. Attention compares every token with every other ... (see "1. Attention from first principles")

A wrong reply points back to the notebook's section without giving the answer away; a right one explains why.
`greenlab.classroom.checks.check_quiz` scores a lab's quiz with `answer`.
"""

from __future__ import annotations

import html
import importlib
import math
import numbers
import re
from dataclasses import dataclass

from greenlab.foundations.settings import require
from greenlab.foundations.validation import check_number

CHAPTERS = tuple(f"{n:02d}" for n in range(9))
LETTERS = "abcd"
FIELDS = {"ask", "options", "answer", "why", "see", "tolerance"}


@dataclass(frozen=True)
class QuizQuestion:
    """One question: `options` empty for a number question, whose `answer` is right within `tolerance`
    (relative); else `answer` is the right option's letter."""

    ask: str
    options: tuple[str, ...]
    answer: str | float
    why: str
    see: str
    tolerance: float = 0.0

    @property
    def asks_a_number(self) -> bool:
        return not self.options


@dataclass(frozen=True)
class Marking:
    """The verdict on one reply, shown as a ✓/✗ line."""

    number: int
    right: bool
    message: str

    def __bool__(self) -> bool:
        return self.right

    def __repr__(self) -> str:
        return f"{'✓' if self.right else '✗'} {self.number}. {self.message}"


def _text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key!r} must be non-empty text, got {value!r}")
    return value


def _question(entry: object, where: str) -> QuizQuestion:
    """One entry of a chapter's QUESTIONS, its content checked (not only its types): a clear error names it."""
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be a dict, got {type(entry).__name__}")
    unknown = set(entry) - FIELDS
    if unknown:
        raise ValueError(f"{where} has unknown fields {sorted(unknown)}; the fields are {sorted(FIELDS)}")
    ask, why, see = (_text(entry, key, where) for key in ("ask", "why", "see"))
    if "options" not in entry:
        answer = check_number(f"{where}: the answer", entry.get("answer"))
        tolerance = check_number(f"{where}: the tolerance", entry.get("tolerance"), at_least=0, below=1,
                                 why="a relative error")
        return QuizQuestion(ask, (), answer, why, see, tolerance)
    options = entry["options"]
    if not isinstance(options, list) or not 2 <= len(options) <= len(LETTERS) \
            or not all(isinstance(o, str) and o.strip() for o in options) or len(set(options)) != len(options):
        raise ValueError(f"{where}: 'options' must be a list of 2 to {len(LETTERS)} different texts, got {options!r}")
    if entry.get("answer") not in LETTERS[:len(options)]:
        raise ValueError(f"{where}: 'answer' must be one of the letters {', '.join(LETTERS[:len(options)])}, "
                         f"got {entry.get('answer')!r}")
    if "tolerance" in entry:
        raise ValueError(f"{where}: 'tolerance' belongs to number questions only")
    return QuizQuestion(ask, tuple(options), entry["answer"], why, see)


def check_chapter(chapter: object) -> str:
    """`chapter` as a two-digit chapter number ("00" to "08"); a ValueError naming it otherwise."""
    if isinstance(chapter, numbers.Integral) and not isinstance(chapter, bool):
        chapter = f"{int(chapter):02d}"
    if chapter not in CHAPTERS:
        raise ValueError(f"a chapter is one of {', '.join(CHAPTERS)}, got {chapter!r}")
    return chapter


def quiz(chapter: str | int) -> list[QuizQuestion]:
    """The questions of `chapter`, read from `greenlab/presentation/quizzes/chapterNN.py` and checked."""
    chapter = check_chapter(chapter)
    module = importlib.import_module(f"greenlab.presentation.quizzes.chapter{chapter}")
    entries = getattr(module, "QUESTIONS", None)
    if not isinstance(entries, list) or not 4 <= len(entries) <= 6:
        raise ValueError(f"{module.__file__}: QUESTIONS must be a list of 4 to 6 questions, got {entries!r}"[:300])
    return [_question(entry, f"question {n} of {module.__file__}") for n, entry in enumerate(entries, 1)]


def _question_number(questions: list[QuizQuestion], number: object, chapter: str) -> QuizQuestion:
    if isinstance(number, bool) or not isinstance(number, numbers.Integral) or not 1 <= number <= len(questions):
        raise ValueError(f"chapter {chapter}'s quiz has questions 1 to {len(questions)}, got {number!r}")
    return questions[int(number) - 1]


def _reads_as_number(reply: object) -> float | None:
    """A reply as a number: a number, or text such as "1.5e9" or "1,500"; None when it is neither."""
    if isinstance(reply, numbers.Real) and not isinstance(reply, bool):
        return float(reply)
    if isinstance(reply, str):
        try:
            return float(reply.strip().replace(",", "").replace("_", ""))
        except ValueError:
            return None
    return None


def answer(chapter: str | int, number: int, reply: object) -> Marking:
    """The verdict on `reply` to question `number` (from 1) of `chapter`'s quiz: a letter for a multiple-choice
    question, a number for a number question. A reply that cannot be an answer says what is expected. In a code
    cell, its ✓/✗ line is the feedback where widgets do not run."""
    chapter = check_chapter(chapter)
    question = _question_number(quiz(chapter), number, chapter)
    section = f'see "{question.see}"'
    if question.asks_a_number:
        value = _reads_as_number(reply)
        if value is None or not math.isfinite(value):
            return Marking(number, False, f"this question asks for a number, got {reply!r}")
        right = math.isclose(value, question.answer, rel_tol=question.tolerance, abs_tol=1e-12)
    else:
        letters = LETTERS[:len(question.options)]
        letter = reply.strip().lower().rstrip(")") if isinstance(reply, str) else ""
        if len(letter) != 1 or letter not in letters:
            return Marking(number, False, f"reply with one letter of {', '.join(letters)}, got {reply!r}")
        right = letter == question.answer
    if right:
        return Marking(number, True, f"Right. {question.why} ({section})")
    return Marking(number, False, f"Not this one: read the section again and think it through ({section})")


def quiz_text(chapter: str | int) -> str:
    """The quiz as plain text: what a front end without widgets shows, and how to answer there."""
    chapter = check_chapter(chapter)
    lines = [f"Self-check quiz, chapter {chapter}. Reply in a code cell: "
             f"from greenlab.presentation.quiz import answer; answer({chapter!r}, 1, 'a')"]
    for n, question in enumerate(quiz(chapter), 1):
        lines += ["", f"{n}. {question.ask}"]
        lines += [f"   {letter}) {option}" for letter, option in zip(LETTERS, question.options)]
        if question.asks_a_number:
            lines.append("   (reply with a number)")
    return "\n".join(lines)


_CODE = re.compile(r"`([^`]+)`")


def _html(text: str) -> str:
    """Question text as HTML: escaped, with `code` in monospace."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def show_quiz(chapter: str | int):
    """The quiz as widgets: per question, its options (or a number box), a "check" button and the verdict. Where
    widgets do not run, the same questions show as text (`quiz_text`), answered with `answer`."""
    from greenlab.presentation.widgets import panel  # here: widgets pulls in matplotlib, which scoring never needs

    widgets = require("ipywidgets", extra="lab")
    chapter = check_chapter(chapter)
    rows = []
    for n, question in enumerate(quiz(chapter), 1):
        if question.asks_a_number:
            reply = widgets.Text(placeholder="a number", description="your answer")
        else:
            reply = widgets.RadioButtons(options=[(f"{letter}) {option}", letter) for letter, option
                                                  in zip(LETTERS, question.options)], value=None,
                                         layout=widgets.Layout(width="auto"))
        button = widgets.Button(description="check", button_style="info")
        verdict = widgets.HTML()

        def press(_, n=n, reply=reply, verdict=verdict) -> None:
            marking = answer(chapter, n, reply.value)
            colour = "#1b7f3b" if marking.right else "#b00020"
            verdict.value = f"<span style='color:{colour}'>{html.escape(repr(marking))}</span>"

        button.on_click(press)
        rows.append(widgets.VBox([widgets.HTML(f"<b>{n}.</b> {_html(question.ask)}"), reply,
                                  widgets.HBox([button, verdict])]))
    return panel(rows, lambda: quiz_text(chapter))
