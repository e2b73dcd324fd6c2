"""Back-of-envelope training footprint of a language model, and the published figures to check it against.

    FLOPs        C ≈ 6 · N · D          (N parameters, D training tokens: 2 for the forward pass, 4 backward)
    hours        C / achieved FLOP/s    (per accelerator; achieved = peak × utilisation)
    energy       hours × power × PUE    (PUE: the data centre's overhead for cooling and power delivery)
    CO2eq        energy × grid carbon intensity

`estimate` chains them from a model's size and data, a named accelerator (data/hardware.csv: datasheet peak FLOP/s,
memory and power), an achieved fraction of the peak (model FLOPs utilization, 30 % by default: large runs report
21–46 %, data/utilization.csv), a PUE and a country's grid (codecarbon's data). Two more questions a green engineer
asks of the same hours: what do they cost to rent (`cloud_cost`, data/cloud_prices.csv), and when in the day should
they run (`start_hours`, the hourly carbon intensity of a few grids in data/grid_hourly_intensity.csv)? Two tables
check the figures: `energy_per_flop` sets a FLOP measured on this CPU beside the datasheets', and
`estimates_against_published` sets `estimate` beside what the authors of large models published.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from greenlab.measurement.energy import Measurement
from greenlab.measurement.grid import check_country, grid_intensity
from greenlab.foundations.settings import DATA_DIR
from greenlab.foundations.validation import check_number, check_whole

PUBLISHED_FOOTPRINTS = DATA_DIR / "published_footprints.csv"
PUBLISHED_INFERENCE = DATA_DIR / "published_inference.csv"
HARDWARE = DATA_DIR / "hardware.csv"
CLOUD_PRICES = DATA_DIR / "cloud_prices.csv"
GRID_HOURLY = DATA_DIR / "grid_hourly_intensity.csv"
DEFAULT_UTILIZATION = 0.30  # model FLOPs utilization: GPT-3 21 %, Gopher 33 %, PaLM 46 % (data/utilization.csv)


def _positive(**values: float) -> None:
    for name, value in values.items():
        check_number(name, value, above=0)


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute C ≈ 6·N·D floating-point operations (Kaplan et al. 2020)."""
    _positive(n_params=n_params, n_tokens=n_tokens)
    flops = 6 * n_params * n_tokens
    if not math.isfinite(flops):
        raise ValueError(f"6 · {n_params:g} parameters · {n_tokens:g} tokens is beyond a float's range: give real "
                         f"sizes (GPT-3: 1.75e11 parameters, 3e11 tokens)")
    return flops


def accelerator_hours(flops: float, achieved_flops_per_s: float) -> float:
    """Accelerator-hours to perform `flops` at an achieved (not peak) throughput per accelerator."""
    _positive(flops=flops, achieved_flops_per_s=achieved_flops_per_s)
    return flops / achieved_flops_per_s / 3600


def energy_kwh(hours: float, watts: float, pue: float = 1.0) -> float:
    """Energy in kWh drawn from the grid: accelerator-hours × average power × PUE."""
    _positive(hours=hours, watts=watts, pue=pue)
    return hours * watts / 1000 * pue


def co2eq_kg(kwh: float, grid_gco2_per_kwh: float) -> float:
    """Emissions in kg CO2eq for `kwh` taken from a grid of the given carbon intensity."""
    _positive(kwh=kwh, grid_gco2_per_kwh=grid_gco2_per_kwh)
    return kwh * grid_gco2_per_kwh / 1000


def published_footprints() -> pd.DataFrame:
    """Published training footprints (data/published_footprints.csv), one row per model, with sources."""
    return pd.read_csv(PUBLISHED_FOOTPRINTS).set_index("model")


def published_inference() -> pd.DataFrame:
    """Published energy per 1,000 inferences (data/published_inference.csv), one row per task, with the hardware,
    the method and the source; `joules_per_1000_queries` is the kWh figure converted (1 kWh = 3.6 MJ)."""
    table = pd.read_csv(PUBLISHED_INFERENCE).set_index("task")
    return table.assign(joules_per_1000_queries=table["kwh_per_1000_queries"] * 3.6e6)


def hardware_table() -> pd.DataFrame:
    """Accelerators (data/hardware.csv): peak dense TFLOP/s, precision, memory (GB), power (W; empty where the
    vendor publishes none), source."""
    return pd.read_csv(HARDWARE).set_index("hardware")


