"""Foundations, the bottom layer: what every chapter stands on; it imports nothing from the layers above.

    settings      paths, cache, offline detection, seeds, threads
    validation    the one check of a count or a number a function is given: an error naming the value
    options       the command line's option types: a whole number above zero, seconds
    data          the shipped corpora and token batches          tasks        sequence-to-sequence tasks
    tokenizer/    BPE from scratch (plain, then fast), its Hugging Face export, char and word baselines, one interface
    metrics       BLEU, chrF, exact match, pass@k                checkpoints  safetensors with their config
    confinement   the kernel's fence (seccomp) around code we did not write: generated programs, graded notebooks
"""
