"""How far an energy figure can be trusted: a range for each way energy is obtained, and whether two figures differ.

    m.energy_range_j                      # (low, high) joules: where the true energy of a Measurement lies
    energy.compare(a, b, "dynamic")       # a's energy over b's, its band, and a verdict: "a less than b", ...

Every source of error has a relative range and its citation in data/energy_uncertainty.csv: RAPL or NVML where
the hardware measures, codecarbon's load × TDP or memory-size model where it estimates, and the tracker's sampling
at the ends of a block. *Systematic* errors (a TDP's, the RAM model's) move every figure obtained the same way on
one machine alike; the *random* one falls differently on every block and weighs most on short ones. Energy obtained
in a way the table does not know gets a factor of two either way (`UNKNOWN_METHOD`): an assumption, not a published
figure, so that a figure of unknown origin is never shown as precise.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping

from greenlab.foundations.settings import DATA_DIR

ENERGY_UNCERTAINTY = DATA_DIR / "energy_uncertainty.csv"
UNKNOWN_METHOD = (-0.5, 1.0)  # relative range where the table has no row: half to twice the figure (assumed)
HOW_OBTAINED = {  # how `energy.measure` words each hardware's method → its source of error in the table
    "CPU: measured (RAPL)": "cpu_rapl",
    "CPU: estimated (load × TDP": "cpu_load_tdp",
    "CPU: estimated (constant": "cpu_constant",
    "GPU: measured (NVML)": "gpu_nvml",
    "RAM: estimated (memory-size model)": "ram_memory_size_model",
}
MEASURED = {source for words, source in HOW_OBTAINED.items() if ": measured" in words}
VERDICTS = ("a less than b", "b less than a", "not distinguishable")


@dataclass(frozen=True)
class ErrorSource:
    """One row of data/energy_uncertainty.csv: the true energy lies between the figure × (1 + relative_low) and
    × (1 + relative_high); for unit "seconds" the bounds are seconds of the block's mean power counted too many
    (negative) or too few (positive)."""

    source: str
    kind: str  # "systematic": shared by the figures obtained the same way on one machine; "random": not
    relative_low: float
    relative_high: float
    unit: str  # "fraction" of the figure, or "seconds" of the block's mean power
    basis: str  # the range's basis in a few words, as `describe` prints it
    citation: str
    url: str
    note: str

    def relative(self, duration_s: float) -> tuple[float, float]:
        """The relative range for a block of `duration_s` seconds: s seconds counted too many or too few put the
        figure off by s / (duration - s)."""
        if self.unit == "fraction":
            return self.relative_low, self.relative_high
        return tuple(s / (duration_s - s) if duration_s > s else math.inf
                     for s in (self.relative_low, self.relative_high))


@lru_cache(maxsize=1)
def error_sources() -> dict[str, ErrorSource]:
    """The sources of error of data/energy_uncertainty.csv, by name."""
    with open(ENERGY_UNCERTAINTY, newline="", encoding="utf-8") as file:
        rows = [ErrorSource(**{**row, "relative_low": float(row["relative_low"]),
                               "relative_high": float(row["relative_high"])}) for row in csv.DictReader(file)]
    return {row.source: row for row in rows}


def how_obtained(method: str) -> dict[str, str]:
    """Each hardware a Measurement's `method` names ("CPU", "RAM", "GPU") → its source of error in the table, or ""
    where the words are not in `HOW_OBTAINED`. The one place that reads `method`."""
    sources = {}
    for words in method.split("; "):
        hardware, colon, _ = words.partition(": ")
        if colon:
            sources[hardware] = next((source for start, source in HOW_OBTAINED.items() if words.startswith(start)), "")
    return sources


def obtained(method: str) -> str:
    """One word for how a figure was obtained: "measured", "estimated", "partly measured", or "method unknown"."""
    sources = list(how_obtained(method).values())
    if not sources or "" in sources:
        return "method unknown"
    measured = [source in MEASURED for source in sources]
    return "measured" if all(measured) else "partly measured" if any(measured) else "estimated"


def systematic_range(method: str, hardware: str) -> tuple[float, float]:
    """The relative range of one hardware's energy by how `method` says it was obtained (`UNKNOWN_METHOD` where
    the table has no row for it)."""
    source = error_sources().get(how_obtained(method).get(hardware, ""))
    return (source.relative_low, source.relative_high) if source else UNKNOWN_METHOD


def describe(method: str) -> str:
    """Which range applies to energy obtained by `method`, and why: each hardware's range and its source, then the
    tracker's sampling (what `greenlab doctor` prints)."""
    sources = error_sources()
    parts = []
    for hardware, name in how_obtained(method).items():
        low, high = systematic_range(method, hardware)
        why = sources[name].basis if name in sources else "a method the table does not name: assumed"
        parts.append(f"{hardware} {low:+.0%} to {high:+.0%} ({why})")
    if not parts:
        parts.append(f"{UNKNOWN_METHOD[0]:+.0%} to {UNKNOWN_METHOD[1]:+.0%} (a method the table does not name: assumed)")
    return ("; ".join(parts) + "; and at each block's end up to 1 s of its power counted twice, so a short block's "
            "figure is the least sure (sources: data/energy_uncertainty.csv)")


