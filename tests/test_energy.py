import math

import pytest
import torch

from greenlab import energy, ledger


def test_measure_gives_time_energy_co2_and_the_method(cache):
    with energy.measure("matmul", count_flops=True) as m:
        a = torch.randn(64, 64)
        for _ in range(10):
            a @ a
    assert m.available and m.duration_s > 0
    assert m.energy_kwh > 0 and math.isclose(m.energy_j, m.energy_kwh * 3.6e6)
    assert math.isclose(m.energy_kwh, m.cpu_kwh + m.ram_kwh + m.gpu_kwh, rel_tol=1e-6)
    assert m.co2eq_kg > 0 and m.country == "USA"
    assert m.flops == 10 * 2 * 64**3
    assert "CPU:" in m.method and ("measured" in m.method or "estimated" in m.method)
    text = str(m)
    assert energy.Measurement.from_row(m.as_row()) == m
    assert m.method in text and "CO2eq" in text and "MFLOP" in text


def test_grid_intensity_is_the_one_applied(cache):
    with energy.measure("grid", country="fra") as m:
        sum(range(100_000))
    assert m.country == "FRA"
    assert math.isclose(m.grid_gco2_per_kwh, energy.grid_intensity("FRA"), rel_tol=1e-3)
    assert energy.grid_intensity("SWE") < energy.grid_intensity("IND")


def test_unknown_country_is_a_clear_error(cache):
    with pytest.raises(ValueError, match="unknown country code 'XX'.*USA, FRA"):
        with energy.measure("nowhere", country="xx"):
            pass


def test_a_failing_tracker_keeps_the_work_and_warns(cache, monkeypatch):
    def broken(*args):
        raise RuntimeError("no sensors")

    monkeypatch.setattr(energy, "_start_tracker", broken)
    with pytest.warns(UserWarning, match="failed to start"):
        with energy.measure("still runs") as m:
            result = 6 * 7
    assert result == 42 and not m.available and m.duration_s >= 0
    assert "unavailable" in str(m)
    assert ledger.load()["available"].tolist() == [False]


def test_an_error_in_the_block_propagates_and_is_not_recorded(cache):
    with pytest.raises(ZeroDivisionError):
        with energy.measure("fails"):
            1 / 0
    assert ledger.load().empty


def test_count_flops_returns_the_result_and_the_count():
    result, flops = energy.count_flops(lambda: torch.ones(3, 4) @ torch.ones(4, 5))
    assert result.shape == (3, 5) and flops == 2 * 3 * 4 * 5


def test_formatting():
    assert energy.format_energy(12.5) == "12.5 J"
    assert energy.format_energy(4500) == "4.5 kJ"
    assert energy.format_energy(7.2e6) == "2 kWh"
    assert energy.format_mass(552_000) == "552 t"
    assert energy.format_mass(2e-6) == "2 mg"
    assert energy.format_flops(3.14e23) == "3.14e+05 EFLOP"
    assert energy.format_flops(2.5e9) == "2.5 GFLOP"


def test_the_tracker_writes_no_files(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with energy.measure("quiet", record=False) as m:
        pass
    assert m.available
    assert [p.name for p in tmp_path.iterdir() if p.name != "cache"] == []


def test_scope_is_process_or_machine(cache):
    with pytest.raises(ValueError, match="scope must be 'process' or 'machine'"):
        with energy.measure("bad", scope="everything"):
            pass
