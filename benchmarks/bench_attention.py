"""Dense against sparse attention as the sequence grows: time and peak memory, in one run.

Batch 1, 4 heads, head dim 64, sliding window 256, fp32, L = 512 … 8192. Forward + backward for causal SDPA (dense,
fused: the baseline), masked dense (the full square, then the mask) and the blocked sliding-window kernel; forward
only for all four, FlexAttention included (it has no backward pass on a CPU). Ratios are baseline / kernel: above
1 is faster. Peak memory is measured in a fresh subprocess (Linux). Machines are noisy: read the ratios.

    python benchmarks/bench_attention.py [--lengths 512 1024 2048 4096 8192] [--window 256]
"""

from __future__ import annotations

import argparse

from greenlab.attention.scaling import BASELINE, compare_memory, compare_times, ratios

TARGETS = {4096: 3.0, 8192: 5.0}  # blocked vs causal SDPA, forward + backward (theory: about 4x and 8x)


def print_table(title: str, results: dict[str, dict[int, float]], unit: str, scale: float,
                with_ratios: bool = True) -> None:
    lengths = list(results[BASELINE])
    print(f"\n{title}")
    print(f"{'kernel':<16}" + "".join(f"{'L=' + str(n):>16}" for n in lengths))
    relative = ratios(results)
    for name, row in results.items():
        cells = []
        for n in lengths:
            value = row.get(n)
            text = "n/a" if value is None else f"{value * scale:.1f} {unit}"
            if with_ratios and name != BASELINE and value is not None:
                text += f" {relative[name][n]:4.1f}x"
            cells.append(text)
        print(f"{name:<16}" + "".join(f"{c:>16}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096, 8192])
    parser.add_argument("--window", type=int, default=256)
    args = parser.parse_args()
    both = compare_times(args.lengths, args.window, backward=True)
    print_table("forward + backward, ms per call (ratio: causal SDPA / kernel)", both, "ms", 1000)
    print_table("forward only, ms per call", compare_times(args.lengths, args.window, backward=False), "ms", 1000)
    memory = compare_memory(args.lengths, args.window, backward=True)
    if all(v is None for row in memory.values() for v in row.values()):
        print("\npeak memory: not readable on this system (Linux only)")
    else:
        print_table("peak memory of forward + backward, MiB", memory, "MiB", 1, with_ratios=False)
    print()
    for length, target in TARGETS.items():
        if length in both[BASELINE]:
            speedup = ratios(both)["blocked"][length]
            verdict = "met" if speedup >= target else "MISSED"
            print(f"target at L={length}: blocked ≥ {target:.0f}x causal SDPA (forward + backward): "
                  f"{speedup:.1f}x, {verdict}")


if __name__ == "__main__":
    main()