def random_range(duration_s: float, repeat_spread: float = 0.0) -> tuple[float, float]:
    """The relative range of what falls differently on every block: the tracker's sampling at its ends (the shorter
    the block, the wider) and ±`repeat_spread`, the spread of repeated runs where it is known."""
    if not duration_s > 0:  # a block of unknown length: its sampling error is unbounded
        return -1.0, math.inf
    low = high = 0.0
    for source in error_sources().values():
        if source.kind == "random":
            source_low, source_high = source.relative(duration_s)
            low, high = low + source_low, high + source_high
    return max(low - repeat_spread, -1.0), high + repeat_spread


@dataclass(frozen=True)
class Reading:
    """One energy figure split by hardware (joules), how it was obtained (a Measurement's `method`) and how long its
    block lasted: what its range is derived from."""

    joules: Mapping[str, float]
    method: str
    duration_s: float

    @classmethod
    def of_parts(cls, part_j: float, parts_j: Mapping[str, float], method: str, duration_s: float) -> "Reading":
        """A part's energy `part_j` from its hardware's joules (NaN for hardware not used); energy the split does not
        account for counts as obtained in an unknown way."""
        joules = {hardware: j for hardware, j in parts_j.items() if math.isfinite(j)}
        unaccounted = part_j - sum(joules.values())
        if unaccounted > 1e-9 * part_j:
            joules["unaccounted"] = unaccounted
        return cls(joules, method, duration_s)

    def biased(self, errors: Mapping[str, float]) -> float:
        """The joules if each hardware's energy were off by its relative error in `errors`."""
        return sum(joules * (1 + errors[hardware]) for hardware, joules in self.joules.items())

    def range_j(self, repeat_spread: float = 0.0) -> tuple[float, float]:
        """Low and high joules: each hardware's systematic range, then the block's random range."""
        ranges = {hardware: systematic_range(self.method, hardware) for hardware in self.joules}
        random_low, random_high = random_range(self.duration_s, repeat_spread)
        return (self.biased({hardware: low for hardware, (low, _) in ranges.items()}) * (1 + random_low),
                self.biased({hardware: high for hardware, (_, high) in ranges.items()}) * (1 + random_high))


def _divide(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else math.inf


def ratio_band(a: Reading, b: Reading, *, shared_bias: bool, repeat_spread: float = 0.0) -> tuple[float, float]:
    """Low and high of a's energy over b's. With `shared_bias` (one machine, one method) each hardware's systematic
    error is one unknown for both: the ratio is taken at every corner of those ranges, applied alike to a and b,
    and only the random ranges widen it. Else a's and b's full ranges are divided."""
    if not shared_bias:
        (a_low, a_high), (b_low, b_high) = a.range_j(repeat_spread), b.range_j(repeat_spread)
        return _divide(a_low, b_high), _divide(a_high, b_low)
    hardware = sorted(set(a.joules) | set(b.joules))
    corners = [dict(zip(hardware, errors))
               for errors in itertools.product(*(systematic_range(a.method, name) for name in hardware))]
    ratios = [_divide(a.biased(errors), b.biased(errors)) for errors in corners]
    (a_low, a_high), (b_low, b_high) = (random_range(r.duration_s, repeat_spread) for r in (a, b))
    return _divide(min(ratios) * (1 + a_low), 1 + b_high), _divide(max(ratios) * (1 + a_high), 1 + b_low)


@dataclass(frozen=True)
class Comparison:
    """a's energy over b's: the ratio, the band the true ratio lies in, a verdict (one of `VERDICTS`) and why."""

    part: str
    ratio: float
    low: float
    high: float
    verdict: str
    reason: str

    def __str__(self) -> str:
        return self.reason


def verdict(low: float, high: float) -> str:
    """The verdict on a band of a/b: a less than b when all of it is below 1, b less than a when all of it is above,
    else not distinguishable."""
    return VERDICTS[0] if high < 1 else VERDICTS[1] if low > 1 else VERDICTS[2]
