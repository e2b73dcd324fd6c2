"""The one check of a count or a number a public function is given: bad input gets a clear error naming the value,
never a deep stack trace, a hang or a silent wrong answer.

    steps = check_whole("steps", steps)                         # a whole number >= 1, as an int
    check_number("temperature", temperature, above=0)           # a finite number, within the bounds given
"""

from __future__ import annotations

import math
import numbers
import operator


def check_whole(name: str, value: object, minimum: int = 1, maximum: int | None = None, *, why: str = "",
                error: type[ValueError] = ValueError) -> int:
    """`value` as an int when it is a whole number (an int or NumPy's, not a bool) from `minimum` to `maximum`; else
    `error` naming it (and `why`, a reason in parentheses, after the bounds)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum \
            or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise error(f"{name} must be a whole number {bounds}{f' ({why})' if why else ''}, got {value!r}")
    return int(value)


def check_number(name: str, value: object, *, at_least: float | None = None, above: float | None = None,
                 at_most: float | None = None, below: float | None = None, why: str = "",
                 error: type[ValueError] = ValueError) -> float:
    """`value` when it is a finite real number (not a bool; NumPy's numbers count) within the bounds given
    (>= `at_least`, > `above`, <= `at_most`, < `below`); else `error` naming it (and `why`, as in `check_whole`)."""
    limits = ((">=", at_least, operator.ge), (">", above, operator.gt), ("<=", at_most, operator.le),
              ("<", below, operator.lt))
    bounds = [f"{sign} {limit:g}" for sign, limit, _ in limits if limit is not None]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not all(holds(value, limit) for _, limit, holds in limits if limit is not None):
        raise error(f"{name} must be a finite number{' ' + ' and '.join(bounds) if bounds else ''}"
                    f"{f' ({why})' if why else ''}, got {value!r}")
    return value
