"""Dense against sparse attention as the sequence grows: time and peak memory, in one run.

Batch 1, 4 heads, head dim 64, sliding window 256, fp32, L = 512 … 16384. Forward + backward for causal SDPA
(dense, fused: the baseline), masked dense (the full square, then the mask; left out above --dense-limit, where
the square alone needs gigabytes) and the blocked sliding-window kernel; forward only for all four, FlexAttention
included (it has no backward pass on a CPU). Each cell is the median of --repeats calls, kernels interleaved round
by round, with the spread (fastest to slowest call) beside it; ratios are baseline median / kernel median (above 1
is faster). A kernel whose median time falls as L grows is flagged: its time should only grow with the length.
Peak memory is measured in a fresh subprocess (Linux).

    python benchmarks/bench_attention.py [--lengths 512 1024 2048 4096 8192 16384] [--window 256] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics

from greenlab.experiments.attention_scaling import BASELINE, compare_memory, time_samples

TARGETS = {4096: 3.0, 8192: 5.0, 16384: 10.0}  # blocked vs causal SDPA, forward + backward (theory: ~4x, 8x, 16x)


def medians(samples: dict[str, dict[int, list[float]]]) -> dict[str, dict[int, float]]:
    return {name: {n: statistics.median(times) for n, times in row.items()} for name, row in samples.items()}


def non_monotonic(row: dict[int, float]) -> list[str]:
    """Where a kernel's median time falls while the length grows: 'L=2048 > L=4096'."""
    lengths = sorted(row)
    return [f"L={a} > L={b}" for a, b in zip(lengths, lengths[1:]) if row[a] > row[b]]


def print_table(title: str, samples: dict[str, dict[int, list[float]]]) -> dict[str, dict[int, float]]:
    """Median ms, spread and ratio per kernel and length; returns the medians."""
    middle = medians(samples)
    lengths = sorted({n for row in samples.values() for n in row})
    print(f"\n{title}")
    print(f"{'kernel':<14}" + "".join(f"{'L=' + str(n):>29}" for n in lengths) + "  flags")
    for name, row in samples.items():
        cells = []
        for n in lengths:
            if n not in row:
                cells.append("n/a")
                continue
            text = f"{middle[name][n] * 1000:.1f} ms [{min(row[n]) * 1000:.4g}-{max(row[n]) * 1000:.4g}]"
            if name != BASELINE and n in middle[BASELINE]:
                text += f" {middle[BASELINE][n] / middle[name][n]:4.1f}x"
            cells.append(text)
        flags = non_monotonic(middle[name])
        print(f"{name:<14}" + "".join(f"{c:>29}" for c in cells) + ("  NOT MONOTONIC: " + ", ".join(flags)
                                                                      if flags else ""))
    return middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per kernel and length (rounds)")
    parser.add_argument("--dense-limit", type=int, default=8192, help="longest L for the masked dense kernel")
    args = parser.parse_args()
    common = dict(rounds=args.repeats, dense_limit=args.dense_limit)
    both = print_table("forward + backward, median ms per call [fastest-slowest] (ratio: causal SDPA / kernel)",
                       time_samples(args.lengths, args.window, backward=True, **common))
    print_table("forward only, median ms per call [fastest-slowest]",
                time_samples(args.lengths, args.window, backward=False, **common))
    memory = compare_memory([n for n in args.lengths if n <= args.dense_limit], args.window, backward=True)
    if all(v is None for row in memory.values() for v in row.values()):
        print("\npeak memory: not readable on this system (Linux only)")
    else:
        print("\npeak memory of forward + backward, MiB")
        print(f"{'kernel':<14}" + "".join(f"{'L=' + str(n):>10}" for n in next(iter(memory.values()))))
        for name, row in memory.items():
            print(f"{name:<14}" + "".join(f"{'n/a' if v is None else f'{v:.0f}':>10}" for v in row.values()))
    print()
    for length, target in TARGETS.items():
        if length in both[BASELINE] and length in both["blocked"]:
            speedup = both[BASELINE][length] / both["blocked"][length]
            verdict = "met" if speedup >= target else "MISSED"
            print(f"target at L={length}: blocked ≥ {target:.0f}x causal SDPA (forward + backward, medians): "
                  f"{speedup:.1f}x, {verdict}")


if __name__ == "__main__":
    main()
