import math
import re

import pytest

from greenlab.measurement import footprint
from greenlab.measurement.energy import Measurement


def test_formulas():
    assert footprint.training_flops(175e9, 300e9) == pytest.approx(3.15e23)
    assert footprint.accelerator_hours(3.6e15, 1e12) == pytest.approx(1.0)
    assert footprint.energy_kwh(10, 300, 1.1) == pytest.approx(3.3)
    assert footprint.co2eq_kg(1000, 429) == pytest.approx(429)


@pytest.mark.parametrize("args", [(0, 1), (-1, 5), (1, math.inf), ("7B", 1), (True, 1)])
def test_bad_inputs_are_clear_errors(args):
    with pytest.raises(ValueError, match="must be a finite number > 0"):
        footprint.training_flops(*args)


def test_sizes_beyond_a_float_are_named_not_blamed_on_flops():
    with pytest.raises(ValueError, match="6 · 1e\\+308 parameters · 1e\\+12 tokens is beyond a float's range"):
        footprint.estimate(parameters=1e308, tokens=1e12)


def test_published_figures_have_sources():
    table = footprint.published_footprints()
    assert {"GPT-3", "BLOOM-176B", "Llama-2-7B"} <= set(table.index)
    assert table["source"].str.contains("arXiv").all()


def test_calculator_reproduces_gpt3_and_bloom():
    table = footprint.published_footprints()
    for model in ["GPT-3", "BLOOM-176B"]:
        p = table.loc[model]
        kwh = footprint.energy_kwh(p.accelerator_hours, p.avg_power_w, p.pue)
        assert kwh / 1000 == pytest.approx(p.reported_energy_mwh, rel=0.01)
        assert footprint.co2eq_kg(kwh, p.grid_gco2_per_kwh) / 1000 == pytest.approx(p.reported_co2eq_t, rel=0.01)
    gpt3 = table.loc["GPT-3"]
    assert footprint.training_flops(gpt3.parameters, gpt3.training_tokens) == pytest.approx(gpt3.reported_flops,
                                                                                            rel=0.01)


def test_estimate_chains_the_formulas_with_datasheet_figures():
    from greenlab.measurement.grid import grid_intensity

    e = footprint.estimate(1e9, 1e10, "NVIDIA A100 80GB", "fra", pue=1.2, utilization=0.5)
    assert e.flops == 6e19 and e.hardware == "A100" and e.country == "FRA"
    assert e.accelerator_hours == pytest.approx(6e19 / (312e12 * 0.5) / 3600)
    assert e.energy_kwh == pytest.approx(e.accelerator_hours * 0.4 * 1.2)
    assert e.co2eq_kg == pytest.approx(e.energy_kwh * grid_intensity("FRA") / 1000)
    assert "A100-hours" in str(e)


def test_estimate_reproduces_bloom_within_ten_percent():
    bloom = footprint.published_footprints().loc["BLOOM-176B"]
    e = footprint.estimate(bloom.parameters, bloom.training_tokens, bloom.hardware, "FRA", pue=1.0)
    assert e.energy_kwh / 1000 == pytest.approx(bloom.reported_energy_mwh, rel=0.1)


@pytest.mark.parametrize("kwargs, message", [
    ({"parameters": 0}, "parameters must be a finite number > 0"),
    ({"tokens": -5}, "tokens must be a finite number > 0"),
    ({"hardware": "TPU v9"}, "the calculator knows: V100, A100, H100, T4, L4"),
    ({"hardware": "NVIDIA L40S"}, "unknown hardware 'NVIDIA L40S'"),
    ({"country": "XYZ"}, "unknown country code 'XYZ'.*codecarbon knows these .*ABW AFG"),
    ({"pue": 0.9}, "at least 1"),
    ({"utilization": 1.5}, r"in \(0, 1\]"),
])
def test_estimate_bad_inputs_list_the_choices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        footprint.estimate(**{"parameters": 1e9, "tokens": 1e10, **kwargs})


