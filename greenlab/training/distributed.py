"""Data parallelism with PyTorch's own engine: one training loop, on one process or on many.

    torchrun --standalone --nproc_per_node 2 -m greenlab train --recipe tiny --out runs/tiny

The program each process runs is `greenlab train`, whose code is `greenlab.training.zoo.main`.

torchrun starts N copies of a program and gives each, in its environment, its RANK (0 … N-1), its LOCAL_RANK on
its machine, the WORLD_SIZE N and where to meet (MASTER_ADDR, MASTER_PORT). `init_from_env()` joins them into one
process group: gloo between CPU processes, NCCL between GPUs. `greenlab.training.train.train` then wraps the model in
`DistributedDataParallel`, which, during every backward pass, averages each gradient over the N ranks (an
all-reduce, bucket by bucket, overlapped with the rest of the backward pass). Every rank then takes the same
optimizer step from the same weights, and the N replicas stay equal: once DDP has sent rank 0's initial weights
to every rank, at its construction, only gradients travel.

How the work is split: every rank draws the same global batch of `batch_size` windows from the same seeded
generator and keeps its own slice of batch_size / N rows. The loss is a mean over rows, so the mean of the N
slices' gradients is the gradient of the whole batch: N processes take the steps of one process with the same
global batch, up to floating-point rounding. Validation runs on rank 0 alone, which sends its result to the
others; only rank 0 writes files and the green ledger.

Energy: RAPL counts a whole CPU package and NVML a whole GPU, so a tracker on every rank would count a machine
once per rank. One process per machine (LOCAL_RANK 0) measures the whole machine; the machines' figures are
summed into the job's one ledger row.
"""

from __future__ import annotations

import hashlib
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

import torch
import torch.distributed as dist

from greenlab.foundations import settings, validation
from greenlab.measurement.energy import Measurement, measure, record_in_ledger

DEFAULT_TIMEOUT_S = 300.0  # how long a rank waits for the others in one collective before the job fails


class DistributedError(ValueError):
    """The ranks of a job cannot work together (another recipe, a batch that does not split); names the values."""


@dataclass(frozen=True)
class World:
    """Where this process stands in the job: its rank, its rank on its machine, and the number of processes."""

    rank: int = 0
    local_rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that evaluates, logs and writes."""
        return self.rank == 0

    @property
    def is_machine_main(self) -> bool:
        """Local rank 0: the one process per machine that measures the machine's energy."""
        return self.local_rank == 0


def world() -> World:
    """This process's place in the job; a lone process (no process group) is rank 0 of 1."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    rank = dist.get_rank()
    return World(rank=rank, local_rank=environment_whole("LOCAL_RANK", rank), size=dist.get_world_size())


def environment_whole(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    """The whole number in environment variable `name` (as torchrun sets it), from `minimum` to `maximum`;
    `default` when unset; a DistributedError naming the variable and its value otherwise."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not (value.isascii() and value.isdigit()):
        raise DistributedError(f"{name}={value!r} is not a whole number: torchrun sets it (unset it to run "
                               f"one process)")
    return validation.check_whole(name, int(value), minimum, maximum, why="torchrun sets it; unset it to run one "
                                "process", error=DistributedError)


def init_from_env(timeout_s: float = DEFAULT_TIMEOUT_S) -> World:
    """Join the job that torchrun (or any launcher setting RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT) started:
    gloo on CPUs, NCCL on GPUs, each GPU rank on its own GPU. Without those variables, a lone process."""
    size = environment_whole("WORLD_SIZE", 1, minimum=1)
    if size > 1 and not dist.is_initialized():
        environment_whole("RANK", 0, maximum=size - 1)  # checked here: torch's own parsing names no variable
        use_gpus = settings.device().type == "cuda"
        if use_gpus:
            torch.cuda.set_device(environment_whole("LOCAL_RANK", 0))
        try:
            dist.init_process_group("nccl" if use_gpus else "gloo", timeout=timedelta(seconds=timeout_s))
        except dist.DistError as error:  # e.g. a rank that never started
            where = f"{os.environ.get('MASTER_ADDR')}:{os.environ.get('MASTER_PORT')}"
            raise DistributedError(f"the job's {size} processes did not all join within {timeout_s:g} s at {where} "
                                   f"({type(error).__name__}: {str(error).splitlines()[0]})") from None
    return world()


