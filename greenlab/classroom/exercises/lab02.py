"""Checks for lab 02, the Transformer: causal attention, multi-head attention, a block, and training with them."""

from __future__ import annotations

import math
import warnings
from typing import Callable

import torch

from greenlab.classroom.checks import CheckResult, check_function, describe_error
from greenlab.foundations.data import load_corpus
from greenlab.models.gpt import GPT, Block, CausalSelfAttention, GPTConfig, KVCache, math_attention
from greenlab.training.train import TrainConfig, train


def _shape(generator: torch.Generator, low: int, high: int) -> int:
    return int(torch.randint(low, high, (), generator=generator))


def check_causal_attention(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        B, H, T, D = _shape(g, 1, 3), _shape(g, 1, 4), _shape(g, 1, 9), _shape(g, 2, 9)
        return tuple(torch.randn(B, H, T, D, generator=g) for _ in range(3))
    return check_function(fn, math_attention, inputs, exercise="causal_attention", hint=(
        "divide the scores by √head_width; the future (above the diagonal) must get a weight of exactly 0: set "
        "those scores to -inf before the softmax, not after; the softmax runs over the keys (the last dimension)"))


def _random_attention(g: torch.Generator) -> tuple[CausalSelfAttention, int, int]:
    n_head = _shape(g, 1, 4)
    width = n_head * _shape(g, 2, 6)
    attention = CausalSelfAttention(GPTConfig(n_embd=width, n_head=n_head, n_layer=1), layer=0)
    with torch.no_grad():
        for p in attention.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return attention, width, n_head


def check_multi_head_attention(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        attention, width, n_head = _random_attention(g)
        x = torch.randn(_shape(g, 1, 3), _shape(g, 1, 8), width, generator=g)
        return (x, attention.c_attn.weight.detach(), attention.c_attn.bias.detach(), attention.c_proj.weight.detach(),
                attention.c_proj.bias.detach(), n_head)

    def reference(x, w_qkv, b_qkv, w_out, b_out, n_head):
        attention = CausalSelfAttention(GPTConfig(n_embd=x.shape[-1], n_head=n_head, n_layer=1), layer=0)
        attention.load_state_dict({"c_attn.weight": w_qkv, "c_attn.bias": b_qkv, "c_proj.weight": w_out,
                                   "c_proj.bias": b_out})
        with torch.no_grad():
            return attention(x)
    return check_function(fn, reference, inputs, exercise="multi_head_attention", hint=(
        "the first linear layer gives q, k and v side by side, in that order, along the last dimension; each head "
        "needs an axis of its own before T for attention, (B, n_head, T, C // n_head), and the heads must be put "
        "side by side again, (B, T, C), before the output projection"))


def _random_block(g: torch.Generator) -> tuple[Block, int]:
    n_head = _shape(g, 1, 4)
    width = n_head * _shape(g, 2, 6)
    block = Block(GPTConfig(n_embd=width, n_head=n_head, n_layer=1), layer=0).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(p + torch.randn(p.shape, generator=g) * 0.3)
    return block, width


def check_block_forward(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        block, width = _random_block(g)
        return torch.randn(_shape(g, 1, 3), _shape(g, 1, 8), width, generator=g), block

    def reference(x, block):
        with torch.no_grad():
            return block(x)
    return check_function(fn, reference, inputs, exercise="block_forward", atol=1e-4, hint=(
        "pre-LayerNorm: each sub-layer reads a normalised copy of x (ln_1 for attention, ln_2 for the MLP) and "
        "its output is added to x itself; the MLP reads x after attention's update, and its GELU is the exact one"))


class _LearnerBlock(Block):
    """A Block whose forward is the learner's function."""

    def __init__(self, config: GPTConfig, layer: int, block_forward: Callable):
        super().__init__(config, layer)
        self.block_forward = block_forward

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        return self.block_forward(x, self)


TINY = GPTConfig(vocab_size=256, block_size=32, n_layer=2, n_head=2, n_embd=32)
TINY_TRAINING = TrainConfig(steps=20, batch_size=8, block_size=32, warmup_steps=2, eval_interval=20, eval_batches=2)


def train_tiny_gpt(block_forward: Callable | None, label: str) -> float:
    """Final training loss of a tiny byte-level GPT after 20 steps; blocks use `block_forward` when given."""
    text = load_corpus().train_text[:30_000].encode("utf-8")
    ids = torch.tensor(list(text), dtype=torch.long)
    torch.manual_seed(0)
    model = GPT(TINY)
    if block_forward is not None:
        for layer, block in enumerate(model.h):
            replacement = _LearnerBlock(TINY, layer, block_forward)
            replacement.load_state_dict(block.state_dict())
            model.h[layer] = replacement
    with warnings.catch_warnings():  # a check of correctness: these runs are too short to measure
        warnings.filterwarnings("ignore", message=".*below the energy tracker's resolution")
        return train(model, ids, ids, TINY_TRAINING, label=label, progress=False).train_losses[-1]


def check_training(block_forward: Callable) -> CheckResult:
    exercise = "training"
    try:
        learner_loss = train_tiny_gpt(block_forward, "lab02 your GPT, 20 steps")
    except Exception as error:
        return CheckResult(exercise, False, describe_error(error, block_forward))
    reference_loss = train_tiny_gpt(None, "lab02 reference GPT, 20 steps")
    if not math.isclose(learner_loss, reference_loss, rel_tol=1e-2):
        return CheckResult(exercise, False, f"after 20 steps your GPT's loss is {learner_loss:.4f} and the "
                                            f"reference's {reference_loss:.4f}; check block_forward first")
    return CheckResult(exercise, True, "a GPT built from your blocks trains exactly like the reference "
                                       "(final losses within 1%)")
