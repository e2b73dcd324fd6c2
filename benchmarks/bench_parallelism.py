"""Data parallelism on one machine: the same training job as 1 process × 2 threads and as 2 processes × 1 thread
(torchrun, gloo), alternately, several rounds; the median time and energy of each and their ratios.

Both jobs do the same FLOPs on the same cores; the second adds a process and the gradients' all-reduce. Machines
are noisy: read the ratios, not the seconds.

    python benchmarks/bench_parallelism.py [--recipe reference] [--steps 40] [--repeats 3]
"""

from __future__ import annotations

import argparse

from greenlab.experiments.parallelism import compare, gradient_bytes, ring_bytes_sent
from greenlab.training.zoo import recipe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="reference")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    table = compare(args.recipe, args.steps, cores=2, repeats=args.repeats)
    figures = ["job (s)", "training loop (s)", "job energy (J)", "job dynamic (J)"]
    print(table[["world size", *figures]].astype(float).round(2).to_string())
    one, two = table.index
    for figure in figures:
        print(f"{figure:<20} {table.loc[two, figure] / table.loc[one, figure]:.2f}x  ({two} / {one})")
    print(f"gradients sent per rank and step: {ring_bytes_sent(gradient_bytes(recipe(args.recipe)), 2) / 1e6:.2f} MB")
    print(f"energy: {table['method'].iloc[0]}")


if __name__ == "__main__":
    main()
