"""Today's reference recipe against the greener one, technique by technique: bits/char and joules, in one run.

Each row trains the reference GPT (4 layers, width 128, context 128) on the default corpus from scratch, with the
rows above it marked "kept" applied and one change more; the last kept row is the zoo's "greener" recipe. A
"rejected" row was measured and left out, because it cost quality or energy. The last row trains the greener
recipe again with another seed: how far one run's bits/char can move by chance. Quality is bits per character on
the whole validation split (`train.text_bits_per_character`); time and energy are the training loop's, measured
into the ledger (validation included, tokenizer training not). Rows run one after another on the same machine:
nothing else should run meanwhile.

    python benchmarks/bench_recipe.py [--csv data/greener_recipe_ablation.csv]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from dataclasses import replace

import torch

from greenlab.foundations.data import Corpus, load_corpus
from greenlab.training import zoo
from greenlab.training.train import bfloat16_speedup, text_bits_per_character

TARGET_BITS_PER_CHAR = 1.75
TARGET_SECONDS = 100.0


def ablation() -> list[tuple[str, str, zoo.Recipe]]:
    """(change, verdict, recipe) per row: kept changes accumulate, a rejected one is measured on top of them."""
    today, greener = zoo.recipe("reference"), zoo.recipe("greener")
    bf16 = replace(today, training=replace(today.training, precision="auto"))  # bfloat16 where it is faster
    muon = replace(bf16, training=replace(bf16.training, optimizer="muon", learning_rate=2e-3, min_learning_rate=2e-4))
    vocabulary = replace(muon, model=replace(muon.model, vocab_size=2048), vocab_size=2048)
    decay = replace(vocabulary, training=replace(vocabulary.training, weight_decay=1.0))
    more_steps = replace(decay, training=replace(decay.training, steps=greener.training.steps))
    if (more_steps.model, more_steps.training, more_steps.vocab_size) != (greener.model, greener.training,
                                                                            greener.vocab_size):
        raise AssertionError("the kept changes do not add up to the zoo's greener recipe")
    rows = [
        ("today's recipe: AdamW, float32, learning rate 3e-3", "baseline", today),
        ("bfloat16 autocast", "kept", bf16),
        ("dropout 0.1", "rejected", replace(bf16, model=replace(bf16.model, dropout=0.1))),
        ("context 256, batch 8 (same tokens per step)", "rejected",
         replace(bf16, model=replace(bf16.model, block_size=256),
                 training=replace(bf16.training, block_size=256, batch_size=8))),
        ("AdamW at learning rate 6e-3", "rejected",
         replace(bf16, training=replace(bf16.training, learning_rate=6e-3, min_learning_rate=6e-4))),
        ("Muon on the linear layers, learning rate 2e-3", "kept", muon),
        ("vocabulary 2,048", "kept", vocabulary),
        ("weight decay 1.0", "kept", decay),
        (f"{greener.training.steps} steps: the greener recipe", "kept", greener),
        ("the greener recipe, seed 1: the noise of one run", "noise",
         replace(greener, training=replace(greener.training, seed=1))),
    ]
    return rows


def trained_and_measured(recipe: zoo.Recipe, corpus: Corpus) -> tuple[float, dict]:
    """Train `recipe` from scratch in a folder removed after: its bits/char on the whole validation split, and the
    training loop's measurement (a ledger row)."""
    with tempfile.TemporaryDirectory() as folder:
        trained = zoo.train_recipe(recipe, folder, progress=False)
    val_ids = torch.tensor(trained.tokenizer.encode(corpus.validation_text))
    bits = text_bits_per_character(trained.model, val_ids, len(corpus.validation_text), recipe.model.block_size)
    return bits, trained.history["measurement"]


def write_csv(table: list[dict], path: str) -> None:
    """The table's rows, with its first row's keys as the header."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", help="also write the table to this CSV file")
    args = parser.parse_args()
    corpus = load_corpus()
    table = []
    for change, verdict, recipe in ablation():
        bits, m = trained_and_measured(replace(recipe, name=f"ablation: {change}"), corpus)
        row = {"change": change, "verdict": verdict, "bits_per_char": round(bits, 4),
               "training_s": round(m["duration_s"], 1), "energy_j": round(m["energy_j"]),
               "dynamic_j": round(m["dynamic_j"]), "tflops": round(m["flops"] / 1e12, 2)}
        table.append(row)
        print(f"{change:<52} {verdict:<9} {bits:.4f} bits/char  {m['duration_s']:6.1f} s  {m['energy_j']:6.0f} J "
              f"({m['dynamic_j']:.0f} J dynamic)  {m['flops'] / 1e12:.2f} TFLOP", flush=True)
    greener = next(row for row in table if row["change"].endswith("the greener recipe"))
    met = greener["bits_per_char"] <= TARGET_BITS_PER_CHAR and greener["training_s"] <= TARGET_SECONDS
    print(f"\ntarget: ≤ {TARGET_BITS_PER_CHAR} bits/char in ≤ {TARGET_SECONDS:.0f} s of training: "
          f"{greener['bits_per_char']:.4f} in {greener['training_s']:.1f} s, {'met' if met else 'NOT met'} "
          f"(CPU kernels: {torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads, bfloat16 "
          f"{bfloat16_speedup():.2f}x float32's speed)")
    if args.csv:
        write_csv(table, args.csv)


if __name__ == "__main__":
    main()
