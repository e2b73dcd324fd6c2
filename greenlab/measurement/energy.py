"""Measure a block of code: time, energy, CO2eq, FLOPs — and how the energy was obtained.

    with measure("100 matrix products", count_flops=True) as m:
        for _ in range(100):
            a @ a                      # a = torch.randn(1024, 1024)
    print(m)   # 100 matrix products: 2.06 s · 32.5 J (9.11–43.7 J, estimated; static 20.1 J, dynamic 12.5 J)
               #   [CPU: estimated (load × TDP 8 W); RAM: estimated (memory-size model)] · 3.34 mg CO2eq (USA,
               #   369 g/kWh) · 215 GFLOP

Energy comes from codecarbon's `OfflineEmissionsTracker`. It *measures* where the hardware exposes counters
(RAPL on Intel/AMD CPUs, NVML on NVIDIA GPUs) and *estimates* elsewhere — in a VM or a container without
RAPL it multiplies the CPU load by a TDP from its table (or 4 W per thread). `Measurement.method` says which,
and every printed figure carries it, with the range the true energy lies in given how it was obtained
(`greenlab.measurement.uncertainty`); `compare` says whether two figures differ beyond their ranges. Each
Measurement also splits its energy in two: the *static* part, charged for time alone (codecarbon's RAM model:
memory size → constant watts), and the *dynamic* part, which follows the work (CPU, GPU). Where the static part is
most of the total, compare methods on the dynamic part.
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
from greenlab.foundations.validation import check_number
from greenlab.measurement import ledger, uncertainty
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

    def reading(self, part: str) -> uncertainty.Reading:
        """One part's energy split by hardware, with how it was obtained and how long its block lasted: what its
        range is derived from. Energy the split does not account for counts as obtained in an unknown way."""
        kwh = {"CPU": self.cpu_kwh, "GPU": self.gpu_kwh} | ({"RAM": self.ram_kwh} if part == "total" else {})
        joules = {hardware: e * JOULES_PER_KWH for hardware, e in kwh.items()}
        return uncertainty.Reading.of_parts(self.part_j(part), joules, self.method, self.duration_s)

    def range_j(self, part: str) -> tuple[float, float]:
        """Low and high joules the true energy of one part ("total" or "dynamic", as in `part_j`) lies between,
        given how each hardware's energy was obtained and how long the block lasted; NaN without energy."""
        if not math.isfinite(self.part_j(part)):
            return math.nan, math.nan
        return self.reading(part).range_j()

    @property
    def energy_range_j(self) -> tuple[float, float]:
        """Low and high joules the true total energy lies between (`range_j("total")`)."""
        return self.range_j("total")

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
            parts.append(f"{format_energy(self.energy_j)} ({format_energy_range(*self.energy_range_j)}, "
                         f"{uncertainty.obtained(self.method)}; static {format_energy(self.static_j)}, dynamic "
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


def compare(a: Measurement | UseCost, b: Measurement | UseCost, part: str = "total", *, same_machine: bool = True,
            repeat_spread: float = 0.0) -> uncertainty.Comparison:
    """Whether a used less energy than b, more, or cannot be told apart beyond the ranges of how each was obtained;
    per use where a and b are `UseCost`s (e.g. joules per generated token of two blocks of different lengths).

    Two measurements taken by the same method on one machine share its systematic error (a TDP's or the RAM model's
    bias moves both alike and cancels in their ratio), so their ratio's band comes only from the random part: the
    tracker's sampling at each block's ends, and ±`repeat_spread`, the relative spread of repeated runs where known
    (e.g. twice `measuring_well.spread(runs)["cv"]`). Measurements by different methods, or with
    `same_machine=False` (a Measurement does not record its machine), compare on their full ranges."""
    for name, cost in (("a", a), ("b", b)):
        if not isinstance(cost, (Measurement, UseCost)):
            raise TypeError(f"compare takes two Measurements or two UseCosts, got {name}={cost!r} "
                            f"({type(cost).__name__})")
    if type(a) is not type(b):
        raise TypeError(f"compare takes two of a kind, got a {type(a).__name__} and a {type(b).__name__}")
    if not isinstance(same_machine, bool):
        raise TypeError(f"same_machine must be True or False, got {same_machine!r}")
    check_number("repeat_spread", repeat_spread, at_least=0)
    per_use = isinstance(a, UseCost)
    uses = a.uses / b.uses if per_use else 1.0  # a per-use ratio is the blocks' ratio divided by this
    a, b = (cost.measurement if isinstance(cost, UseCost) else cost for cost in (a, b))
    for m in (a, b):
        if not m.available:
            raise ValueError(f"the run {m.label!r} has no energy measurement ({m.method}): it cannot be compared")
        if not m.part_j(part) > 0:
            raise ValueError(f"the run {m.label!r} has no {part} energy ({m.part_j(part):g} J): a ratio needs energy "
                             f"on both sides")
    shared_bias = same_machine and a.method == b.method
    ratio = a.part_j(part) / b.part_j(part) / uses
    low, high = (bound / uses for bound in uncertainty.ratio_band(a.reading(part), b.reading(part),
                                                                   shared_bias=shared_bias,
                                                                   repeat_spread=repeat_spread))
    verdict = uncertainty.verdict(low, high)
    basis = ("one machine and method, so only the random part counts" if shared_bias
             else "different methods or machines, so the full ranges count")
    what = f"{part} energy per use" if per_use else f"{part} energy"
    reason = (f"{a.label!r} / {b.label!r}, {what}: {ratio:.2f} ({low:.2f}–{high:.2f}): {verdict}"
              f"{', the band holds 1' if verdict == uncertainty.VERDICTS[2] else ''} ({basis})")
    return uncertainty.Comparison(part, ratio, low, high, verdict, reason)


def _energy_unit(joules: float) -> tuple[str, float]:
    """A readable unit for an amount of joules, and the joules in one of it: J, kJ, then kWh."""
    return ("J", 1.0) if joules < 1e3 else ("kJ", 1e3) if joules < 3.6e5 else ("kWh", JOULES_PER_KWH)


def format_energy(joules: float) -> str:
    """Joules with a readable unit: J, kJ, then kWh."""
    unit, size = _energy_unit(joules)
    return f"{joules / size:.3g} {unit}"


def format_energy_range(low: float, high: float) -> str:
    """A range of joules in the unit of its upper end: "20.1–45.3 J", "0.8–1.2 kJ"."""
    unit, size = _energy_unit(high)
    return f"{low / size:.3g}–{high / size:.3g} {unit}"


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
