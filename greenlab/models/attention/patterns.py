"""Which keys may each query see? Sparse-attention patterns as boolean masks, True where attention is allowed.

Every mask here is causal (a decoder never sees the future) and of shape (queries, keys). Dense causal attention
allows about n²/2 pairs; the patterns keep only some of them:

    sliding window   each query sees the `window` most recent keys, itself included     (Longformer's local part)
    dilated          the same number of keys, spaced `dilation` apart: a wider view for the same cost
    strided          the previous `stride` keys plus every `stride`-th key before them (Sparse Transformer)
    global tokens    the first `n_global` keys are seen by every query (Longformer's global attention)
    random blocks    each query block also sees a few random earlier key blocks (BigBird's random part)
    block sparse     any layout of (query block, key block) pairs, expanded to a token mask

`density` and `attention_flops` say what a pattern costs; `check_mask` guards a mask before it is used.
"""

from __future__ import annotations

import torch

from greenlab.foundations.validation import check_whole


def _distances(query_length: int, key_length: int, device: torch.device | None = None) -> torch.Tensor:
    """query position - key position, with the last query aligned to the last key (earlier keys may be cached)."""
    queries = torch.arange(query_length, device=device)[:, None] + key_length - query_length
    return queries - torch.arange(key_length, device=device)[None, :]


def causal(query_length: int, key_length: int | None = None, window: int | None = None, n_global: int = 0,
           device: torch.device | None = None) -> torch.Tensor:
    """Dense causal attention, or with `window` a sliding window; plus `n_global` global tokens at the start."""
    check_whole("query_length", query_length, minimum=0)
    key_length = query_length if key_length is None else check_whole("key_length", key_length, minimum=0)
    distance = _distances(query_length, key_length, device)
    allowed = distance >= 0
    if window is not None:
        check_whole("window", window)
        allowed &= distance < window
    if n_global:
        check_whole("n_global", n_global)
        is_global = torch.arange(key_length, device=device)[None, :] < n_global
        allowed |= is_global & (distance >= 0)
    return allowed


def sliding_window(length: int, window: int) -> torch.Tensor:
    """Each query sees itself and the window - 1 keys before it."""
    return causal(check_whole("length", length), window=window)


def dilated(length: int, window: int, dilation: int) -> torch.Tensor:
    """`window` keys spaced `dilation` apart: it reaches (window - 1) · dilation tokens back."""
    check_whole("length", length)
    check_whole("window", window)
    check_whole("dilation", dilation)
    distance = _distances(length, length)
    return (distance >= 0) & (distance % dilation == 0) & (distance < window * dilation)


def strided(length: int, stride: int) -> torch.Tensor:
    """Sparse Transformer (Child et al., 2019): the last `stride` keys, and every `stride`-th key further back.
    With stride ≈ √n a query sees √n near keys and up to √n far ones: at most about 2√n, 1.5√n on average over
    the sequence, so about 1.5·n√n pairs in all: O(n√n)."""
    check_whole("length", length)
    check_whole("stride", stride)
    distance = _distances(length, length)
    return (distance >= 0) & ((distance < stride) | (distance % stride == 0))


def global_tokens(length: int, window: int, n_global: int) -> torch.Tensor:
    """Longformer (Beltagy et al., 2020): a sliding window, plus `n_global` first tokens that every query sees."""
    return causal(check_whole("length", length), window=window, n_global=n_global)


def block_sparse(layout: torch.Tensor, block: int) -> torch.Tensor:
    """Expand a (query blocks, key blocks) boolean layout to a causal token mask of block · blocks tokens."""
    check_whole("block", block)
    if layout.dim() != 2 or layout.shape[0] != layout.shape[1] or layout.dtype != torch.bool:
        raise ValueError(f"a block layout is a square boolean matrix, got {tuple(layout.shape)} {layout.dtype}")
    tokens = layout.repeat_interleave(block, 0).repeat_interleave(block, 1)
    return tokens & causal(len(tokens))


def random_blocks(length: int, block: int, n_random: int, seed: int = 0) -> torch.Tensor:
    """BigBird (Zaheer et al., 2020), random part: each query block sees its own block and `n_random` random
    earlier key blocks. `length` must be a multiple of `block`."""
    check_whole("length", length)
    check_whole("block", block)
    check_whole("n_random", n_random, minimum=0)
    if length % block:
        raise ValueError(f"length={length} is not a multiple of block={block}; pad the sequence or pick a block "
                         f"that divides it")
    n_blocks = length // block
    generator = torch.Generator().manual_seed(seed)
    layout = torch.eye(n_blocks, dtype=torch.bool)
    for row in range(1, n_blocks):
        earlier = torch.randperm(row, generator=generator)[:n_random]
        layout[row, earlier] = True
    return block_sparse(layout, block)


def _check_boolean(mask: torch.Tensor) -> None:
    """A ValueError unless `mask` is a boolean tensor (True = may attend)."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError(f"an attention mask must be boolean (True = may attend), got "
                         f"{mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__}")


def density(mask: torch.Tensor) -> float:
    """The fraction of all query-key pairs that are computed (dense causal attention is about 1/2)."""
    _check_boolean(mask)
    if not mask.numel():
        raise ValueError(f"the density of a pattern needs a non-empty boolean mask, got shape {tuple(mask.shape)}")
    return mask.sum().item() / mask.numel()


def attention_flops(mask: torch.Tensor, head_dim: int, n_head: int = 1) -> int:
    """FLOPs of attention's two products for the allowed pairs: q·k and the weighted sum of v, 2 · head_dim each."""
    _check_boolean(mask)
    return 4 * check_whole("head_dim", head_dim) * check_whole("n_head", n_head) * int(mask.sum())


def check_mask(mask: torch.Tensor, query_length: int, key_length: int) -> None:
    """A ValueError unless `mask` is a boolean (queries, keys) mask in which every query sees some key
    (a query that sees none would get softmax over nothing: NaN)."""
    _check_boolean(mask)
    if mask.shape[-2:] != (query_length, key_length):
        raise ValueError(f"the mask has shape {tuple(mask.shape)} but attention has {query_length} queries and "
                         f"{key_length} keys")
    empty = (~mask.any(dim=-1)).nonzero()
    if len(empty):
        raise ValueError(f"query {empty[0, -1].item()} may attend to no key: its softmax would be NaN; "
                         f"every query should at least see itself")
