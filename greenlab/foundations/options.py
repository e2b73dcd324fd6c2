"""The option types of the `greenlab` command and of the training program it starts: a whole number above zero
and a number of seconds. A bad value is argparse's one-line error that names it, never a traceback. Plain Python,
so that `greenlab --help` does not load PyTorch."""

from __future__ import annotations

import argparse


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
