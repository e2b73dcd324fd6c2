"""A claim about time or energy, checked against this run's measurement, that never stops a learner's notebook.

Counts, FLOPs and losses at fixed seeds are the same on every run: they stay plain asserts. A time or an energy is
not: a claim that holds on a quiet course machine ("the KV cache is faster") can fail on a learner's laptop while a
browser or a video call runs beside it. `expect` warns a learner, saying what to do, and fails under the test suite
(GREENLAB_STRICT_CLAIMS=1), so that a regression on the quiet test machine cannot pass unseen. GREENLAB_CLAIMS_LOG
names a file that collects the claims that did not hold (`make test-busy` lists them).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

STRICT = "GREENLAB_STRICT_CLAIMS"  # "1": a claim that does not hold raises (the test suite)
LOG = "GREENLAB_CLAIMS_LOG"  # a file that every claim that did not hold is appended to


class ClaimWarning(UserWarning):
    """A claim about time or energy that this run's measurement did not bear out."""


def strict() -> bool:
    """Whether a claim that does not hold raises (under the test suite) rather than warns (a learner's notebook)."""
    return os.environ.get(STRICT, "").strip() == "1"


def expect(holds: bool, claim: str, measured: str) -> None:
    """Check a claim about time or energy: `holds` is the comparison, `claim` what the text says, `measured` the
    figures behind it. When it does not hold: an AssertionError under the test suite, a warning that says what to
    do anywhere else. Returns nothing, so that a cell ending with it shows no output."""
    if holds:
        return
    message = (f"the text expects {claim}, but this run measured {measured}. Times and energies depend on what else "
               f"the machine is doing and on its CPU: close other programs and run the cell again. If it still "
               f"disagrees on a quiet machine, the claim does not hold there: please report it.")
    if os.environ.get(LOG):
        with Path(os.environ[LOG]).open("a", encoding="utf-8") as log:
            log.write(f"{claim} | measured {measured}\n")
    if strict():
        raise AssertionError(message)
    warnings.warn(message, ClaimWarning, stacklevel=2)
