"""Foundations, the bottom layer: what every chapter stands on; it imports nothing from the layers above.

    settings      paths, cache, offline detection, seeds, threads, the one check of a count or a number
    claims        a claim about time or energy: a warning for a learner, a failure under test
    options       the command line's option types: a whole number above zero, seconds
    data          the shipped corpora and token batches          tasks        sequence-to-sequence tasks
    tokenizer/    BPE from scratch (plain, then fast), its Hugging Face export, char and word baselines, one interface
    energy        measure(): time, energy, CO2eq, FLOPs          ledger       the green ledger of every run
    footprint     the training-cost calculator                   metrics      BLEU, chrF, exact match, pass@k
    memory        peak memory of a block of code                 checkpoints  safetensors with their config
    confinement   the kernel's fence (seccomp) around code we did not write: generated programs, graded notebooks
"""
