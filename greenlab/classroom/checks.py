"""Instant, friendly feedback on a learner's function: run it next to a reference on random inputs.

    check_function(my_similarity, reference_similarity, random_matrices, exercise="similarity")
    ✓ similarity: matches the reference on 5 random inputs
    ✗ similarity: wrong shape: expected (6, 5), got (5, 6). Hint: ...

A check never raises and never prints a stack trace: an exception inside the learner's code becomes a
one-line message naming the line where it happened. The result also says pass/fail (`result.passed`), and a
notebook shows it with a machine-readable copy (mime type CHECK_MIME) that `greenlab grade` reads.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import torch

from greenlab.models.gpt import GPT, GPTConfig
from greenlab.presentation.quiz import answer, quiz

NOT_IMPLEMENTED = "not implemented yet: replace the `raise NotImplementedError` line with your code"
CHECK_MIME = "application/vnd.greenlab.check+json"
CHECK_MARKER = re.compile(r"^# check: (?P<exercise>[\w.\-]+) \((?P<points>\d+) points?\)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one exercise's check; shown as a ✓/✗ line in a notebook."""

    exercise: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"{'✓' if self.passed else '✗'} {self.exercise}: {self.message}"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {"text/plain": repr(self),
                CHECK_MIME: {"exercise": self.exercise, "passed": self.passed, "message": self.message}}


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """None when `got` matches `expected` (within tolerance), else what differs, in words."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor, got {type(got).__name__}"
        if got.shape != expected.shape:
            return f"wrong shape: expected {tuple(expected.shape)}, got {tuple(got.shape)}"
        if got.dtype != expected.dtype:
            return f"wrong dtype: expected {expected.dtype}, got {got.dtype}"
        if got.is_floating_point() and torch.isnan(got).any() and not torch.isnan(expected).any():
            return f"the result contains NaN ({int(torch.isnan(got).sum())} of {got.numel()} values)"
        if not torch.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True):
            error = (got.double() - expected.double()).abs()
            where = tuple(int(i) for i in torch.unravel_index(error.argmax(), error.shape))
            return (f"values differ: at index {where} expected {expected[where].item():.6g}, "
                    f"got {got[where].item():.6g}")
        return None
    if isinstance(expected, numbers.Real) and not isinstance(expected, bool):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, numbers.Real) or isinstance(got, bool):
            return f"expected a number, got {type(got).__name__}"
        if math.isnan(got):
            return "the result is NaN"
        if not math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return f"expected {expected:.6g}, got {got:.6g}"
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a {type(expected).__name__} of {len(expected)} items, got {_short(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, atol, rtol)
            if problem:
                return f"item {i}: {problem}"
        return None
    return None if got == expected else f"expected {_short(expected)}, got {_short(got)}"


def describe_error(error: BaseException, fn: Callable) -> str:
    """An exception raised inside the learner's function as one line, pointing at the line in their code."""
    if isinstance(error, NotImplementedError):
        return NOT_IMPLEMENTED
    code = getattr(fn, "__code__", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if code and f.filename == code.co_filename]
    where = f" (in {frames[-1].name}, line {frames[-1].lineno}: `{frames[-1].line}`)" if frames else ""
    return f"your function raised {type(error).__name__}: {error}{where}"


def _short(value: Any, limit: int = 60) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)}"
    if isinstance(value, torch.nn.Module):
        return f"a {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_inputs(args: tuple) -> str:
    return ", ".join(map(_short, args))


def check_function(student: Callable, reference: Callable, make_inputs: Callable[[torch.Generator], tuple],
                   *, exercise: str, trials: int = 5, atol: float = 1e-5, rtol: float = 1e-4,
                   hint: str = "", seed: int = 0) -> CheckResult:
    """Compare `student(*args)` with `reference(*args)` for `trials` inputs drawn by `make_inputs(generator)`."""
    if not callable(student):
        return CheckResult(exercise, False, f"expected a function, got {type(student).__name__}")
    if getattr(student, "__code__", None) is getattr(reference, "__code__", False):
        return CheckResult(exercise, False, "this is the course's own reference function: write your own")
    generator = torch.Generator().manual_seed(seed)
    for _ in range(trials):
        args = make_inputs(generator)
        expected = reference(*copy.deepcopy(args))
        try:
            got = student(*copy.deepcopy(args))
        except Exception as error:
            return CheckResult(exercise, False, describe_error(error, student))
        problem = compare(got, expected, atol, rtol)
        if problem:
            message = f"{problem} for inputs ({_describe_inputs(args)})"
            return CheckResult(exercise, False, f"{message}. Hint: {hint}" if hint else message)
    return CheckResult(exercise, True, f"matches the reference on {trials} random inputs")


def random_gpt(vocab_size: int, seed: int, block_size: int = 32, n_embd: int = 16) -> GPT:
    """A 1-layer GPT whose weight matrices are drawn with std 0.5, far larger than a trained model's: different inputs
    then get clearly different likelihoods and greedy continuations, which a check can tell apart."""
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=2, n_embd=n_embd))
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0, 0.5)
    return model.eval()


def check_quiz(chapter: str | int, replies: object, *, exercise: str = "quiz") -> CheckResult:
    """Whether `replies` ({question number: letter or number}) answers every question of `chapter`'s self-check quiz
    right. A wrong or missing reply is named by its number only, so that the check gives no answer away."""
    questions = quiz(chapter)
    if not isinstance(replies, dict):
        return CheckResult(exercise, False, f"expected a dict {{question number: reply}}, got {_short(replies)}")
    if not replies:
        return CheckResult(exercise, False, f"{NOT_IMPLEMENTED}: a dict {{question number: reply}}")
    unknown = [n for n in replies if n not in range(1, len(questions) + 1)]
    if unknown:
        return CheckResult(exercise, False, f"the quiz has questions 1 to {len(questions)}, not {_short(unknown)}")
    wrong = [n for n in range(1, len(questions) + 1) if n not in replies or not answer(chapter, n, replies[n])]
    if wrong:
        return CheckResult(exercise, False, f"{len(questions) - len(wrong)} of {len(questions)} right; not yet: "
                                            f"{', '.join(map(str, wrong))} (answer(...) explains a right reply)")
    return CheckResult(exercise, True, f"all {len(questions)} questions right")
