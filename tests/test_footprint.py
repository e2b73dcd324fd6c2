import math

import pytest

from greenlab import footprint


def test_formulas():
    assert footprint.training_flops(175e9, 300e9) == pytest.approx(3.15e23)
    assert footprint.accelerator_hours(3.6e15, 1e12) == pytest.approx(1.0)
    assert footprint.energy_kwh(10, 300, 1.1) == pytest.approx(3.3)
    assert footprint.co2eq_kg(1000, 429) == pytest.approx(429)


@pytest.mark.parametrize("args", [(0, 1), (-1, 5), (1, math.inf), ("7B", 1), (True, 1)])
def test_bad_inputs_are_clear_errors(args):
    with pytest.raises(ValueError, match="must be a positive number"):
        footprint.training_flops(*args)


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
