import csv
import math

import pytest

from greenlab.measurement import energy, uncertainty

J = 3.6e6  # joules per kWh
ESTIMATED = "CPU: estimated (load × TDP 8 W); RAM: estimated (memory-size model)"
RAPL = "CPU: measured (RAPL); RAM: estimated (memory-size model)"


def run(label: str, cpu_j: float, ram_j: float = 0.0, gpu_j: float = math.nan, *, method: str = ESTIMATED,
        seconds: float = 99.0) -> energy.Measurement:
    total = cpu_j + ram_j + (0.0 if math.isnan(gpu_j) else gpu_j)
    return energy.Measurement(label, "USA", duration_s=seconds, energy_kwh=total / J, cpu_kwh=cpu_j / J,
                              ram_kwh=ram_j / J, gpu_kwh=gpu_j / J, method=method, available=True)


def test_every_source_of_error_has_a_citation_a_url_and_a_range_around_the_figure():
    with open(uncertainty.ENERGY_UNCERTAINTY, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert {row["source"] for row in rows} >= set(uncertainty.HOW_OBTAINED.values())  # every method has its row
    assert any(row["kind"] == "random" for row in rows)
    for row in rows:
        assert row["citation"].strip() and row["note"].strip(), row["source"]
        assert row["url"].startswith("https://") and " " not in row["url"], row["source"]
        assert float(row["relative_low"]) <= 0 <= float(row["relative_high"]), row["source"]
        assert row["kind"] in ("systematic", "random") and row["unit"] in ("fraction", "seconds"), row["source"]


@pytest.mark.parametrize("words, source", [("CPU: measured (RAPL)", "cpu_rapl"),
                                           ("CPU: estimated (load × TDP 8 W)", "cpu_load_tdp"),
                                           ("CPU: estimated (constant, half of TDP 65 W)", "cpu_constant"),
                                           ("GPU: measured (NVML)", "gpu_nvml"),
                                           ("RAM: estimated (memory-size model)", "ram_memory_size_model")])
def test_each_way_of_obtaining_energy_gives_its_own_range(words, source):
    joules = {"CPU": (100.0, 0.0, math.nan), "GPU": (0.0, 0.0, 100.0), "RAM": (0.0, 100.0, math.nan)}
    m = run("one part", *joules[words.split(":")[0]], method=words, seconds=99.0)
    row = uncertainty.error_sources()[source]
    sampling_low, sampling_high = -1 / (99 + 1), 0.05 / (99 - 0.05)  # one second too many, 0.05 s too few
    low, high = m.energy_range_j
    assert low == pytest.approx(100 * (1 + row.relative_low) * (1 + sampling_low))
    assert high == pytest.approx(100 * (1 + row.relative_high) * (1 + sampling_high))
    assert uncertainty.obtained(words) == ("measured" if "measured" in words else "estimated")


def test_the_parts_combine_and_the_dynamic_range_matches_the_dynamic_part():
    m = run("mixed", cpu_j=40.0, ram_j=50.0, gpu_j=10.0, method=f"{RAPL}; GPU: measured (NVML)", seconds=1e9)
    low, high = m.range_j("total")
    assert low == pytest.approx(40 * 0.9 + 50 * 0.3 + 10 * 0.95) and high == pytest.approx(40 * 1.1 + 50 * 1.25 + 10.5)
    dynamic_low, dynamic_high = m.range_j("dynamic")
    assert dynamic_low < m.part_j("dynamic") < dynamic_high
    assert (dynamic_low, dynamic_high) == pytest.approx((40 * 0.9 + 10 * 0.95, 40 * 1.1 + 10 * 1.05))
    assert uncertainty.obtained(m.method) == "partly measured"
    with pytest.raises(ValueError, match="an energy part is one of 'total', 'dynamic', got 'static'"):
        m.range_j("static")


def test_a_short_block_has_a_wider_range_than_a_long_one():
    short, long = run("short", 100.0, seconds=1.5), run("long", 100.0, seconds=60.0)
    assert short.energy_range_j[0] < long.energy_range_j[0] and short.energy_range_j[1] > long.energy_range_j[1]
    assert run("no time", 100.0, seconds=math.nan).energy_range_j == (0.0, math.inf)  # its sampling is unbounded


@pytest.mark.parametrize("method", ["unknown", "CPU: vendor tool", "CPU: intel_power_gadget", "not measured"])
def test_an_unknown_method_gets_the_wide_default_and_never_fails(method):
    m = run("odd", 100.0, seconds=1e9, method=method)
    assert m.energy_range_j == pytest.approx((50.0, 200.0))  # UNKNOWN_METHOD: half to twice the figure
    assert uncertainty.obtained(method) == "method unknown" and "method unknown;" in str(m)


def test_energy_the_split_does_not_account_for_gets_the_default():
    m = energy.Measurement("no split", "USA", duration_s=1e9, energy_kwh=100 / J, method=ESTIMATED, available=True)
    assert m.energy_range_j == pytest.approx((50.0, 200.0))


def test_other_words_in_the_method_are_not_hardware():
    method = f"{RAPL}; one tracker per machine, on the whole machine; 2 machine(s)"  # a torchrun job's method
    assert uncertainty.how_obtained(method) == {"CPU": "cpu_rapl", "RAM": "ram_memory_size_model"}
    assert uncertainty.obtained(method) == "partly measured"


def test_a_run_without_energy_has_no_range():
    m = energy.Measurement("failed", "USA", duration_s=1.0, method="unavailable: tracker failed to start")
    assert all(math.isnan(x) for x in m.energy_range_j + m.range_j("dynamic"))


def test_ranges_come_from_stored_fields_so_a_ledger_row_keeps_them():
    m = run("stored", 30.0, 20.0, seconds=4.0)
    assert energy.Measurement.from_row(m.as_row()).energy_range_j == m.energy_range_j


def test_compare_says_which_used_less_beyond_the_ranges():
    less, more = run("fused", 60.0, 100.0), run("naive", 100.0, 100.0)
    found = energy.compare(less, more, "dynamic")
    assert isinstance(found, uncertainty.Comparison) and found.part == "dynamic"
    assert found.ratio == pytest.approx(0.6) and found.low < 0.6 < found.high < 1
    assert found.verdict == "a less than b" and str(found) == found.reason
    assert found.reason.startswith("'fused' / 'naive', dynamic energy: 0.60 (") and "only the random part" in found.reason
    assert energy.compare(more, less, "dynamic").verdict == "b less than a"


def test_figures_obtained_in_different_ways_are_compared_on_their_full_ranges():
    estimated, measured = run("estimated", 80.0), run("measured", 100.0, method=RAPL)
    found = energy.compare(estimated, measured, "dynamic")
    assert found.verdict == "not distinguishable" and found.low < 1 < found.high
    assert "the band holds 1" in found.reason and "full ranges" in found.reason
    assert energy.compare(run("a", 80.0), run("b", 100.0), "dynamic").verdict == "a less than b"  # one method


def test_one_method_on_one_machine_gives_a_tighter_band_than_the_full_ranges():
    a, b = run("a", 60.0, 100.0, seconds=20.0), run("b", 100.0, 80.0, seconds=30.0)
    for part in ("total", "dynamic"):
        shared, full = energy.compare(a, b, part), energy.compare(a, b, part, same_machine=False)
        assert full.low < shared.low <= shared.ratio <= shared.high < full.high
    a_low, a_high = a.range_j("dynamic")
    b_low, b_high = b.range_j("dynamic")
    assert energy.compare(a, b, "dynamic", same_machine=False).low == pytest.approx(a_low / b_high)
    assert energy.compare(a, b, "dynamic", same_machine=False).high == pytest.approx(a_high / b_low)


def test_the_spread_of_repeats_widens_the_band():
    a, b = run("a", 90.0), run("b", 100.0)
    assert energy.compare(a, b, "dynamic").verdict == "a less than b"
    spread = energy.compare(a, b, "dynamic", repeat_spread=0.1)
    assert spread.verdict == "not distinguishable" and spread.low < 0.9 * 0.98 and spread.high > 1


@pytest.mark.parametrize("a, b, error, message", [
    ("a run", run("b", 1.0), TypeError, "compare takes two Measurements or two UseCosts, got a='a run' \\(str\\)"),
    (run("a", 1.0), None, TypeError, "compare takes two Measurements or two UseCosts, got b=None \\(NoneType\\)"),
    (energy.Measurement("failed", "USA", method="unavailable: tracker failed to start"), run("b", 1.0), ValueError,
     "the run 'failed' has no energy measurement \\(unavailable: tracker failed to start\\)"),
    (run("idle", 0.0, 5.0), run("b", 1.0), ValueError, "the run 'idle' has no dynamic energy \\(0 J\\)"),
])
def test_compare_refuses_what_it_cannot_compare_by_name(a, b, error, message):
    with pytest.raises(error, match=message):
        energy.compare(a, b, "dynamic")


@pytest.mark.parametrize("options, error, message", [
    ({"part": "static"}, ValueError, "an energy part is one of 'total', 'dynamic', got 'static'"),
    ({"same_machine": "yes"}, TypeError, "same_machine must be True or False, got 'yes'"),
    ({"repeat_spread": -0.1}, ValueError, "repeat_spread must be a finite number >= 0, got -0.1"),
])
def test_compare_refuses_bad_options_by_name(options, error, message):
    with pytest.raises(error, match=message):
        energy.compare(run("a", 1.0), run("b", 1.0), **options)


def test_describe_names_each_hardwares_range_and_its_basis():
    text = uncertainty.describe("CPU: estimated (load × TDP 8 W); RAM: estimated (memory-size model)")
    sources = uncertainty.error_sources()
    assert text.startswith(f"CPU -40% to +40% ({sources['cpu_load_tdp'].basis}); RAM -70% to +25% "
                           f"({sources['ram_memory_size_model'].basis}); and at each block's end")
    assert uncertainty.describe("CPU: vendor tool").startswith("CPU -50% to +100% (a method the table does not name")
    assert uncertainty.describe("").startswith("-50% to +100%")


def test_compare_of_use_costs_is_per_use():
    long_block, short_block = run("800 tokens", 100.0, seconds=10.0), run("200 tokens", 50.0, seconds=10.0)
    per_use = energy.compare(energy.UseCost(800, long_block), energy.UseCost(200, short_block), "dynamic")
    blocks = energy.compare(long_block, short_block, "dynamic")
    assert per_use.ratio == pytest.approx(0.5) and blocks.ratio == pytest.approx(2.0)  # 1/8 J a token against 1/4 J
    assert (per_use.low, per_use.high) == pytest.approx((blocks.low / 4, blocks.high / 4))
    assert per_use.verdict == "a less than b" and "dynamic energy per use: 0.50 (" in per_use.reason
    with pytest.raises(TypeError, match="compare takes two of a kind, got a UseCost and a Measurement"):
        energy.compare(energy.UseCost(800, long_block), short_block)
