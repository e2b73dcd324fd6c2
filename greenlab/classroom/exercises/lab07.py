"""Checks for lab 07, the applications: the pass@k estimator, a retrieve-then-generate pipeline, and choosing the
cheapest method that reaches a quality bar."""

from __future__ import annotations

from typing import Callable

import pandas as pd
import torch

from greenlab.applications.qa import RetrieveThenGenerate, load_questions
from greenlab.applications.retrieval import BM25Index
from greenlab.classroom.checks import CheckResult, check_function
from greenlab.foundations import metrics
from greenlab.foundations.settings import one_thread
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT


def _draw(generator: torch.Generator, low: int, high: int) -> int:
    """An integer in [low, high)."""
    return int(torch.randint(low, high, (), generator=generator))


# --- exercise 1: pass@k ------------------------------------------------------------------------------------

def check_pass_at_k(fn: Callable) -> CheckResult:
    special = iter([(10, 0, 1), (10, 10, 3), (5, 3, 3), (1, 1, 1), (200, 7, 100), (1000, 1, 1000)])

    def inputs(g: torch.Generator) -> tuple:  # the edge cases first: none pass, all pass, every draw passes
        n = _draw(g, 1, 60)
        c = _draw(g, 0, n + 1)
        return next(special, None) or (n, c, _draw(g, 1, n + 1))
    return check_function(fn, metrics.pass_at_k, inputs, trials=20, exercise="pass_at_k", atol=1e-9, rtol=1e-9,
                          hint=("pass@k is one minus the chance that all k drawn programs fail; math.comb is 0 "
                                "when n - c < k (every draw of k holds a passing program), and Python's integers do "
                                "not overflow: divide only at the end"))


# --- exercise 2: retrieve, then generate -------------------------------------------------------------------

def check_retrieve_then_generate(fn: Callable, index: BM25Index, model: GPT, tokenizer: BPETokenizer) -> CheckResult:
    """`fn(index, model, tokenizer, question, new_tokens)` against `qa.RetrieveThenGenerate` on questions of the
    course's set: the best passage, a blank line, the question and a line break, cut to leave room for the reply,
    then greedy decoding."""
    questions = [q.question for q in load_questions()]

    def reference(index, model, tokenizer, question, new_tokens) -> str:
        return RetrieveThenGenerate(index, model, tokenizer, new_tokens)(question)

    def inputs(g: torch.Generator) -> tuple:
        new_tokens = _draw(g, 4, min(17, model.config.block_size))  # room for a prompt in a small context
        return index, model, tokenizer, questions[_draw(g, 0, len(questions))], new_tokens
    with one_thread():
        return check_function(fn, reference, inputs, trials=4, exercise="retrieve_then_generate", hint=(
            "use the top BM25 passage's text; the prompt exactly as the exercise shows (passage, blank line, "
            "question, line break); fit_prompt must leave room for new_tokens; decode greedily (temperature=0); "
            "model.generate returns the prompt too: decode only the new tokens"))


# --- exercise 3: the cheapest method that is good enough ----------------------------------------------------

def reference_cheapest_method(table: pd.DataFrame, bar: float, quality: str, cost: str) -> str | None:
    """The index label of the row with the lowest `cost` among those whose `quality` is at least `bar` (on equal
    cost, the higher quality), or None when no row reaches the bar."""
    good = table[table[quality] >= bar]
    if good.empty:
        return None
    return good.sort_values([cost, quality], ascending=[True, False]).index[0]


def _table(quality: list[float], cost: list[float]) -> pd.DataFrame:
    names = [f"method {chr(65 + i)}" for i in range(len(quality))]
    return pd.DataFrame({"answer found (%)": quality, "J per 1,000": cost}, index=names)


def check_cheapest_method(fn: Callable) -> CheckResult:
    """Tables where the cheapest good method sits exactly on the bar (which reaches it), where two good methods tie on
    the lowest cost (the higher quality wins, though it comes second), where no method reaches the bar, where the
    bar is 0 (every method reaches it), then random ones."""
    special = iter([(_table([50.0, 80.0, 20.0], [5.0, 90.0, 1.0]), 50.0),
                    (_table([60.0, 90.0, 40.0, 95.0], [5.0, 5.0, 1.0, 7.0]), 50.0),
                    (_table([30.0, 45.5], [2.0, 3.0]), 60.0),
                    (_table([10.0, 0.0, 70.0], [8.0, 0.5, 3.0]), 0.0)])

    def inputs(g: torch.Generator) -> tuple:
        table, bar = next(special, (None, None))
        if table is None:
            rows = _draw(g, 2, 7)
            table = _table([round(float(x), 1) for x in torch.rand(rows, generator=g) * 100],
                           [round(float(x), 3) for x in torch.rand(rows, generator=g).pow(3) * 500 + 0.001])
            bar = round(float(torch.rand((), generator=g)) * 100, 1)
        return table, bar, "answer found (%)", "J per 1,000"
    return check_function(fn, reference_cheapest_method, inputs, trials=12, exercise="cheapest_method", hint=(
        "a method exactly on the bar meets it; None only when no method does; among those that meet it, the "
        "lowest cost, and on equal cost the higher quality; return the row's index label, not the row"))
