"""Settings every other module reads: where things live, whether we are online, seeds, the compute profile.

Everything here can be changed with one environment variable, so a notebook never needs editing:

    GREENLAB_CACHE    cache folder (trained models, the green ledger)   default ~/.cache/greenlab
    GREENLAB_PROFILE  "cpu" (course size, minutes on 2 cores) or "gpu"  default cpu
    GREENLAB_COUNTRY  ISO 3166-1 alpha-3 code of the electricity grid   default USA
    GREENLAB_OFFLINE  "1" never tries the network                       default: probe when asked
"""

from __future__ import annotations

import importlib
import os
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

from greenlab.foundations import validation

REPOSITORY = "greenlab-course/greenlab"  # GitHub owner/name: the Colab badges and setup cells use it
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"

ROOT = Path(__file__).resolve().parents[2]  # the repository, above greenlab/foundations/
DATA_DIR = ROOT / "data"

PROFILES = ("cpu", "gpu")
DEFAULT_COUNTRY = "USA"  # ~370 gCO2eq/kWh in codecarbon's data, below the world's 480 (Ember, 2023)

_OFFLINE_FLAGS = ("GREENLAB_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
_PROBE_HOST = ("huggingface.co", 443)


def cache_dir() -> Path:
    """The folder for trained models and the green ledger (created when missing)."""
    setting = os.environ.get("GREENLAB_CACHE")
    if setting is not None and not setting.strip():
        raise ValueError("GREENLAB_CACHE is set but empty: unset it to use ~/.cache/greenlab, or name a folder")
    path = Path(setting or Path.home() / ".cache" / "greenlab").expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"the cache folder {path} (GREENLAB_CACHE) cannot be created: {error}") from error
    return path


def profile() -> str:
    """The compute profile: "cpu" sizes every experiment for 2 cores, "gpu" for a learner with a GPU."""
    name = os.environ.get("GREENLAB_PROFILE", "cpu").strip().lower()
    if name not in PROFILES:
        raise ValueError(f"GREENLAB_PROFILE={name!r} is not a profile; choose one of {', '.join(PROFILES)}")
    return name


def device() -> torch.device:
    """The device the "gpu" profile trains on when a GPU is present; the CPU otherwise."""
    if profile() == "gpu" and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def country() -> str:
    """The electricity grid whose carbon intensity turns energy into CO2eq."""
    return os.environ.get("GREENLAB_COUNTRY", DEFAULT_COUNTRY).strip().upper()


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class OfflineError(ConnectionError):
    """Raised at once when something needs the network and the machine is offline."""


def is_offline(timeout_s: float = 2.0) -> bool:
    """True when an offline flag is set or the Hugging Face Hub cannot be reached within `timeout_s`."""
    if any(_flag(name) for name in _OFFLINE_FLAGS):
        return True
    try:
        with socket.create_connection(_PROBE_HOST, timeout=timeout_s):
            return False
    except Exception:  # no DNS, no route, refused, or a test's socket guard: all mean offline
        return True


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and PyTorch so that a run repeats exactly on one machine. `seed` is a whole number NumPy
    takes (below 2**32), checked before anything is seeded."""
    validation.check_whole("seed", seed, 0, 2**32 - 1, why="NumPy's seeds are 32-bit")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def one_thread() -> Iterator[None]:
    """PyTorch on one CPU thread inside the block, then as many as before. For tiny models: one thread runs them
    fastest, and a second core busy with something else cannot stall each of their thousands of small operations
    (with two threads, every operation waits for both)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def replaced_whole(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` to write into, which then replaces `path` in one step: an error or a crash
    leaves the old file or the new one, never half of one, and no temporary file behind."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        yield partial
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency, or fail with the command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"this needs the package {module!r}, which is not installed: "
                          f"pip install 'greenlab[{extra}]'") from None
