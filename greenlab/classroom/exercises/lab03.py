"""Checks for lab 03, sparse attention: two masks, a blocked sliding-window kernel, and a predicted speedup."""

from __future__ import annotations

from typing import Callable

import torch

from greenlab.classroom.checks import CheckResult, check_function, describe_error
from greenlab.experiments.attention_scaling import compare_times, ratios
from greenlab.measurement.timing import median_seconds
from greenlab.foundations.validation import check_number, check_whole
from greenlab.models.attention import causal, masked_dense_attention, strided


def _integer(generator: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high, (), generator=generator))


def check_sliding_window_mask(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        length = _integer(g, 1, 40)
        return length, _integer(g, 1, length + 5)
    return check_function(fn, lambda length, window: causal(length, window=window), inputs, trials=8,
                          exercise="sliding_window_mask", hint=(
                              "query i may see key j when 0 <= i - j < window: build i - j with torch.arange "
                              "and broadcasting, then compare"))


def check_strided_mask(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        return _integer(g, 1, 40), _integer(g, 1, 9)
    return check_function(fn, strided, inputs, trials=8, exercise="strided_mask", hint=(
        "with d = i - j: never the future (d >= 0), and then either one of the last `stride` keys or a multiple of "
        "`stride` back; bracket every comparison, because & and | bind tighter than <, >= and =="))


EDGE_CASES = [(1, 1, 8, 1, 4), (2, 3, 100, 1, 32), (1, 2, 70, 200, 32), (2, 1, 130, 32, 32), (1, 2, 257, 64, 64)]


def check_blocked_attention(fn: Callable) -> CheckResult:
    """Same output and gradients as the masked reference on edge cases and random shapes, and really sparse:
    at 4,096 tokens it must beat the masked dense computation by 2x."""
    exercise = "blocked_attention"
    for batch, heads, length, window, block in EDGE_CASES:
        generator = torch.Generator().manual_seed(length)
        q, k, v = (torch.randn(batch, heads, length, 16, generator=generator, requires_grad=True) for _ in range(3))
        expected = masked_dense_attention(q, k, v, causal(length, window=window))
        try:
            got = fn(q, k, v, window, block)
            (grad,) = torch.autograd.grad(got.square().sum(), q)
        except Exception as error:
            return CheckResult(exercise, False, describe_error(error, fn))
        (expected_grad,) = torch.autograd.grad(expected.square().sum(), q)
        case = f"batch {batch}, heads {heads}, length {length}, window {window}, block {block}"
        if got.shape != expected.shape:
            return CheckResult(exercise, False, f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)} "
                                                f"({case})")
        if not torch.allclose(got, expected, atol=1e-5):
            return CheckResult(exercise, False, f"outputs differ from the masked reference by up to "
                                                f"{(got - expected).abs().max():.2e} ({case}). Hint: the last block "
                                                f"may be shorter; a window can reach back across several blocks")
        if not torch.allclose(grad, expected_grad, atol=1e-4):
            return CheckResult(exercise, False, f"the gradient differs from the reference's ({case}): avoid "
                                                f"in-place writes into tensors autograd needs")
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 4, 4096, 64, generator=generator) for _ in range(3))
    mask = causal(4096, window=256)
    with torch.no_grad():
        seconds = median_seconds({"yours": lambda: fn(q, k, v, 256, 256),
                                  "masked": lambda: masked_dense_attention(q, k, v, mask)}, rounds=3)
    speedup = seconds["masked"] / seconds["yours"]
    if speedup < 2:
        return CheckResult(exercise, False, f"correct, but only {speedup:.1f}x faster than the masked dense "
                                            f"computation at 4,096 tokens: make sure each query block only "
                                            f"computes scores for the keys its window can reach")
    return CheckResult(exercise, True, f"same outputs and gradients as the reference on {len(EDGE_CASES)} edge "
                                       f"cases, and more than 2x faster than masked dense at 4,096 tokens")


def measure_speedup(length: int, window: int = 256) -> float:
    """Measured forward + backward speedup of the blocked kernel over causal SDPA at `length` tokens."""
    if not 256 <= length <= 16384:
        raise ValueError(f"pick a length between 256 and 16384 tokens, got {length}")
    return ratios(compare_times([length], window, backward=True))["blocked"][length]


def check_prediction(length: int, predict_speedup: Callable[[int], float],
                     measure: Callable[[int], float] = measure_speedup) -> CheckResult:
    """Measure the speedup at `length`; the learner's prediction passes when within a factor of 2 of it."""
    exercise = "predicted_speedup"
    try:
        check_whole("my_length", length, 256, 16384)
    except ValueError as error:
        return CheckResult(exercise, False, str(error))
    try:
        predicted = predict_speedup(length)
    except Exception as error:
        return CheckResult(exercise, False, describe_error(error, predict_speedup))
    try:
        check_number("predict_speedup's result", predicted, above=0)
    except ValueError as error:
        return CheckResult(exercise, False, str(error))
    measured = measure(length)
    factor = max(predicted / measured, measured / predicted)
    verdict = f"predicted {predicted:.1f}x, measured {measured:.1f}x at {length:,} tokens"
    if factor > 2:
        return CheckResult(exercise, False, f"{verdict}: off by a factor {factor:.1f}. Count the pairs each kernel "
                                            f"computes: causal about n²/2, blocked about n·(window + block)")
    return CheckResult(exercise, True, f"{verdict}: within a factor {factor:.2f}")
