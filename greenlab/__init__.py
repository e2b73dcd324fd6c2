"""GreenLab: build small language models from scratch, and make them green.

The code behind each chapter (notebooks/NN_*.ipynb; the checks of labs/labNN_*.ipynb are exercises/labNN):
    00 Green AI             energy (measure), footprint, ledger, machine (doctor, the setup cell)
    01 tokenization         data, tokenizer/ (interface, bpe, huggingface, baselines), experiments/ (tokenizer_cost)
    02 the Transformer      model, train, checkpoints, zoo, interop
    03 sparse attention     attention/ (patterns, kernels), experiments/ (attention_scaling), memory
    04 distillation         distill, compress, experiments/ (generation_cost)
    05 energy and carbon    energy, measuring_well, footprint, distributed, parallelism, train (precision, optimizer)
    06 encoder–decoder      tasks, seq2seq, translate, metrics
    07 applications         retrieval, qa, assistant, code_completion, sandbox
    08 responsible AI       probe_models, bias, memorisation, cards
Shared by every chapter: settings, plots, widgets. For teachers: checks, exercises/, assign, grade, conventions,
report, and the `greenlab` command (cli). README's "Layout" gives each module's layer; each module reads top to
bottom.
"""

__version__ = "0.1.0"
__all__ = ["doctor", "__version__"]


def __getattr__(name: str):
    """`greenlab.doctor` on first use, so that `import greenlab` alone does not load PyTorch."""
    if name == "doctor":
        from greenlab.machine import doctor
        return doctor
    raise AttributeError(f"module 'greenlab' has no attribute {name!r}")
