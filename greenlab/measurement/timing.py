"""Time a piece of code so that a busy machine cannot decide the comparison: interleaved rounds and their median.

A learner's laptop runs a browser, a video call, an update. Timing one function in a block and then another lets a
slow spell fall on one side only; calling each function once per round, in turn, lets it fall on all alike, and the
median of the rounds ignores the odd slow one.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

from greenlab.foundations import validation


def interleaved_seconds(functions: dict[str, Callable[[], object]], rounds: int,
                        warmup: int = 1) -> dict[str, list[float]]:
    """Wall-clock seconds of every timed call of each function: `warmup` untimed calls each (caches, allocators),
    then `rounds` rounds that call every function once in turn, so that a slow spell of the machine falls on all
    of them alike."""
    validation.check_whole("rounds", rounds)
    validation.check_whole("warmup", warmup, minimum=0)
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(warmup):
        for fn in functions.values():
            fn()
    for _ in range(rounds):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median_seconds(functions: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, float]:
    """Median wall-clock seconds of each function over `rounds` interleaved rounds (`interleaved_seconds`)."""
    return {name: statistics.median(values)
            for name, values in interleaved_seconds(functions, rounds, warmup).items()}


def repeat_for(work: Callable[[], int], min_seconds: float) -> tuple[int, float]:
    """Call `work()` again and again, at least once, until `min_seconds` have passed (whole calls, so a block is long
    enough for the energy tracker). `work()` returns how many units it did (tokens, uses); returns their total and
    the seconds taken."""
    validation.check_number("min_seconds", min_seconds, above=0)
    units, start = 0, time.perf_counter()
    while units == 0 or time.perf_counter() - start < min_seconds:
        units += validation.check_whole("what the repeated work returns", work(), why="how many units it did")
    return units, time.perf_counter() - start
