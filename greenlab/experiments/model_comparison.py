"""Lighter models against the one they replace: quality on a held-out text beside what generating costs.

    table = compare_models({"teacher": (teacher, 2114.0), "student": (student, 607.0)}, val_ids,
                           len(corpus.validation_text), baseline="teacher")

One row per model: its size, FLOPs per token, perplexity (and its ratio to the baseline's) and bits per character
on the whole text (`train.text_loss`), tokens per second and joules per 1,000 generated tokens (measured, one
ledger row each), and the training energy given with it. Notebook 04 and `greenlab report` print this table.

Perplexity, not bits per character, is what the ratio compares: perplexity grows exponentially with the bits,
so a ratio of bits would make a weaker model look closer to its baseline than it is.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import pandas as pd
import torch
from torch import nn

from greenlab.experiments.generation_cost import generation_cost
from greenlab.training.train import bits_per_character, text_loss


def compare_models(models: Mapping[str, tuple[nn.Module, float]], ids: torch.Tensor, n_characters: int, *,
                   baseline: str, ledger_label: Callable[[str], str] = str) -> pd.DataFrame:
    """The table above for `models` (name → (model, training energy in J)) on the text of `n_characters`
    characters whose tokens are `ids`; `baseline` names the row the perplexities are divided by, and
    `ledger_label(name)` the model in the ledger's inference rows."""
    if baseline not in models:
        raise ValueError(f"baseline {baseline!r} is not one of the models: {sorted(models)}")
    rows = {}
    for name, (model, training_j) in models.items():
        loss = text_loss(model, ids, model.config.block_size)
        quality = bits_per_character(loss, len(ids) - 1, n_characters)
        cost = generation_cost(model, ledger_label(name), quality)
        rows[name] = {"parameters": model.num_parameters(), "MFLOP/token": model.flops_per_token() / 1e6,
                      "perplexity": math.exp(loss), "bits/char": quality, "tokens/s (batch 1)": cost.uses_per_s,
                      "J per 1k tokens": cost.joules_per_1000,
                      "dynamic J per 1k tokens": cost.dynamic_joules_per_1000, "training energy (J)": training_j}
    table = pd.DataFrame(rows).T
    table.insert(table.columns.get_loc("perplexity") + 1, f"perplexity ÷ {baseline}",
                 table["perplexity"] / table.loc[baseline, "perplexity"])
    return table
