"""GreenLab: build small language models from scratch, and make them green.

The code behind each chapter (notebooks/NN_*.ipynb; the checks of labs/labNN_*.ipynb are classroom/exercises/labNN):
    00 Green AI             measurement/ energy (measure), footprint, ledger, grid; presentation/ machine (doctor)
    01 tokenization         foundations/ data, tokenizer/ (plain_bpe, bpe, huggingface, baselines); experiments/ tokenizer_cost
    02 the Transformer      models/ gpt, interop; training/ train, recipes, zoo; foundations/ checkpoints
    03 sparse attention     models/ attention/ (patterns, kernels); experiments/ attention_scaling; measurement/ memory
    04 distillation         training/ distill, compress, cache; experiments/ generation_cost, model_comparison
    05 energy and carbon    measurement/ energy, uncertainty, grid, counters; experiments/ measuring_well, parallelism, speedrun; training/ distributed
    06 encoder–decoder      foundations/ tasks, metrics; models/ seq2seq; training/ translate
    07 applications         applications/ retrieval, qa, assistant, code_completion, sandbox; foundations/ confinement
    08 responsible AI       models/ text; training/ probe_models; responsible/ bias, memorisation; presentation/ cards
Shared by every chapter: foundations/ settings, validation; measurement/ claims, timing; presentation/ plots,
widgets, quiz (quizzes/). For teachers: classroom/ (checks, exercises/, assign, grade, conventions), presentation/
report, and the `greenlab` command (cli, with foundations/ options).

Each folder is one layer, bottom to top: foundations, measurement, models, training, experiments, applications,
responsible, presentation, classroom, and the command line (cli) on top. A module imports only from its own layer and
the layers below it (tests/test_packaging.py checks it); each module reads top to bottom.
"""

__version__ = "0.1.0"
__all__ = ["doctor", "__version__"]


def __getattr__(name: str):
    """`greenlab.doctor` on first use, so that `import greenlab` alone does not load PyTorch."""
    if name == "doctor":
        from greenlab.presentation.machine import doctor
        return doctor
    raise AttributeError(f"module 'greenlab' has no attribute {name!r}")
