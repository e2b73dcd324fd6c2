"""What does measuring cost? The same workload bare, inside `measure`, and inside `measure(count_flops=True)`.

Runs the three side by side, interleaved, several rounds, and prints the median time of each and its ratio to the
bare run. Machines are noisy: read the ratios, not the seconds.

    python benchmarks/bench_measure.py [--rounds 5]
"""

from __future__ import annotations

import argparse

import torch

from greenlab.experiments.measuring_well import tracker_overhead


def workload() -> None:
    """A small training-like step: a few matrix products, forward and backward."""
    x = torch.randn(256, 512)
    w1, w2 = torch.randn(512, 1024, requires_grad=True), torch.randn(1024, 512, requires_grad=True)
    for _ in range(20):
        ((x @ w1).relu() @ w2).square().mean().backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    times = tracker_overhead(workload, rounds)
    print(f"{'variant':<28}{'median (s)':>12}{'ratio to bare':>15}")
    for name, median in times.items():
        print(f"{name:<28}{median:>12.3f}{median / times['bare']:>14.2f}x")


if __name__ == "__main__":
    main()
