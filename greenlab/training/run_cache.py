"""Training runs kept in the cache folder: a run made once is loaded the next time, with the cost measured when it
ran, so that running a notebook again does not train (and spend the energy) again.

    run = run_cache.cached("students", key, student, lambda: distill(student, teacher, ...))
    run.from_cache   # True when loaded; run.measurement is then the cost of the time it was trained

`key` names everything that decides the weights (the caller knows what that is: the data, the teacher, the
configurations); with greenlab's version it is hashed into the folder `GREENLAB_CACHE/<kind>/<hash>`. As for the zoo's
models, another torch or Python is not another run. The folder holds `model.safetensors` and, written last,
`run.json`: the run's losses, validation points and measurement, and the SHA-256 of the weights, checked before they
are loaded. A damaged or unreadable run is trained again, and a warning names it.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch
from filelock import FileLock

import greenlab
from greenlab.foundations.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from greenlab.foundations.energy import Measurement
from greenlab.foundations.settings import cache_dir
from greenlab.training import distributed
from greenlab.training.train import TrainConfig, TrainResult


def _plain(value: object) -> object:
    """`value` with its dataclasses as dicts, for hashing as JSON."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"a run's key holds {type(value).__name__!r}, which is not JSON: use str, numbers, lists, dicts "
                    f"and dataclasses")


def folder_of(kind: str, key: dict) -> Path:
    """Where the run of `key` is kept: `GREENLAB_CACHE/<kind>/<hash of key and greenlab's version>`."""
    content = json.dumps({"key": key, "greenlab": greenlab.__version__}, sort_keys=True, default=_plain)
    return cache_dir() / kind / hashlib.sha256(content.encode()).hexdigest()[:16]


@contextmanager
def one_trainer_at_a_time(folder: Path) -> Iterator[None]:
    """Two processes asking for the same trained model at once (two notebooks): the second waits while the first
    trains it, then loads it. Not under torchrun, whose ranks train together, nor in a cache that cannot be written."""
    lock = FileLock(folder.with_name(f"{folder.name}.lock"))
    try:
        if distributed.world().size == 1:
            folder.parent.mkdir(parents=True, exist_ok=True)
            lock.acquire()
    except OSError:  # a read-only cache: nothing will be trained into it
        pass
    try:
        yield
    finally:
        lock.release()


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, in hex: what a cache records beside a file, to know it later unchanged."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def matches_sha256(path: Path, digest: object) -> bool:
    """Whether `path` is a file whose SHA-256 is `digest` (64 hex digits)."""
    return (isinstance(digest, str) and re.fullmatch("[0-9a-f]{64}", digest) is not None and path.is_file()
            and file_sha256(path) == digest)


def _load(folder: Path, model: torch.nn.Module) -> TrainResult | None:
    """The run kept in `folder`, its weights loaded into `model`; None when there is none or it is damaged (with a
    warning naming it)."""
    if not (folder / "run.json").is_file():
        return None
    try:
        stored = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        if not matches_sha256(folder / "model.safetensors", stored["sha256"]):
            raise ValueError("model.safetensors is missing or is not the file saved with the run")
        load_checkpoint(model, folder / "model.safetensors")  # refuses another config and NaN weights
        result = TrainResult(TrainConfig(**stored["config"]), stored["train_losses"], stored["learning_rates"],
                             stored["validation"], Measurement.from_row(stored["measurement"]),
                             stored["world_size"], stored["precision"], from_cache=True)
    except (CheckpointError, ValueError, KeyError, TypeError, OSError) as error:
        warnings.warn(f"the run kept in {folder} is damaged or unreadable ({type(error).__name__}: {error}): "
                      f"training it again")
        return None
    return result


def _save(folder: Path, model: torch.nn.Module, result: TrainResult) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, folder / "model.safetensors")
    stored = {"config": asdict(result.config), "train_losses": result.train_losses,
              "learning_rates": result.learning_rates, "validation": result.validation,
              "measurement": result.measurement.as_row(), "world_size": result.world_size,
              "precision": result.precision, "sha256": file_sha256(folder / "model.safetensors")}
    (folder / "run.json").write_text(json.dumps(stored), encoding="utf-8")  # last: its presence means a whole run


def cached(kind: str, key: dict, model: torch.nn.Module, run: Callable[[], TrainResult]) -> TrainResult:
    """The result of `run()`, which trains `model` in place: from the cache when this very run (`key`) was made
    before, its weights then loaded into `model`; else run now and kept."""
    if not isinstance(key, dict) or not key:
        raise ValueError(f"a run's key must be a non-empty dict of what decides its weights, got {key!r}")
    folder = folder_of(kind, key)
    with one_trainer_at_a_time(folder):
        loaded = _load(folder, model)
        if loaded is not None:
            return loaded
        result = run()
        if distributed.world().is_main:
            try:
                _save(folder, model, result)
            except OSError as error:  # a full disk, a read-only cache: the run is used now, not lost
                warnings.warn(f"the run could not be kept in {folder} ({error}): it is used now, and will train "
                              f"again next time")
        return result