def priced_hardware() -> list[str]:
    """The accelerators whose power is published: those `estimate` can turn into energy."""
    table = hardware_table()
    return list(table.index[table["tdp_w"].notna()])


def hardware_spec(name: str) -> pd.Series:
    """The row of an accelerator, found by its short name as a word of `name` ("NVIDIA A100 80GB" finds A100;
    "L40S" is not the L4)."""
    table = hardware_table()
    for short in table.index:
        if re.search(rf"\b{re.escape(short)}\b", str(name), re.IGNORECASE):
            return table.loc[short]
    raise ValueError(f"unknown hardware {name!r}; the calculator knows: {', '.join(table.index)}")


def energy_per_flop(cpu: Measurement, flops: float) -> pd.DataFrame:
    """What a FLOP costs: a block measured on this CPU that performed `flops` FLOPs, then each accelerator of
    data/hardware.csv at DEFAULT_UTILIZATION of its datasheet peak; TFLOP/s, watts, pJ per FLOP, source and memory
    (GB), one row each. A datasheet's power is the chip's alone, so the CPU's row counts the measurement's dynamic
    part, without the RAM model; its name says whether the CPU's energy was measured or estimated."""
    if not isinstance(cpu, Measurement):
        raise TypeError(f"cpu must be a Measurement (from `with measure(...) as cpu`), got {cpu!r}")
    _positive(flops=flops)
    check_number(f"the duration of {cpu.label!r}", cpu.duration_s, above=0, why="a measured block takes time")
    check_number(f"the dynamic energy of {cpu.label!r}", cpu.dynamic_j, at_least=0,
                 why="a tracker that failed measured nothing")
    cpu_row = f"this CPU ({'measured' if 'CPU: measured' in cpu.method else 'estimated'}, dynamic part)"
    rows = {cpu_row: {"TFLOP/s": flops / cpu.duration_s / 1e12, "watts": cpu.dynamic_j / cpu.duration_s,
                      "pJ per FLOP": cpu.dynamic_j / flops * 1e12, "source": cpu.method}}
    for name, spec in hardware_table().iterrows():
        achieved = spec.peak_tflops * 1e12 * DEFAULT_UTILIZATION
        rows[name] = {"TFLOP/s": achieved / 1e12, "memory (GB)": spec.memory_gb, "watts": spec.tdp_w,
                      "pJ per FLOP": spec.tdp_w / achieved * 1e12, "source": spec.source}
    return pd.DataFrame(rows).T


@dataclass(frozen=True)
class Estimate:
    """A training footprint computed from first principles, with what it assumed."""

    flops: float
    accelerator_hours: float
    energy_kwh: float
    co2eq_kg: float
    hardware: str
    country: str
    pue: float
    utilization: float

    def __str__(self) -> str:
        return (f"{self.flops:.3g} FLOPs → {self.accelerator_hours:,.0f} {self.hardware}-hours at "
                f"{self.utilization:.0%} of peak → {self.energy_kwh / 1000:,.1f} MWh with PUE {self.pue} → "
                f"{self.co2eq_kg / 1000:,.1f} t CO2eq on the grid of {self.country}")


def estimate(parameters: float, tokens: float, hardware: str = "A100", country: str = "USA", pue: float = 1.1,
             utilization: float = DEFAULT_UTILIZATION) -> Estimate:
    """Training footprint of a dense transformer: 6·N·D FLOPs on `hardware` achieving `utilization` of its peak,
    drawing its TDP, in a data centre of the given PUE, on the grid of `country` (ISO alpha-3)."""
    _positive(parameters=parameters, tokens=tokens, pue=pue, utilization=utilization)
    if pue < 1:
        raise ValueError(f"a PUE is facility energy / IT energy, so at least 1, got {pue!r}")
    if utilization > 1:
        raise ValueError(f"utilization is a fraction of the peak, in (0, 1], got {utilization!r}")
    spec = hardware_spec(hardware)
    if pd.isna(spec.tdp_w):
        raise ValueError(f"{spec.name} has no published power in data/hardware.csv, so its energy cannot be "
                         f"estimated; accelerators with one: {', '.join(priced_hardware())}")
    country = check_country(country)
    flops = training_flops(parameters, tokens)
    hours = accelerator_hours(flops, spec.peak_tflops * 1e12 * utilization)
    kwh = energy_kwh(hours, spec.tdp_w, pue)
    return Estimate(flops, hours, kwh, co2eq_kg(kwh, grid_intensity(country)), spec.name, country, pue, utilization)


