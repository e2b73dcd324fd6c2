"""What this machine can measure: its hardware energy counters, and how codecarbon would obtain energy here.

Where RAPL (CPU) or NVML (NVIDIA GPU) can be read, energy is measured; elsewhere (most virtual machines, containers,
laptops under macOS or Windows, Colab's CPUs) codecarbon estimates it, and every figure should say so.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch


def energy_sensor() -> str:
    """How codecarbon would obtain energy here: measured (RAPL/NVML) or estimated, and from what."""
    from greenlab.measurement.energy import measure

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
