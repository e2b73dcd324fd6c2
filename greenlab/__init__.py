"""GreenLab: build small language models from scratch, and make them green.

Modules, from the foundations up (each reads top to bottom):
    settings   paths, cache folder, offline detection, seeds, compute profile
    data       corpora (offline by default) and token batches
    energy     measure time, energy, CO2eq and FLOPs of a block of code
    ledger     the green ledger: every measured run, as a table
    footprint  back-of-envelope training footprint, with published figures
    train      the training loop and safetensors checkpoints
    checks     instant feedback for lab exercises (exercises/: one module per lab)
    assign     student versions of labs
    machine    doctor(): what this machine offers the course
    conventions  the shared header of every notebook and lab (badge, setup cell)
    cli        the `greenlab` command: doctor, assign, conventions
"""

from greenlab.machine import doctor

__version__ = "0.1.0"
__all__ = ["doctor", "__version__"]
