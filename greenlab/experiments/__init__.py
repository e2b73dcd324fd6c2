"""Experiments, the measurement wing above training: measured comparisons of what the models and tokenizers do.

    tokenizer_cost      the same text, tokenized differently, through one fixed model (notebook 01)
    attention_scaling   time, peak memory and energy of each attention kernel against length (notebook 03)
    generation_cost     tokens per second and joules per 1,000 generated tokens (notebooks 04 and 05)
    model_comparison    lighter models against the one they replace: quality beside generation cost (notebook 04)
    measuring_well      idle baseline, repeated runs and their spread, the tracker's overhead (notebook 05)
    parallelism         one training job as threads or as processes, measured alike (notebook 05)
    speedrun            a recipe trained to quality targets: energy, time and FLOPs to each, and a leaderboard

They live apart from what they measure, so that a tokenizer or a kernel imports no energy tracker, ledger or
training loop.
"""
