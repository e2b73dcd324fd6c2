"""What does measuring cost? The same workload bare, inside `measure`, and inside `measure(count_flops=True)`.

Runs the three side by side, interleaved, several rounds, and prints the median time of each and its ratio to the
bare run. Machines are noisy: read the ratios, not the seconds.

    python benchmarks/bench_measure.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from greenlab.energy import measure


def workload() -> None:
    """A small training-like step: a few matrix products, forward and backward."""
    x = torch.randn(256, 512)
    w1, w2 = torch.randn(512, 1024, requires_grad=True), torch.randn(1024, 512, requires_grad=True)
    for _ in range(20):
        ((x @ w1).relu() @ w2).square().mean().backward()


def bare() -> None:
    workload()


def measured() -> None:
    with measure("bench: measured", record=False):
        workload()


def measured_with_flops() -> None:
    with measure("bench: measured + FLOPs", record=False, count_flops=True):
        workload()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    variants = {"bare": bare, "measure()": measured, "measure(count_flops=True)": measured_with_flops}
    times: dict[str, list[float]] = {name: [] for name in variants}
    workload()  # warm-up
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["bare"])
    print(f"{'variant':<28}{'median (s)':>12}{'ratio to bare':>15}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<28}{median:>12.3f}{median / base:>14.2f}x")


if __name__ == "__main__":
    main()
