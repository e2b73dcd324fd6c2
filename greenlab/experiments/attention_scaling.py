"""How attention's cost grows with sequence length: time and peak memory of each kernel, measured side by side.

    times = compare_times([1024, 2048, 4096], window=256)       # seconds per call, interleaved across kernels
    memory = compare_memory([1024, 2048, 4096], window=256)     # peak MiB, in a clean subprocess (Linux)
    energy, method = compare_energy([1024, 4096], window=256)    # joules per call, and how they were obtained

Kernels are timed in turns, so that all see the same machine load, and the fastest call is kept: on a shared, noisy
machine the minimum is the most repeatable estimate of a kernel's own cost (`time_samples` keeps every call).
"causal SDPA" (dense, fused) is the baseline; "masked dense" computes the full square and then masks it;
"blocked" is `sliding_window_attention`; "flex" is FlexAttention, forward only on a CPU.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from greenlab.models.attention.kernels import flex_available, flex_sliding_window, masked_dense_attention, \
    sliding_window_attention
from greenlab.measurement.energy import measure
from greenlab.measurement.timing import interleaved_seconds, repeat_for
from greenlab.measurement.memory import peak_memory_in_subprocess, peak_memory_mib
from greenlab.models.attention.patterns import causal

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
BASELINE = "causal SDPA"


def kernels(length: int, window: int) -> dict[str, Kernel]:
    """The contenders at one length, as functions of (q, k, v)."""
    mask = causal(length, window=window)
    return {
        BASELINE: lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        "masked dense": lambda q, k, v: masked_dense_attention(q, k, v, mask),
        "blocked": lambda q, k, v: sliding_window_attention(q, k, v, window),
        "flex": lambda q, k, v: flex_sliding_window(q, k, v, window),
    }


def _inputs(length: int, heads: int, head_dim: int, grad: bool) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(length)
    return [torch.randn(1, heads, length, head_dim, generator=generator, requires_grad=grad) for _ in range(3)]


def _run(kernel: Kernel, inputs: list[torch.Tensor], backward: bool) -> None:
    if backward:
        kernel(*inputs).sum().backward()
        for t in inputs:
            t.grad = None
    else:
        with torch.no_grad():
            kernel(*inputs)


def _trainable(names: list[str], backward: bool) -> list[str]:
    """FlexAttention has no backward pass on a CPU; and where it is missing it is left out."""
    keep = [n for n in names if n != "flex" or (not backward and flex_available() is None)]
    return keep


def time_samples(lengths: list[int], window: int = 256, heads: int = 4, head_dim: int = 64, backward: bool = True,
                 rounds: int = 4, dense_limit: int | None = None) -> dict[str, dict[int, list[float]]]:
    """Seconds of every timed call {kernel: {length: [s, ...]}}, the kernels in turn (`timing.interleaved_seconds`).
    Above `dense_limit` tokens "masked dense" (the full square in memory) is left out."""
    results: dict[str, dict[int, list[float]]] = {}
    for length in lengths:
        contenders = kernels(length, window)
        names = [n for n in _trainable(list(contenders), backward)
                 if not (n == "masked dense" and dense_limit is not None and length > dense_limit)]
        inputs = _inputs(length, heads, head_dim, grad=backward)
        calls = {name: partial(_run, contenders[name], inputs, backward) for name in names}
        for name, seconds in interleaved_seconds(calls, rounds).items():
            results.setdefault(name, {})[length] = seconds
    return results


def compare_times(lengths: list[int], window: int = 256, heads: int = 4, head_dim: int = 64,
                  backward: bool = True, rounds: int = 4) -> dict[str, dict[int, float]]:
    """Fastest seconds per call {kernel: {length: s}}; forward + backward, or forward only."""
    samples = time_samples(lengths, window, heads, head_dim, backward, rounds)
    return {name: {length: min(times) for length, times in row.items()} for name, row in samples.items()}


def measure_memory(lengths: list[int], window: int = 256, heads: int = 4, head_dim: int = 64,
                   backward: bool = True) -> dict[str, dict[str, float | None]]:
    """Peak MiB per call {kernel: {length: MiB}} in this process (see greenlab.measurement.memory for when that is
    exact)."""
    results: dict[str, dict[str, float | None]] = {}
    for length in lengths:
        contenders = kernels(length, window)
        inputs = _inputs(length, heads, head_dim, grad=backward)
        for name in _trainable(list(contenders), backward):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _run(contenders[name], inputs, backward)  # warm-up: compilation and caches are not the kernel's
                results.setdefault(name, {})[str(length)] = peak_memory_mib(
                    lambda: _run(contenders[name], inputs, backward))
    return results


def compare_memory(lengths: list[int], window: int = 256, heads: int = 4, head_dim: int = 64,
                   backward: bool = True) -> dict[str, dict[int, float | None]]:
    """Peak MiB per call {kernel: {length: MiB}}, measured in a fresh subprocess (None where unreadable)."""
    raw = peak_memory_in_subprocess("greenlab.experiments.attention_scaling", "measure_memory",
                                    dict(lengths=lengths, window=window, heads=heads, head_dim=head_dim,
                                         backward=backward))
    return {name: {int(length): mib for length, mib in row.items()} for name, row in raw.items()}


def ratios(results: dict[str, dict[int, float]], baseline: str = BASELINE) -> dict[str, dict[int, float]]:
    """baseline / kernel at each length: above 1 means the kernel is faster (or smaller) than the baseline."""
    return {name: {length: results[baseline][length] / value for length, value in row.items()}
            for name, row in results.items() if name != baseline}


def compare_energy(lengths: list[int], window: int = 256, heads: int = 4, head_dim: int = 64,
                   min_seconds: float = 0.3, names: tuple[str, ...] = (BASELINE, "masked dense", "blocked")
                   ) -> tuple[dict[str, dict[int, float]], str]:
    """Joules per forward + backward pass {kernel: {length: J}}, and how the energy was obtained. Each kernel runs
    again and again inside one measured block of at least `min_seconds` (long enough for the tracker); the
    block's energy is divided by its calls. Not added to the ledger."""
    joules: dict[str, dict[int, float]] = {}
    method = "not measured"
    for length in lengths:
        contenders = kernels(length, window)
        inputs = _inputs(length, heads, head_dim, grad=True)
        for name in names:
            def one_pass(kernel: Kernel = contenders[name]) -> int:
                _run(kernel, inputs, backward=True)
                return 1

            one_pass()  # warm-up
            with measure(f"attention {name}, L={length}", record=False) as m:
                calls, _ = repeat_for(one_pass, min_seconds)
            joules.setdefault(name, {})[length] = m.energy_j / calls
            method = m.method
    return joules, method
