"""The electricity grid behind a measurement: a country's carbon intensity and generation mix (codecarbon's data)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _grid_data() -> dict[str, dict]:
    from codecarbon.input import DataSource

    return DataSource().get_global_energy_mix_data()


def check_country(code: str) -> str:
    """The upper-cased code, or a ValueError with examples when it is not text or codecarbon has no grid data for it."""
    if not isinstance(code, str):
        raise ValueError(f"a country is an ISO 3166-1 alpha-3 code as text, such as 'USA' or 'FRA', got {code!r}")
    code = code.strip().upper()
    if code not in _grid_data():
        raise ValueError(f"unknown country code {code!r}: use an ISO 3166-1 alpha-3 code such as "
                         f"USA, FRA, DEU, GBR, IND, CHN, SWE or BRA; codecarbon knows these "
                         f"{len(_grid_data())}: {' '.join(sorted(_grid_data()))}")
    return code


def grid_intensity(country: str) -> float:
    """Carbon intensity of a country's electricity in gCO2eq/kWh, from codecarbon's energy-mix data."""
    return _grid_data()[check_country(country)]["carbon_intensity"]


GENERATION_SOURCES = {"solar": "solar_TWh", "wind": "wind_TWh", "hydro": "hydroelectricity_TWh",
                      "nuclear": "nuclear_TWh", "other renewables": "other_renewable_TWh", "gas": "gas_TWh",
                      "coal": "coal_TWh", "oil": "oil_TWh"}


def grid_mix(country: str) -> dict[str, float]:
    """The share of each source in a country's electricity generation (codecarbon's data: Our World in Data, after
    Ember and the Energy Institute), the mix behind its carbon intensity."""
    row = _grid_data()[check_country(country)]
    return {source: row[column] / row["total_TWh"] for source, column in GENERATION_SOURCES.items()}
