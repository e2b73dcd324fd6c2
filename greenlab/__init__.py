"""GreenLab: build small language models from scratch, and make them green.

Modules, from the foundations up (each reads top to bottom):
    settings     paths, cache folder, offline detection, seeds, compute profile
    data         corpora (offline by default) and token batches
    tokenizer/   byte-level BPE from scratch, its Hugging Face export, char and word baselines
    energy       measure time, energy, CO2eq and FLOPs of a block of code
    hygiene      measuring well: idle baseline, repeats and spread, tracker overhead
    ledger       the green ledger: every measured run, as a table
    memory       peak memory of a block of code (Linux)
    footprint    back-of-envelope training footprint, with published figures
    attention/   sparse attention: patterns (masks, density, FLOPs) and kernels faster than dense
    model        the GPT, with pluggable attention and KV-cache generation
    train        the training loop and safetensors checkpoints
    distill      knowledge distillation: loss, students from teacher weights, the measured run
    compress     int8 quantization, magnitude pruning, and what each buys
    interop      our GPT <-> Hugging Face GPT-2
    zoo          named, cached reference models
    plots        figures shared by notebooks; widgets: their interactive versions
    checks       instant feedback for lab exercises (exercises/: one module per lab)
    assign       student versions of labs; grade: grading submitted labs
    conventions  the shared header of every notebook and lab (badge, setup cell)
    report       `greenlab report`: the headline experiments, headless, into a Markdown report
    machine      doctor(): what this machine offers the course; cli: the `greenlab` command
"""

from greenlab.machine import doctor

__version__ = "0.1.0"
__all__ = ["doctor", "__version__"]
