"""Measure a block of code: time, energy, CO2eq, FLOPs — and how the energy was obtained.

    with measure("100 matrix products", count_flops=True) as m:
        for _ in range(100):
            a @ a                      # a = torch.randn(1024, 1024)
    print(m)   # 100 matrix products: 2.06 s · 32.5 J (static 20.1 J, dynamic 12.5 J) [CPU: estimated (load × TDP 8 W);
               #   RAM: estimated (memory-size model)] · 3.34 mg CO2eq (USA, 369 g/kWh) · 215 GFLOP

Energy comes from codecarbon's `OfflineEmissionsTracker`. It *measures* where the hardware exposes counters
(RAPL on Intel/AMD CPUs, NVML on NVIDIA GPUs) and *estimates* elsewhere — in a VM or a container without
RAPL it multiplies the CPU load by a TDP from its table (or 4 W per thread). `Measurement.method` says which,
and every printed figure carries it. Each Measurement also splits its energy in two: the *static* part, charged
for time alone (codecarbon's RAM model: memory size → constant watts), and the *dynamic* part, which follows the
work (CPU, GPU). Where the static part is most of the total, compare methods on the dynamic part.
CO2eq = energy × the carbon intensity of the chosen country's grid.
FLOPs come from PyTorch's `torch.utils.flop_counter` (matrix multiplications, convolutions and fused attention,
not element-wise ops); it knows the GPU's fused attention kernels, and this module gives it the CPU's.
A tracker that fails never costs the user's work: a warning, and `available=False`.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator, TypeVar

import torch
from torch.utils.flop_counter import (FlopCounterMode, flop_registry, register_flop_formula, sdpa_backward_flop_count,
                                      sdpa_flop_count)

from greenlab.foundations import settings
from greenlab.measurement import ledger
from greenlab.measurement.grid import check_country

JOULES_PER_KWH = ledger.JOULES_PER_KWH
SHORTEST_RELIABLE_S = 0.1  # codecarbon skips its final reading when the last one is under 50 ms old
T = TypeVar("T")
ENERGY_PARTS = ("total", "dynamic")


@dataclass
class Measurement:
    """What one measured block cost. Energies in kWh; use `energy_j` for joules."""

    label: str
    country: str
    duration_s: float = math.nan
    energy_kwh: float = math.nan
    cpu_kwh: float = math.nan
    ram_kwh: float = math.nan
    gpu_kwh: float = math.nan
    co2eq_kg: float = math.nan
    method: str = "not measured"
    flops: int | None = None
    available: bool = False
    timestamp: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def energy_j(self) -> float:
        return self.energy_kwh * JOULES_PER_KWH

    @property
    def static_j(self) -> float:
        """Joules charged for the time alone, whatever the work: codecarbon's RAM model, a constant power set by
        the memory size, times the duration. Two runs of equal length get the same static energy."""
        return self.ram_kwh * JOULES_PER_KWH

    @property
    def dynamic_j(self) -> float:
        """Joules that follow the work: the CPU (RAPL, or load × TDP) plus the GPU (NVML). Under RAPL the CPU's own
        idle floor is inside this part too; `greenlab.experiments.measuring_well.idle_power` measures it."""
        return (self.cpu_kwh + (0.0 if math.isnan(self.gpu_kwh) else self.gpu_kwh)) * JOULES_PER_KWH

    @property
    def static_share(self) -> float:
        """The static part's share of the total energy."""
        return self.static_j / self.energy_j if self.energy_j > 0 else math.nan

    @property
    def comparable_part(self) -> str:
        """Which energy to compare two methods on: "dynamic" where the static part is most of the total (the total
        is then mostly duration × a constant power, a time ratio in disguise), else "total"."""
        return "dynamic" if self.static_share > 0.5 else "total"

    def part_j(self, part: str) -> float:
        """The energy of one part, in joules: "total" or "dynamic" (what `comparable_part` chose for a set of runs
        compared together, so that every run of the set is compared on the same part)."""
        if part not in ENERGY_PARTS:
            raise ValueError(f"an energy part is one of {', '.join(map(repr, ENERGY_PARTS))}, got {part!r}")
        return self.dynamic_j if part == "dynamic" else self.energy_j

    @property
    def grid_gco2_per_kwh(self) -> float:
        """Carbon intensity used, in gCO2eq/kWh (as codecarbon applied it)."""
        return self.co2eq_kg * 1000 / self.energy_kwh if self.energy_kwh > 0 else math.nan

    @classmethod
    def from_row(cls, row: dict) -> "Measurement":
        """A Measurement back from `as_row` (e.g. a stored training history)."""
        return cls(**{name: row[name] for name in cls.__dataclass_fields__ if name in row})

    def as_row(self) -> dict:
        """A flat dict: one row of the green ledger."""
        row = asdict(self)
        row["energy_j"] = self.energy_j
        row["static_j"], row["dynamic_j"] = self.static_j, self.dynamic_j
        row["grid_gco2_per_kwh"] = self.grid_gco2_per_kwh
        return row

    def __str__(self) -> str:
        parts = [f"{self.label}: {self.duration_s:.2f} s"]
        if self.available:
            parts.append(f"{format_energy(self.energy_j)} (static {format_energy(self.static_j)}, dynamic "
                         f"{format_energy(self.dynamic_j)}) [{self.method}]")
            parts.append(f"{format_mass(self.co2eq_kg)} CO2eq ({self.country}, {self.grid_gco2_per_kwh:.0f} g/kWh)")
        else:
            parts.append(f"energy unavailable [{self.method}]")
        if self.flops is not None:
            parts.append(format_flops(self.flops))
        return " · ".join(parts)


