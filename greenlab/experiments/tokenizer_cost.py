"""What tokenization costs downstream: the same text, tokenized differently, through one fixed model.

A text cut into fewer tokens needs fewer steps of the model, so less compute and energy — but a bigger
vocabulary makes the embedding and output layers larger. `epoch_cost` measures both effects at once: it trains a
fixed small Transformer (PyTorch's own `nn.TransformerEncoderLayer`, causal) for one epoch's worth of tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from greenlab.measurement.energy import Measurement
from greenlab.foundations.validation import check_whole
from greenlab.training.train import TrainConfig, train

CONTEXT = 64


class FixedTransformer(nn.Module):
    """Token and position embeddings, two causal Transformer layers (width 128), a linear head."""

    def __init__(self, vocab_size: int, width: int = 128, layers: int = 2, heads: int = 4, context: int = CONTEXT):
        super().__init__()
        self.token = nn.Embedding(vocab_size, width)
        self.position = nn.Embedding(context, width)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        steps = ids.shape[1]
        x = self.token(ids) + self.position(torch.arange(steps, device=ids.device))
        mask = nn.Transformer.generate_square_subsequent_mask(steps, device=ids.device)
        return self.head(self.layers(x, mask=mask, is_causal=True))


def epoch_cost(ids: list[int], vocab_size: int, label: str, batch_size: int = 16) -> Measurement:
    """Train a fresh FixedTransformer on `ids` for as many tokens as `ids` holds; return the measurement. The ids
    are checked first: whole numbers below `vocab_size` (the model has one embedding per token)."""
    check_whole("vocab_size", vocab_size)
    check_whole("batch_size", batch_size)
    tokens = torch.as_tensor(ids)
    if tokens.numel() and (tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool):
        raise ValueError(f"ids must be whole-number token ids, got {tokens.dtype}")
    outside = (tokens < 0) | (tokens >= vocab_size)
    if outside.any():
        raise ValueError(f"token id {tokens[outside][0].item()} is out of range for vocab_size={vocab_size}: "
                         f"pass the vocab_size of the tokenizer that made the ids")
    torch.manual_seed(0)
    tokens = tokens.long()
    steps = max(2, len(ids) // (batch_size * CONTEXT))
    config = TrainConfig(steps=steps, batch_size=batch_size, block_size=CONTEXT, warmup_steps=1,
                         eval_interval=steps, eval_batches=1)
    return train(FixedTransformer(vocab_size), tokens, tokens, config, label=label, progress=False).measurement
