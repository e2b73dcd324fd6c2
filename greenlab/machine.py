"""`greenlab.doctor()`: what this machine offers the course, in one printout."""

from __future__ import annotations

import os
import platform
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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


RAPL = Path("/sys/class/powercap/intel-rapl:0/energy_uj")  # Linux powercap: Intel and AMD CPUs


def energy_counters() -> dict[str, str]:
    """Which hardware energy counters this machine exposes: RAPL for the CPU, NVML for NVIDIA GPUs."""
    if not RAPL.exists():
        rapl = "absent (typical of virtual machines, containers, macOS and Windows)"
    elif not os.access(RAPL, os.R_OK):
        rapl = f"present but not readable ({RAPL} needs root: sudo chmod a+r, or run as root)"
    else:
        rapl = f"readable ({RAPL})"
    if not torch.cuda.is_available():
        nvml = "no NVIDIA GPU"
    else:
        try:
            import pynvml  # noqa: F401  (codecarbon's dependency)
            nvml = f"available: {torch.cuda.get_device_name(0)}"
        except ImportError:
            nvml = f"{torch.cuda.get_device_name(0)} found, but pynvml is not installed"
    return {"RAPL (CPU energy counter)": rapl, "NVML (GPU power readings)": nvml}


def report() -> dict[str, str]:
    """The facts `doctor()` prints, as a dict."""
    facts = {"python": platform.python_version(), "platform": platform.platform()}
    facts.update({package: _version(package) for package in PACKAGES})
    facts["device"] = str(settings.device())
    facts["cuda available"] = str(torch.cuda.is_available())
    facts["CPU threads used by torch"] = str(torch.get_num_threads())
    facts["profile"] = settings.profile()
    facts.update(energy_counters())
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