@dataclass(frozen=True)
class UseCost:
    """What `uses` uses (generated tokens, answered questions, translations) cost in one measured block, per use:
    one way to say what a service costs, whatever it serves."""

    uses: int
    measurement: Measurement

    @property
    def uses_per_s(self) -> float:
        return self.uses / self.measurement.duration_s

    @property
    def seconds_per_1000(self) -> float:
        return self.measurement.duration_s / self.uses * 1000

    @property
    def joules_per_1000(self) -> float:
        return self.measurement.energy_j / self.uses * 1000

    @property
    def dynamic_joules_per_1000(self) -> float:
        """The dynamic part alone (CPU, GPU): what follows the work, without the RAM model's constant."""
        return self.measurement.dynamic_j / self.uses * 1000

    def per_1000(self, part: str) -> float:
        """Joules per 1,000 uses of one part, "total" or "dynamic" (`Measurement.part_j`)."""
        return self.measurement.part_j(part) / self.uses * 1000


def format_energy(joules: float) -> str:
    """Joules with a readable unit: J, kJ, then kWh."""
    if joules < 1e3:
        return f"{joules:.3g} J"
    if joules < 3.6e5:
        return f"{joules / 1e3:.3g} kJ"
    return f"{joules / JOULES_PER_KWH:.3g} kWh"


def format_mass(kg: float) -> str:
    """A CO2eq mass with a readable unit, from milligrams to tonnes."""
    for unit, scale in (("t", 1e3), ("kg", 1.0), ("g", 1e-3)):
        if kg >= scale:
            return f"{kg / scale:.3g} {unit}"
    return f"{kg / 1e-6:.3g} mg"


def format_flops(flops: float) -> str:
    """FLOPs with an SI prefix (GFLOP, TFLOP, ...)."""
    for prefix, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if flops >= scale:
            return f"{flops / scale:.3g} {prefix}FLOP"
    return f"{flops:.0f} FLOP"


_CPU_ATTENTION = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
if _CPU_ATTENTION not in flop_registry:  # else the counter skips attention on the CPU; same formulas as on GPUs
    @register_flop_formula(_CPU_ATTENTION)
    def _cpu_attention_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    @register_flop_formula(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward)
    def _cpu_attention_backward_flops(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                                      **kwargs) -> int:
        return sdpa_backward_flop_count(grad_out_shape, query_shape, key_shape, value_shape)


def count_flops(fn: Callable[[], T]) -> tuple[T, int]:
    """Run `fn()`; return its result and the FLOPs PyTorch performed (matrix products, convolutions, attention)."""
    counter = FlopCounterMode(display=False)
    with counter:
        result = fn()
    return result, counter.get_total_flops()