def test_hardware_has_sources():
    table = footprint.hardware_table()
    assert table["source"].str.len().min() > 20 and (table["peak_tflops"] > 0).all()


def test_hardware_without_published_power_is_listed_but_not_estimated():
    table = footprint.hardware_table()
    assert {"TPU v4", "TPU v5e"} <= set(table.index) and (table["memory_gb"] > 0).all()
    assert "TPU v4" in footprint.priced_hardware() and "TPU v5e" not in footprint.priced_hardware()
    with pytest.raises(ValueError, match="TPU v5e has no published power.*A100"):
        footprint.estimate(1e9, 1e10, "TPU v5e")


def test_cloud_cost_is_price_per_accelerator_hour_times_hours():
    e = footprint.estimate(7e9, 2e12, "H100", "USA", pue=1.1)
    costs = footprint.cloud_cost(e).set_index("offering")
    assert costs.loc["p5.48xlarge", "usd_per_accelerator_hour"] == pytest.approx(55.04 / 8)
    assert costs.loc["p5.48xlarge", "cost_usd"] == pytest.approx(55.04 / 8 * e.accelerator_hours)
    assert (footprint.cloud_prices()["source"].str.len() > 40).all()
    with pytest.raises(ValueError, match="no shipped cloud price for V100; .*A100, H100, L4"):
        footprint.cloud_cost(footprint.estimate(7e9, 2e12, "V100"))


def test_start_hours_average_the_hours_a_job_covers():
    profile = footprint.hourly_intensity()
    assert list(profile.index) == list(range(24)) and len(profile.columns) == 4
    one_hour = footprint.start_hours("France", 1)
    assert one_hour.tolist() == pytest.approx(profile["France"].tolist())
    three = footprint.start_hours("Germany", 3)
    assert three[23] == pytest.approx((profile["Germany"][23] + profile["Germany"][0] + profile["Germany"][1]) / 3)
    whole_day = footprint.start_hours("Germany", 24)  # a whole day meets the daily mean at any start
    assert whole_day.max() - whole_day.min() < 1e-9
    with pytest.raises(ValueError, match="unknown grid 'Mars'.*France"):
        footprint.start_hours("Mars", 2)
    with pytest.raises(ValueError, match=re.escape("hours must be a whole number from 1 to 24 (the job's length in hours), got 30")):
        footprint.start_hours("France", 30)


def test_published_inference_figure_has_its_source_hardware_and_method():
    table = footprint.published_inference()
    generation = table.loc["text generation"]
    assert generation.kwh_per_1000_queries == 0.047
    assert generation.joules_per_1000_queries == pytest.approx(0.047 * 3.6e6)
    assert "A100" in generation.hardware and "CodeCarbon" in generation.method
    assert "Power Hungry Processing" in generation.source and "doi:" in generation.source


def measured_block(method: str = "CPU: estimated (load × TDP 8 W); RAM: estimated (memory-size model)",
                   duration_s: float = 0.5) -> Measurement:
    """A block that took `duration_s` seconds: 4 J dynamic (CPU), 6 J static (the RAM model)."""
    return Measurement("matmul", "USA", duration_s=duration_s, energy_kwh=10 / 3.6e6, cpu_kwh=4 / 3.6e6,
                       ram_kwh=6 / 3.6e6, method=method)


