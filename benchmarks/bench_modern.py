"""The modern block, change by change, on the greener recipe: bits/char, time and joules, with seeds repeated.

Each row trains the zoo's greener recipe (notebook 05) from scratch with one change of the block — RMSNorm, rotary
positions (RoPE), a SwiGLU MLP, QK-norm, no biases — or with all of Llama's or Qwen3's. GPT-2's block and the two
whole modern blocks run with `--seeds` seeds, the single changes with one: a difference between rows smaller than
the largest difference between two seeds of one row is noise. The steps, the batches and the optimizer are the
same in every row, so the rows compare at equal steps; energy is the training loop's (validation included,
tokenizer training not), codecarbon's estimate on a machine without RAPL. Quality is bits per character on the
whole validation split. Rows run one after another: nothing else should run meanwhile.

    python benchmarks/bench_modern.py [--seeds 2] [--csv data/modern_block_ablation.csv]
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from bench_recipe import trained_and_measured, write_csv  # as the greener recipe's table: one way to train a row
from greenlab.foundations.data import load_corpus
from greenlab.models.gpt import GPT
from greenlab.training import zoo

LLAMA = {"norm": "rmsnorm", "positions": "rope", "mlp": "swiglu", "bias": False}
REPEATED = ("none: GPT-2's block", "Llama's block (all four above but QK-norm)", "Qwen3's block (Llama's and QK-norm)")
CHANGES = {  # the change: the block's options it sets
    "none: GPT-2's block": {},
    "RMSNorm": {"norm": "rmsnorm"},
    "rotary positions (RoPE)": {"positions": "rope"},
    "SwiGLU MLP": {"mlp": "swiglu"},
    "QK-norm": {"qk_norm": True},
    "no biases": {"bias": False},
    "Llama's block (all four above but QK-norm)": LLAMA,
    "Qwen3's block (Llama's and QK-norm)": {**LLAMA, "qk_norm": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2, help="runs of the repeated rows, with seeds 0, 1, …")
    parser.add_argument("--csv", help="also write the table to this CSV file")
    args = parser.parse_args()
    corpus, greener = load_corpus(), zoo.recipe("greener")
    table = []
    for change, options in CHANGES.items():
        for seed in range(args.seeds if change in REPEATED else 1):
            recipe = replace(greener, name=f"modern block: {change}, seed {seed}",
                             model=replace(greener.model, **options),
                             training=replace(greener.training, seed=seed))
            bits, m = trained_and_measured(recipe, corpus)
            tokens = recipe.training.steps * recipe.training.batch_size * recipe.training.block_size
            row = {"change": change, "seed": seed, "parameters": GPT(recipe.model).num_parameters(),
                   "bits_per_char": round(bits, 4), "training_s": round(m["duration_s"], 1),
                   "tokens_per_s": round(tokens / m["duration_s"]), "energy_j": round(m["energy_j"]),
                   "dynamic_j": round(m["dynamic_j"]), "tflops": round(m["flops"] / 1e12, 2)}
            table.append(row)
            print(f"{change:<44} seed {seed}  {bits:.4f} bits/char  {m['duration_s']:6.1f} s  "
                  f"{m['energy_j']:6.0f} J ({m['dynamic_j']:.0f} J dynamic)  {m['flops'] / 1e12:.2f} TFLOP",
                  flush=True)
    print(f"\nCPU kernels: {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads")
    if args.csv:
        write_csv(table, args.csv)


if __name__ == "__main__":
    main()
