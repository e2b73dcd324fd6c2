"""Three ways to compute sliding-window attention, which give the same numbers at very different costs.

    masked_dense_attention      the reference: all n² scores, then the mask. O(n²): a mask alone saves nothing.
    sliding_window_attention    blocked: each block of queries reads only the keys its window can reach.
                                O(n · (window + block)) in time and memory, forward and backward: it trains on a CPU.
    flex_sliding_window         PyTorch's FlexAttention: compiled, skips empty blocks. Forward only on a CPU (torch
                                2.13), so training there falls back to the blocked kernel with a warning.

All take and return (batch, heads, length, head_dim); the query at i sees the keys i - window < j ≤ i, plus the
first `n_global` keys (global tokens).
"""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import torch
import torch.nn.functional as F

from greenlab.foundations.validation import check_whole
from greenlab.models.attention.patterns import causal, check_mask


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() != 4 or k.shape != v.shape or q.shape[:2] + q.shape[-1:] != k.shape[:2] + k.shape[-1:]:
        raise ValueError(f"q, k, v must be (batch, heads, length, head_dim) with matching batch, heads and "
                         f"head_dim; got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")


def masked_dense_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention with any boolean mask (queries, keys), computed densely: the reference for every other kernel."""
    _check_qkv(q, k, v)
    check_mask(mask, q.shape[-2], k.shape[-2])
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _block_mask(n_blocks: int, block: int, keys: int, n_before: int, window: int, n_global: int,
                device: torch.device) -> torch.Tensor:
    """(blocks, block, n_global + keys): which of a query block's gathered keys it may see."""
    query = torch.arange(n_blocks * block, device=device).view(n_blocks, block, 1)
    first_key = torch.arange(n_blocks, device=device).view(n_blocks, 1, 1) * block - n_before
    key = first_key + torch.arange(keys, device=device).view(1, 1, keys)
    distance = query - key
    local = (distance >= 0) & (distance < window) & (key >= 0)  # key < 0: the padding before the first block
    if not n_global:
        return local
    global_key = torch.arange(n_global, device=device).view(1, 1, n_global)
    far = (query - global_key >= window)  # a global key still inside the window is already among the local keys
    return torch.cat([far.expand(n_blocks, block, n_global), local], dim=-1)


def default_block(window: int) -> int:
    """The blocked kernel's query block for a window: the window itself, between 16 and 128 tokens (fewer wasted
    scores against bigger, faster matrix products). Each query then scores about window + block keys."""
    check_whole("window", window)
    return min(128, max(16, window))


def sliding_window_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, n_global: int = 0,
                             block: int | None = None) -> torch.Tensor:
    """Blocked sliding-window attention: O(length · (window + block)) work and memory instead of O(length²).
    Queries go in blocks of `block` tokens (by default `default_block(window)`)."""
    _check_qkv(q, k, v)
    check_whole("window", window)
    check_whole("n_global", n_global, minimum=0)
    block = default_block(window) if block is None else block
    check_whole("block", block)
    length = q.shape[-2]
    if length != k.shape[-2]:  # generation with cached keys: few queries, so the dense mask is cheap
        return masked_dense_attention(q, k, v, causal(length, k.shape[-2], window, n_global, q.device))
    if window >= length:  # nothing to skip: plain causal attention
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    batch, heads, _, head_dim = q.shape
    n_global = min(n_global, length)
    block = min(block, length)
    n_blocks = math.ceil(length / block)
    n_before = min(math.ceil((window - 1) / block), n_blocks - 1) * block  # earlier keys a block's window reaches
    keys = n_before + block
    pad_end = n_blocks * block - length

    def gather(t: torch.Tensor) -> torch.Tensor:  # (B·H, blocks, keys, d): each block's keys, as views
        padded = F.pad(t, (0, 0, n_before, pad_end))
        blocks = padded.unfold(2, keys, block).transpose(-1, -2).reshape(batch * heads, n_blocks, keys, head_dim)
        if n_global:
            first = t[:, :, :n_global].reshape(batch * heads, 1, n_global, head_dim).expand(-1, n_blocks, -1, -1)
            blocks = torch.cat([first, blocks], dim=2)
        return blocks

    queries = F.pad(q, (0, 0, 0, pad_end)).reshape(batch * heads, n_blocks, block, head_dim)
    mask = _block_mask(n_blocks, block, keys, n_before, window, n_global, q.device)
    y = F.scaled_dot_product_attention(queries, gather(k), gather(v), attn_mask=mask[None])  # 4-D: fused path
    return y.view(batch, heads, n_blocks * block, head_dim)[:, :, :length]


@lru_cache(maxsize=1)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention
    return torch.compile(flex_attention, dynamic=False)


@lru_cache(maxsize=16)
def _flex_block_mask(length: int, window: int, n_global: int, device: str):
    from torch.nn.attention.flex_attention import create_block_mask

    def allowed(batch, head, query, key):
        return (query >= key) & ((query - key < window) | (key < n_global))

    return create_block_mask(allowed, None, None, length, length, device=device)


def flex_available() -> str | None:
    """None when FlexAttention can run here, else the reason it cannot."""
    try:
        from torch.nn.attention.flex_attention import flex_attention  # noqa: F401
    except ImportError as error:
        return f"this PyTorch ({torch.__version__}) has no FlexAttention ({error})"
    return None


def flex_sliding_window(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int,
                        n_global: int = 0) -> torch.Tensor:
    """Sliding-window attention with FlexAttention. Where it cannot run (no backward on CPU, no FlexAttention,
    or keys from a cache), it warns once and uses `sliding_window_attention`, which gives the same result."""
    _check_qkv(q, k, v)
    check_whole("window", window)
    reason = flex_available()
    if reason is None and q.device.type == "cpu" and torch.is_grad_enabled() and \
            any(t.requires_grad for t in (q, k, v)):
        reason = f"FlexAttention has no backward pass on CPU in torch {torch.__version__}"
    if reason is None and q.shape[-2] != k.shape[-2]:
        reason = "FlexAttention here takes as many queries as keys (no key/value cache)"
    if reason is not None:
        warnings.warn(f"{reason}: using the blocked sliding-window kernel instead (same result)", stacklevel=2)
        return sliding_window_attention(q, k, v, window, n_global)
    block_mask = _flex_block_mask(q.shape[-2], window, n_global, q.device.type)
    return _compiled_flex()(q, k, v, block_mask=block_mask)