def estimates_against_published() -> pd.DataFrame:
    """Each published training run (data/published_footprints.csv) beside what `estimate` makes of its size, tokens,
    hardware and PUE alone (1.0 where none is published), never its hours; with the utilization the run really
    achieved (6·N·D ÷ published hours ÷ peak) and its power against the datasheet's, the two assumptions that
    explain the ratio. Where a paper gives no energy (Llama 2), its published MWh are its hours × power × PUE."""
    comparison = {}
    for model, run in published_footprints().iterrows():
        pue = run.pue if run.pue > 0 else 1.0
        job = estimate(run.parameters, run.training_tokens, run.hardware, "USA", pue)
        published_mwh = (run.reported_energy_mwh if run.reported_energy_mwh > 0
                         else run.accelerator_hours * run.avg_power_w * pue / 1e6)
        spec = hardware_spec(run.hardware)
        comparison[model] = {"estimated hours (M)": job.accelerator_hours / 1e6,
                             "published hours (M)": run.accelerator_hours / 1e6,
                             "estimated MWh": job.energy_kwh / 1000, "published MWh": published_mwh,
                             "ratio": job.energy_kwh / 1000 / published_mwh,
                             "implied utilization":
                                 job.flops / (run.accelerator_hours * 3600 * spec.peak_tflops * 1e12),
                             "published power (W)": run.avg_power_w, "datasheet TDP (W)": spec.tdp_w}
    return pd.DataFrame(comparison).T


def cloud_prices() -> pd.DataFrame:
    """On-demand cloud offerings (data/cloud_prices.csv): provider, offering, accelerator, how many, USD per hour of
    the whole instance, region, the date of the price, source."""
    return pd.read_csv(CLOUD_PRICES)


def cloud_cost(job: Estimate) -> pd.DataFrame:
    """What the job's accelerator-hours would cost on each shipped offering of its accelerator: the instance's
    hourly price ÷ its accelerators × the hours (list prices, on-demand; discounts and spot prices are lower)."""
    offerings = cloud_prices()
    offerings = offerings[offerings["accelerator"] == job.hardware].copy()
    if offerings.empty:
        raise ValueError(f"no shipped cloud price for {job.hardware}; data/cloud_prices.csv has: "
                         f"{', '.join(sorted(cloud_prices()['accelerator'].unique()))}")
    offerings["usd_per_accelerator_hour"] = offerings["usd_per_hour"] / offerings["accelerators"]
    offerings["cost_usd"] = offerings["usd_per_accelerator_hour"] * job.accelerator_hours
    return offerings[["provider", "offering", "region", "date", "usd_per_accelerator_hour", "cost_usd"]]


def cost_line(job: Estimate) -> str:
    """The estimate's rent in one line: each shipped offering of its accelerator, or why there is none."""
    try:
        costs = cloud_cost(job)
    except ValueError as error:
        return str(error)
    return "on demand: " + "; ".join(f"{row.provider} {row.offering} ${row.cost_usd:,.0f}"
                                     for row in costs.itertuples()) + " (list prices, dated in data/cloud_prices.csv)"


def hourly_intensity() -> pd.DataFrame:
    """The mean carbon intensity (gCO2eq/kWh, direct emissions) of a few grids at each local hour of the day in
    2023: one column per grid, hours 0–23 as rows (data/grid_hourly_intensity.csv, from Electricity Maps)."""
    return pd.read_csv(GRID_HOURLY).pivot(index="hour", columns="grid", values="gco2_per_kwh")


def start_hours(grid: str, hours: int) -> pd.Series:
    """The mean carbon intensity a job of `hours` whole hours meets on `grid` for each hour it could start at
    (0–23, wrapping past midnight): its emissions are proportional to it."""
    profile = hourly_intensity()
    if grid not in profile.columns:
        raise ValueError(f"unknown grid {grid!r}; data/grid_hourly_intensity.csv has: {', '.join(profile.columns)}")
    check_whole("hours", hours, 1, 24, why="the job's length in hours")
    day = profile[grid].tolist()
    return pd.Series({start: sum(day[(start + h) % 24] for h in range(hours)) / hours for start in range(24)},
                     name=f"{grid}, {hours} h job")
