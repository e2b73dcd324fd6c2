"""The option types of the `greenlab` command and of the training program it starts (a whole number above zero,
a number of seconds), and how either ends (`run_command`). A bad value is one line that names it, never a
traceback. Plain Python, so that `greenlab --help` does not load PyTorch."""

from __future__ import annotations

import argparse
import sys
from typing import Callable


def positive_int(text: str) -> int:
    """An option's whole number above zero, else argparse's clear error naming the value."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above zero")
    return int(text)


def seconds(text: str) -> float:
    """An option's number of seconds: finite and above zero, else argparse's clear error naming the value."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above zero")
    return value


def run_command(name: str, command: Callable[[], int]) -> int:
    """`command()`'s exit status; bad input or a file it cannot use is one line on stderr and 2, Ctrl-C (while a
    module is imported, say, where the command has nothing more to say) is one line and 130."""
    try:
        return command()
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
