"""One cache for everything the course trains: a model made once is loaded the next time, with the cost measured when
it was trained, so that running a notebook again does not spend the energy again.

    run = cache.cached("students", key, student, lambda: distill(student, teacher, ...))
    run.from_cache   # True when loaded; run.measurement is then the cost of the time it was trained

Every artefact (the zoo's models and translators, notebook 04's students, chapter 08's probes) is a folder
`GREENLAB_CACHE/<kind>/<name>` holding its files and, written last, `recipe.json`: the fingerprint of what decided
the weights (a recipe, or a key: the data, the teacher, the configurations; with greenlab's version), the SHA-256 of
each file, and the torch and Python that trained it. Another torch or Python is not another model: they are recorded,
not hashed, so an upgrade keeps the cache. A changed fingerprint, a file that is missing or differs from its
checksum, or one that cannot be read is trained again, with a warning that names it. A run's files are written whole
or not at all, and a cache that cannot be written still gives the model just trained.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, fields, is_dataclass
from pathlib import Path
from typing import TypeVar

import torch
from filelock import FileLock

import greenlab
from greenlab.foundations.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from greenlab.foundations.settings import cache_dir
from greenlab.measurement.energy import Measurement
from greenlab.training import distributed
from greenlab.training.train import TrainConfig, TrainResult

T = TypeVar("T")
UNREADABLE = (CheckpointError, ValueError, KeyError, TypeError, OSError)  # what a damaged file raises on loading


def _plain(value: object) -> object:
    """`value` with its dataclasses as dicts, for hashing as JSON: a dataclass's own `to_dict` where it has one (a
    GPTConfig leaves out options at their defaults, so that older keys hash as before), else its fields, a nested
    dataclass being made plain in its turn."""
    if is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else {f.name: getattr(value, f.name) for f in fields(value)}
    raise TypeError(f"a run's key holds {type(value).__name__!r}, which is not JSON: use str, numbers, lists, dicts "
                    f"and dataclasses")


def fingerprint(content: object) -> str:
    """A short hash of what decides a model's weights (JSON, dataclasses allowed) and of greenlab's version, which
    holds the code that trains it."""
    text = json.dumps(content, sort_keys=True, default=_plain)
    return hashlib.sha256(f"{text} greenlab={greenlab.__version__}".encode()).hexdigest()[:16]


def folder_of(kind: str, name: str) -> Path:
    """Where an artefact is kept: `GREENLAB_CACHE/<kind>/<name>`."""
    return cache_dir() / kind / name


@dataclass(frozen=True)
class Entry:
    """One artefact in the cache: its folder, the fingerprint of what made it, the files it holds, and its name in
    a warning."""

    folder: Path
    fingerprint: str
    files: tuple[str, ...]
    what: str
    recipe: dict | None = None  # written into recipe.json for a reader, when the recipe is short


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, in hex: what the cache records beside a file, to know it later unchanged."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _matches_sha256(path: Path, digest: object) -> bool:
    return (isinstance(digest, str) and re.fullmatch("[0-9a-f]{64}", digest) is not None and path.is_file()
            and file_sha256(path) == digest)


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


def is_current(entry: Entry) -> bool:
    """Whether the folder holds the entry's files, made by this very fingerprint and unchanged since (a warning says
    why not, unless nothing was kept). An unreadable recipe.json raises one of UNREADABLE."""
    manifest = entry.folder / "recipe.json"
    if not manifest.exists():
        return False
    stored = json.loads(manifest.read_text())
    if not isinstance(stored, dict) or stored.get("fingerprint") != entry.fingerprint:
        warnings.warn(f"the cached {entry.what} in {entry.folder} was made by another recipe: training it again")
        return False
    checksums = stored.get("sha256")
    if not isinstance(checksums, dict) or sorted(checksums) != sorted(entry.files):
        warnings.warn(f"{manifest} does not hold a SHA-256 for each of {', '.join(entry.files)} (edited by hand, or "
                      f"written before checksums?): training {entry.what} again")
        return False
    for name, digest in checksums.items():
        if not _matches_sha256(entry.folder / name, digest):
            warnings.warn(f"{entry.folder / name} is missing or differs from the file cached with {entry.what} "
                          f"(damaged?): training {entry.what} again")
            return False
    return True


def check_writable(folder: Path, names: tuple[str, ...]) -> None:
    """An OSError naming the path unless the files `names` can be written into `folder`: into it, or into the
    nearest folder above it that exists, where it will be created. A nameless probe file is made there and dropped
    (an access check cannot see a confined process's rules); nothing is left."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder: choose another folder for the trained files")
    for name in names:
        if (folder / name).exists() and not (folder / name).is_file():
            raise IsADirectoryError(f"{folder / name} is not a file, so the trained {name} cannot replace it: "
                                    f"choose another folder for the trained files")
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise NotADirectoryError(f"{existing} is a file, so {folder} cannot be made: choose another folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:  # read-only, not ours, or out of reach of a sandbox
        raise OSError(f"cannot write into {existing}, so not into {folder} ({error.strerror}): choose another "
                      f"folder for the trained files") from None


def write_whole(entry: Entry, weights: torch.nn.Module, write_rest: Callable[[Path], None]) -> None:
    """Write the weights, then `write_rest(folder)` (the entry's other files), then recipe.json, on rank 0 only. A
    failure on the way, Ctrl-C included, removes the entry's files: the folder never holds half of a run."""
    if not distributed.world().is_main:
        return
    entry.folder.mkdir(parents=True, exist_ok=True)
    replaced = False
    try:
        save_checkpoint(weights, entry.folder / "model.safetensors")
        replaced = True  # the weights replace a file whole or not at all: until here, an older run is intact
        write_rest(entry.folder)
        manifest = {"fingerprint": entry.fingerprint,
                    "sha256": {name: file_sha256(entry.folder / name) for name in entry.files},
                    "trained_with": {"torch": torch.__version__, "python": ".".join(map(str, sys.version_info[:3]))}}
        if entry.recipe is not None:
            manifest["recipe"] = entry.recipe
        (entry.folder / "recipe.json").write_text(json.dumps(manifest, indent=1))
    except BaseException:
        if replaced:  # new weights beside older files, or half of a file: no run at all
            for name in (*entry.files, "recipe.json"):
                with suppress(OSError):  # a removal that fails must not hide why the writing did
                    (entry.folder / name).unlink(missing_ok=True)
        raise


def kept(entry: Entry, load: Callable[[Path], T], make: Callable[[], T], weights: Callable[[T], torch.nn.Module],
         write_rest: Callable[[T, Path], None], *, retrain: bool = False) -> T:
    """The artefact loaded from the cache by `load(folder)` when it is current and readable; else `make()`, kept
    with its `weights` and the files `write_rest` writes. A cache that cannot be written costs the files, not the
    model just made: a warning says it will train again next time."""
    with one_trainer_at_a_time(entry.folder):
        if not retrain:
            try:
                if is_current(entry):
                    return load(entry.folder)
            except UNREADABLE as error:
                warnings.warn(f"the cached {entry.what} in {entry.folder} is unreadable ({type(error).__name__}: "
                              f"{error}): training it again")
        made = make()
        try:
            write_whole(entry, weights(made), lambda folder: write_rest(made, folder))
        except OSError as error:
            warnings.warn(f"the trained {entry.what} could not be kept in {entry.folder} ({error}): it is used now, "
                          f"and will train again next time")
        return made


RUN_FILES = ("model.safetensors", "history.json")


def cached(kind: str, key: dict, model: torch.nn.Module, run: Callable[[], TrainResult]) -> TrainResult:
    """The result of `run()`, which trains `model` in place: from the cache when this very run (`key`: everything
    that decides the weights) was made before, its weights then loaded into `model`; else run now and kept."""
    if not isinstance(key, dict) or not key:
        raise ValueError(f"a run's key must be a non-empty dict of what decides its weights, got {key!r}")
    name = fingerprint(key)
    entry = Entry(folder_of(kind, name), name, RUN_FILES, f"{kind} run {name}")

    def load(folder: Path) -> TrainResult:
        load_checkpoint(model, folder / "model.safetensors")  # refuses another config and NaN weights
        stored = json.loads((folder / "history.json").read_text(encoding="utf-8"))
        return TrainResult(TrainConfig(**stored["config"]), stored["train_losses"], stored["learning_rates"],
                           stored["validation"], Measurement.from_row(stored["measurement"]),
                           stored["world_size"], stored["precision"], from_cache=True)

    def write_history(result: TrainResult, folder: Path) -> None:
        history = {"config": asdict(result.config), "train_losses": result.train_losses,
                   "learning_rates": result.learning_rates, "validation": result.validation,
                   "measurement": result.measurement.as_row(), "world_size": result.world_size,
                   "precision": result.precision}
        (folder / "history.json").write_text(json.dumps(history), encoding="utf-8")

    return kept(entry, load, run, lambda result: model, write_history)
