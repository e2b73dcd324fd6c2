"""Sparse attention: which query-key pairs to keep (`patterns`) and kernels that skip the rest (`kernels`)."""

from greenlab.models.attention.kernels import (default_block, flex_available, flex_sliding_window,
                                        masked_dense_attention, sliding_window_attention)
from greenlab.models.attention.patterns import (attention_flops, block_sparse, causal, check_mask, density, dilated,
                                         global_tokens, random_blocks, sliding_window, strided)

__all__ = ["attention_flops", "block_sparse", "causal", "check_mask", "default_block", "density", "dilated",
           "flex_available", "flex_sliding_window", "global_tokens", "masked_dense_attention", "random_blocks",
           "sliding_window", "sliding_window_attention", "strided"]
