"""`greenlab.doctor()`: what this machine offers the course, in one printout."""

from __future__ import annotations

import platform
import warnings
from importlib.metadata import PackageNotFoundError, version

import torch

from greenlab import settings

PACKAGES = ("torch", "transformers", "tokenizers", "datasets", "codecarbon", "safetensors", "ipywidgets")


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def energy_sensor() -> str:
    """How codecarbon would obtain energy here: measured (RAPL/NVML) or estimated, and from what."""
    from greenlab.energy import measure

    with warnings.catch_warnings():  # the probe measures nothing: only which method codecarbon picks
        warnings.simplefilter("ignore")
        with measure("sensor probe", record=False) as m:
            pass
    return m.method


def report() -> dict[str, str]:
    """The facts `doctor()` prints, as a dict."""
    facts = {"python": platform.python_version(), "platform": platform.platform()}
    facts.update({package: _version(package) for package in PACKAGES})
    facts["device"] = str(settings.device())
    facts["cuda available"] = str(torch.cuda.is_available())
    facts["CPU threads used by torch"] = str(torch.get_num_threads())
    facts["profile"] = settings.profile()
    facts["energy"] = energy_sensor()
    facts["grid (country)"] = settings.country()
    facts["offline"] = str(settings.is_offline())
    facts["cache folder"] = str(settings.cache_dir())
    return facts


def doctor() -> None:
    """Print versions, device, energy sensor, offline status and cache folder."""
    facts = report()
    width = max(map(len, facts))
    for name, value in facts.items():
        print(f"{name:>{width}}  {value}")
