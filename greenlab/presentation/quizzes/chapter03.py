"""Self-check quiz of chapter 03 (notebooks/03_sparse_attention.ipynb): what attention costs and what a window saves."""

QUESTIONS = [
    {
        "ask": "In the reference architecture (4 layers, width 128), at which context does switching to a sliding "
               "window of 256 tokens (blocked kernel) cut the FLOPs per token the most?",
        "options": [
            "At 128 tokens: a model this small spends most of its FLOPs in attention.",
            "Equally at every context: a window removes a fixed fraction of the work.",
            "At 8,192 tokens and more, where attention is most of the work.",
            "Nowhere: the weights' 2 FLOPs per parameter always dominate.",
        ],
        "answer": "c",
        "why": "The weights cost about 2 FLOPs each per token whatever the context, while q·kᵀ and the weighted sum of "
               "v grow with the keys each token reads. At 128 tokens attention is a small share (and a window of "
               "256 is longer than the context); at 8,192 it is most of the work, and the window removes most of it.",
        "see": "1. Where attention's cost goes",
    },
    {
        "ask": "You implement a window of 256 by computing all scores and setting the disallowed ones to −∞ "
               "(`masked_dense_attention`). At 4,096 tokens, against PyTorch's fused causal kernel, it is:",
        "options": [
            "About 8x faster, since the window keeps about one pair in 8 of the causal triangle.",
            "Slower: it scores the whole n×n square, about twice the causal triangle.",
            "About as fast: masked scores are skipped by the softmax and the backward pass.",
            "Faster in the forward pass, and slower only in the backward pass.",
        ],
        "answer": "b",
        "why": "A mask saves nothing: every score is computed, pushed through the softmax and the backward pass, then "
               "multiplied by zero. That is the full square, about twice the work of the fused causal kernel, "
               "which skips the upper triangle; the notebook expects it under 0.7x the causal kernel's speed.",
        "see": "4. Why a mask alone is not faster",
    },
    {
        "ask": "Masked dense attention needs its n×n mask as float32 (4 bytes per entry) to add it to the scores. "
               "How many GiB (1 GiB = 2^30 bytes) does that mask take at n = 65,536 tokens?",
        "answer": 16,
        "tolerance": 0.02,
        "why": "n²·4 bytes = 65,536² × 4 = 2^32 × 4 = 2^34 bytes = 16 GiB, for the mask alone: it grows as n², "
               "so doubling the context quadruples it.",
        "see": "8. Long context: where dense attention stops",
    },
    {
        "ask": "The fused causal kernel scores the causal triangle, about n²/2 pairs per head; the blocked kernel "
               "scores n·(w + b), with block b = `default_block(w)` = 128 for a window w = 256. At n = 8,192 "
               "tokens, how many times less work does the blocked kernel do?",
        "answer": 10.67,
        "tolerance": 0.03,
        "why": "(n²/2) / (n·(w + b)) = n / (2·(w + b)) = 8,192 / (2 × 384) ≈ 10.7. The ratio grows linearly with n: "
               "the same formula gives 5.3x at 4,096 tokens, as the notebook prints.",
        "see": "6. Measured: time, memory, energy",
    },
    {
        "ask": "PyTorch's fused causal `scaled_dot_product_attention` never stores the n×n square. Going from 1,024 "
               "to 4,096 tokens, what do you expect of its peak memory and its time?",
        "options": [
            "Memory grows about 4x (linearly), time about 16x (as n²).",
            "Both grow about 16x, as n², since the causal triangle is still computed.",
            "Both grow about 4x: a fused kernel is linear in the sequence length.",
            "Memory grows about 16x (the square), time only about 4x.",
        ],
        "answer": "a",
        "why": "Without the square in memory, its memory grows linearly with n; but it still scores every pair of the "
               "causal triangle, so its time grows as n² (16x for 4x the length; the notebook's check asks for "
               "over 6x). Only the blocked kernel grows about linearly in both.",
        "see": "6. Measured: time, memory, energy",
    },
    {
        "ask": "The reference GPT (context 128) trained with a window of 32 through the blocked kernel (block 32) "
               "saved little training time against the dense model. Why so little?",
        "options": [
            "The window loses context, so the model needed extra steps to reach the same quality.",
            "The blocked kernel has no backward pass on a CPU, so training fell back to dense attention.",
            "The window's n×n mask still had to be built and stored at every step.",
            "Each query scores w + b = 64 keys, about as many as the causal kernel's (128 + 1)/2.",
        ],
        "answer": "d",
        "why": "Both models took the same steps. At context 128 the blocked kernel scores about as many keys per "
               "query as the causal kernel it replaces, and pays for its gathers and masks on top; and at this "
               "context attention is a small share of the FLOPs anyway (it is FlexAttention, not the blocked "
               "kernel, that lacks a backward pass on a CPU).",
        "see": "7. Training the reference GPT with a sliding window",
    },
]