def _describe_method(tracker) -> str:
    """How codecarbon obtains each part of the energy, in words: measured or estimated, and from what."""
    words = []
    for hardware in getattr(tracker, "_hardware", []):  # codecarbon keeps no public list of its sources
        kind, mode = type(hardware).__name__, getattr(hardware, "_mode", None)
        if kind == "CPU":
            if mode == "intel_rapl":
                words.append("CPU: measured (RAPL)")
            elif mode == "cpu_load":
                words.append(f"CPU: estimated (load × TDP {hardware._tdp} W)")
            elif mode == "constant":
                words.append(f"CPU: estimated (constant, half of TDP {hardware._tdp} W)")
            else:
                words.append(f"CPU: {mode}")
        elif kind == "GPU":
            words.append("GPU: measured (NVML)")
        elif kind == "RAM":
            words.append("RAM: estimated (memory-size model)")
        else:
            words.append(f"{kind}: {mode or 'vendor tool'}")
    return "; ".join(sorted(words)) or "unknown"


def _start_tracker(country: str, label: str, scope: str = "process"):
    from codecarbon import OfflineEmissionsTracker

    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    tracker = OfflineEmissionsTracker(
        project_name=label, country_iso_code=country, output_methods=[], log_level="error",
        tracking_mode=scope, measure_power_secs=1, allow_multiple_runs=True)
    tracker.start()
    return tracker


def _read_tracker(tracker, m: Measurement) -> None:
    tracker.stop()
    data = tracker.final_emissions_data
    m.energy_kwh, m.cpu_kwh = data.energy_consumed, data.cpu_energy
    m.ram_kwh, m.gpu_kwh, m.co2eq_kg = data.ram_energy, data.gpu_energy, data.emissions
    m.method = _describe_method(tracker)
    m.available = True


@contextmanager
def measure(label: str, *, country: str | None = None, count_flops: bool = False, record: bool = True,
            scope: str = "process") -> Iterator[Measurement]:
    """Measure the `with` block; the Measurement is filled in when the block ends (and added to the ledger).
    scope "process" counts this process's share of the CPU; "machine" the whole machine's load (e.g. a notebook
    kernel that runs in another process)."""
    if scope not in ("process", "machine"):
        raise ValueError(f"scope must be 'process' or 'machine', got {scope!r}")
    m = Measurement(label=label, country=check_country(country or settings.country()))
    tracker = None
    try:
        tracker = _start_tracker(m.country, label, scope)
    except Exception as error:  # the user's work must never depend on the tracker
        warnings.warn(f"energy tracker failed to start ({error}); '{label}' is timed but its energy is unavailable")
        m.method = f"unavailable: tracker failed to start ({type(error).__name__})"
    flop_counter = FlopCounterMode(display=False) if count_flops else nullcontext()
    start = time.perf_counter()
    try:
        with flop_counter:
            yield m
    finally:  # also when the block raises: stop the tracker, then let the error through unrecorded
        m.duration_s = time.perf_counter() - start
        if count_flops:
            m.flops = flop_counter.get_total_flops()
        if tracker is not None:
            try:
                _read_tracker(tracker, m)
            except Exception as error:
                warnings.warn(f"energy tracker failed to stop ({error}); '{label}' is timed, its energy unavailable")
                m.method = f"unavailable: tracker failed ({type(error).__name__})"
    if m.available and m.duration_s < SHORTEST_RELIABLE_S:
        warnings.warn(f"'{label}' lasted {m.duration_s * 1000:.0f} ms, below the energy tracker's resolution "
                      f"(~{SHORTEST_RELIABLE_S} s): repeat the work inside one measured block for a reliable figure")
    if record:
        record_in_ledger(m)


def record_in_ledger(m: Measurement, **columns: object) -> None:
    """Add `m` to the green ledger, with any of the ledger's other `columns` (a model's name, its tokens...); a
    ledger that cannot be written costs a warning, never the measured work."""
    try:
        ledger.record({**m.as_row(), **columns})
    except (OSError, ValueError) as error:
        warnings.warn(f"'{m.label}' is measured but not in the green ledger, which could not be written ({error})")
