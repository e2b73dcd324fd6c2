"""Data parallelism measured: one training job as 1 process with T threads, and as N processes under torchrun.

Each job is the `greenlab train` command run in fresh processes, so its measurement holds what a real job pays:
Python's start-up and imports, every rank's own tokenizer, joining the process group and, every step, the
all-reduce of the gradients (`ring_bytes_sent`). The jobs are measured from outside, for the whole machine
(`measure(scope="machine")`), since codecarbon's RAM model charges a process for its own memory and a machine for
all of it, and a job of N processes is not one process. Their own ledger rows go to a folder of their own, so that
the course's ledger holds each job once.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import torch

from greenlab.measurement.energy import measure
from greenlab.foundations.validation import check_whole
from greenlab.models.gpt import GPT
from greenlab.training import zoo


def gradient_bytes(recipe: zoo.Recipe) -> int:
    """The size of one step's gradients: every trainable parameter once (a tied weight once), in its dtype."""
    if not isinstance(recipe, zoo.Recipe):
        raise TypeError(f"gradient_bytes needs a zoo.Recipe (e.g. zoo.recipe('reference')), got {recipe!r}")
    with torch.device("meta"):  # the shapes alone
        model = GPT(recipe.model)
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def ring_bytes_sent(gradient_size: int, world_size: int) -> float:
    """Bytes each rank sends per step in a ring all-reduce of `gradient_size` bytes: 2(N − 1)/N of it."""
    check_whole("gradient_size", gradient_size, minimum=0)
    check_whole("world_size", world_size)
    return 2 * (world_size - 1) / world_size * gradient_size


def run_job(recipe: str, steps: int, processes: int, threads: int, out: str | Path) -> dict:
    """Run `greenlab train --recipe RECIPE --steps STEPS` as `processes` processes (torchrun when more than one) of
    `threads` threads each, measured from outside for the whole machine. Returns the job's time and energy, its
    training loop's time, and what it trained (world size, losses)."""
    zoo.recipe(recipe)  # a name the zoo lacks is refused here, before any process starts
    for name, value in (("steps", steps), ("processes", processes), ("threads", threads)):
        check_whole(name, value)
    out = Path(out)
    command = ["-m", "greenlab.training.zoo", "--recipe", recipe, "--steps", str(steps), "--out", str(out)]
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run",
                                                        "--standalone", f"--nproc_per_node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "GREENLAB_CACHE": str(out.with_name(f"{out.name}-cache"))}
    name = f"{processes} process{'es' if processes > 1 else ''} × {threads} thread{'s' if threads > 1 else ''}"
    with measure(f"greenlab train {recipe}, {steps} steps: {name}", scope="machine") as m:
        done = subprocess.run(launcher + command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the job {name} failed (exit status {done.returncode}):\n{done.stderr[-3000:]}")
    history = json.loads((out / "history.json").read_text())
    return {"job": name, "world size": history["world_size"], "job (s)": m.duration_s,
            "training loop (s)": history["measurement"]["duration_s"], "job energy (J)": m.energy_j,
            "job dynamic (J)": m.dynamic_j, "last loss": history["train_losses"][-1], "method": m.method}


def compare(recipe: str = "reference", steps: int = 40, cores: int = 2, repeats: int = 1,
            folder: str | Path | None = None) -> pd.DataFrame:
    """The same job on `cores` cores, as 1 process × `cores` threads and as `cores` processes × 1 thread, run
    alternately `repeats` times; the median of each figure, a row per layout."""
    check_whole("cores", cores, minimum=2, why="one layout against the other")
    check_whole("repeats", repeats)
    folder = Path(folder or tempfile.mkdtemp(prefix="greenlab-parallelism-"))
    runs: dict[str, list[dict]] = {}
    for repeat in range(repeats):
        for processes, threads in ((1, cores), (cores, 1)):
            row = run_job(recipe, steps, processes, threads, folder / f"{processes}x{threads}-{repeat}")
            runs.setdefault(row["job"], []).append(row)
    numeric = ["job (s)", "training loop (s)", "job energy (J)", "job dynamic (J)"]
    return pd.DataFrame({name: {"world size": rows[0]["world size"],
                                **{k: statistics.median(r[k] for r in rows) for k in numeric},
                                "last loss": rows[0]["last loss"], "method": rows[0]["method"]}
                         for name, rows in runs.items()}).T