def shutdown() -> None:
    """Leave the process group, if this process is in one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rows_per_rank(batch_size: int, world_size: int) -> int:
    """Each rank's share of a global batch; a DistributedError when the batch does not split evenly."""
    if batch_size < world_size:
        raise DistributedError(f"batch_size {batch_size} is smaller than the world size {world_size}: "
                               f"{world_size - batch_size} rank(s) would get no data")
    if batch_size % world_size:
        raise DistributedError(f"batch_size {batch_size} is not divisible by the world size {world_size}: "
                               f"use a multiple of {world_size}, so that every rank gets the same number of rows")
    return batch_size // world_size


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested dict as {"training.steps": 10, ...}; any other value as {"": value}."""
    if not isinstance(value, dict):
        return {prefix: value}
    return {key: leaf for name, inner in value.items() for key, leaf in _flat(inner, f"{prefix}{name}.").items()}


def disagreement(what: str, values: list[Any]) -> str | None:
    """Which ranks' `values` differ from rank 0's, in words; None when all agree. Dicts name the differing fields."""
    first = _flat(values[0])
    lines = []
    for rank, value in enumerate(values[1:], start=1):
        other = _flat(value)
        fields = [f"{key.rstrip('.') + '=' if key else ''}{other.get(key)!r} (rank 0: {first.get(key)!r})"
                  for key in sorted(set(first) | set(other)) if first.get(key) != other.get(key)]
        if fields:
            lines.append(f"rank {rank} has " + ", ".join(fields))
    return f"the ranks disagree on {what}: " + "; ".join(lines) if lines else None


def check_same_everywhere(what: str, value: Any) -> None:
    """Raise a DistributedError on every rank when any rank's `value` differs from rank 0's."""
    w = world()
    if w.size == 1:
        return
    values: list[Any] = [None] * w.size
    dist.all_gather_object(values, value)
    if (problem := disagreement(what, values)) is not None:
        raise DistributedError(problem)


def data_parallel(model: torch.nn.Module) -> torch.nn.Module:
    """The module the training steps call: `model` itself on one process, else `model` wrapped in
    DistributedDataParallel (which first sends rank 0's weights to every rank)."""
    if world().size == 1:
        return model
    device = next(model.parameters()).device
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def mean_over_ranks(value: torch.Tensor) -> float:
    """A scalar averaged over the ranks (e.g. each slice's loss into the global batch's loss)."""
    if world().size == 1:
        return value.item()
    total = value.detach().clone().double()
    dist.all_reduce(total)
    return total.item() / world().size


def from_main(value: Any) -> Any:
    """Rank 0's `value`, on every rank."""
    if world().size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def weights_digest(model: torch.nn.Module) -> str:
    """A SHA-256 of every weight's bytes: equal on two replicas exactly when their weights are bit-identical."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


SUMMED = ("energy_kwh", "cpu_kwh", "ram_kwh", "gpu_kwh", "co2eq_kg")


@contextmanager
def measure_job(label: str) -> Iterator[Measurement]:
    """`energy.measure` for a block that every rank runs. One process: measured as always. A job: each machine's
    local rank 0 measures its whole machine, the machines' figures are summed on every rank, and rank 0 alone
    records the job's one ledger row."""
    w = world()
    if w.size == 1:
        with measure(label) as m:
            yield m
        return
    label = f"{label} ({w.size} processes)"
    if w.is_machine_main:
        with measure(label, scope="machine", record=False) as m:
            yield m
    else:
        m = Measurement(label=label, country=settings.country())
        yield m
    rows: list[dict | None] = [None] * w.size
    dist.all_gather_object(rows, m.as_row() if w.is_machine_main else None)
    machines = [row for row in rows if row is not None]  # rank 0 is its machine's local rank 0: machines[0]
    m.duration_s, m.country = machines[0]["duration_s"], machines[0]["country"]
    for name in SUMMED:
        setattr(m, name, math.fsum(row[name] for row in machines))
    m.available = all(row["available"] for row in machines)
    m.method = f"{machines[0]['method']}; one tracker per machine, on the whole machine; {len(machines)} machine(s)"
    if w.is_main:
        record_in_ledger(m)