def test_energy_per_flop_puts_the_cpu_dynamic_part_beside_the_datasheets():
    table = footprint.energy_per_flop(measured_block(), 1e11)
    assert list(table.columns) == ["TFLOP/s", "watts", "pJ per FLOP", "source", "memory (GB)"]
    assert list(table.index) == ["this CPU (estimated, dynamic part)", *footprint.hardware_table().index]
    cpu = table.loc["this CPU (estimated, dynamic part)"]
    assert cpu["TFLOP/s"] == pytest.approx(1e11 / 0.5 / 1e12, rel=1e-12)  # 0.2
    assert cpu["watts"] == pytest.approx(4 / 0.5, rel=1e-12)  # the dynamic 4 J alone, not the RAM model's 6 J
    assert cpu["pJ per FLOP"] == pytest.approx(4 / 1e11 * 1e12, rel=1e-12)  # 40
    assert cpu["source"].startswith("CPU: estimated") and math.isnan(cpu["memory (GB)"])
    a100 = table.loc["A100"]  # data/hardware.csv: 312 TFLOP/s peak, 400 W, 80 GB; at 30 % of the peak
    assert a100["TFLOP/s"] == pytest.approx(312 * 0.3) and a100["watts"] == 400 and a100["memory (GB)"] == 80
    assert a100["pJ per FLOP"] == pytest.approx(400 / (312e12 * 0.3) * 1e12)
    assert math.isnan(table.loc["TPU v5e", "pJ per FLOP"])  # no published power


def test_energy_per_flop_names_a_measured_cpu():
    table = footprint.energy_per_flop(measured_block("CPU: measured (RAPL); RAM: measured (RAPL)"), 1e11)
    assert table.index[0] == "this CPU (measured, dynamic part)"


@pytest.mark.parametrize("flops", [0, -1e9, math.nan, "1e11", True])
def test_energy_per_flop_needs_a_positive_flop_count(flops):
    with pytest.raises(ValueError, match=f"flops must be a finite number > 0, got {re.escape(repr(flops))}"):
        footprint.energy_per_flop(measured_block(), flops)


def test_energy_per_flop_needs_a_measurement_that_measured():
    with pytest.raises(TypeError, match=r"cpu must be a Measurement .*got 7\.5"):
        footprint.energy_per_flop(7.5, 1e11)
    with pytest.raises(ValueError, match="the duration of 'matmul' must be a finite number > 0.*got 0"):
        footprint.energy_per_flop(measured_block(duration_s=0.0), 1e11)
    with pytest.raises(ValueError, match="the dynamic energy of 'failed' must be a finite number >= 0.*got nan"):
        footprint.energy_per_flop(Measurement("failed", "USA", duration_s=1.0), 1e11)


def test_estimates_against_published_has_one_row_per_published_run():
    comparison = footprint.estimates_against_published()
    assert list(comparison.index) == list(footprint.published_footprints().index)
    assert list(comparison.columns) == ["estimated hours (M)", "published hours (M)", "estimated MWh", "published MWh",
                                        "ratio", "implied utilization", "published power (W)", "datasheet TDP (W)"]
    # Llama-2-7B's CSV row: 7e9 parameters, 2e12 tokens, A100 (312 TFLOP/s, 400 W), 184,320 GPU-hours at 400 W, no
    # PUE (so 1.0) and no energy (so hours × power)
    llama = comparison.loc["Llama-2-7B"]
    estimated_hours = 6 * 7e9 * 2e12 / (312e12 * 0.3) / 3600
    assert llama["estimated hours (M)"] == pytest.approx(estimated_hours / 1e6)
    assert llama["published MWh"] == pytest.approx(184320 * 400 / 1e6)
    assert llama["ratio"] == pytest.approx(estimated_hours * 400 / 1e6 / (184320 * 400 / 1e6))
    assert llama["implied utilization"] == pytest.approx(6 * 7e9 * 2e12 / (184320 * 3600 * 312e12))
    gpt3 = comparison.loc["GPT-3"]  # a published energy and PUE are used as published
    assert gpt3["published MWh"] == 1287 and gpt3["published power (W)"] == 330 and gpt3["datasheet TDP (W)"] == 300
    assert gpt3["estimated MWh"] == pytest.approx(6 * 175e9 * 300e9 / (125e12 * 0.3) / 3600 * 300 * 1.1 / 1e6)
