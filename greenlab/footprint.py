"""Back-of-envelope training footprint of a language model, and the published figures to check it against.

    FLOPs        C ≈ 6 · N · D          (N parameters, D training tokens: 2 for the forward pass, 4 backward)
    hours        C / achieved FLOP/s    (per accelerator; achieved = peak × utilisation)
    energy       hours × power × PUE    (PUE: the data centre's overhead for cooling and power delivery)
    CO2eq        energy × grid carbon intensity
"""

from __future__ import annotations

import math
import numbers

import pandas as pd

from greenlab.settings import DATA_DIR

PUBLISHED_FOOTPRINTS = DATA_DIR / "published_footprints.csv"


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")


def training_flops(n_params: float, n_tokens: float) -> float:
    """Training compute C ≈ 6·N·D floating-point operations (Kaplan et al. 2020)."""
    _positive(n_params=n_params, n_tokens=n_tokens)
    return 6 * n_params * n_tokens


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
