import math
import re
import time

import pytest
import torch

from greenlab.measurement import energy, grid, ledger, timing


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
    low, high = m.energy_range_j
    assert 0 <= low <= m.energy_j <= high
    assert f"{energy.format_energy(m.energy_j)} ({energy.format_energy_range(low, high)}, " in text


def test_grid_intensity_is_the_one_applied(cache):
    with energy.measure("grid", country="fra") as m:
        sum(range(100_000))
    assert m.country == "FRA"
    assert math.isclose(m.grid_gco2_per_kwh, grid.grid_intensity("FRA"), rel_tol=1e-3)
    assert grid.grid_intensity("SWE") < grid.grid_intensity("IND")


def test_unknown_country_is_a_clear_error(cache):
    with pytest.raises(ValueError, match="unknown country code 'XX'.*USA, FRA"):
        with energy.measure("nowhere", country="xx"):
            pass


def test_a_failing_tracker_still_times_the_block_counts_its_flops_and_reports_no_energy(cache, monkeypatch):
    def broken(*args):
        raise RuntimeError("no sensors")

    monkeypatch.setattr(energy, "_start_tracker", broken)
    with pytest.warns(UserWarning, match="energy tracker failed to start \\(no sensors\\); 'still runs' is timed"):
        with energy.measure("still runs", count_flops=True) as m:
            inside = time.perf_counter()
            product = torch.ones(3, 4) @ torch.ones(4, 5)
            time.sleep(0.05)
            inside = time.perf_counter() - inside
    assert product.sum() == 3 * 5 * 4  # the block ran, once
    assert m.duration_s >= inside >= 0.05  # the measured interval encloses the block's own
    assert m.flops == 2 * 3 * 4 * 5  # FLOPs are counted without the tracker
    assert not m.available and m.method == "unavailable: tracker failed to start (RuntimeError)"
    assert all(math.isnan(x) for x in (m.energy_kwh, m.cpu_kwh, m.ram_kwh, m.gpu_kwh, m.co2eq_kg))  # none invented
    assert str(m) == f"still runs: {m.duration_s:.2f} s · energy unavailable [{m.method}] · 120 FLOP"
    row = ledger.load().iloc[-1]
    assert len(ledger.load()) == 1 and row["label"] == "still runs" and not row["available"]
    assert row["duration_s"] == pytest.approx(m.duration_s) and row["flops"] == 120


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


def test_machine_scope_has_the_tracker_read_the_whole_machine_and_the_default_this_process(cache, monkeypatch):
    trackers = []
    start_tracker = energy._start_tracker
    monkeypatch.setattr(energy, "_start_tracker", lambda *args: trackers.append(start_tracker(*args)) or trackers[-1])
    with energy.measure("whole machine", scope="machine", record=False) as machine:
        pass
    with energy.measure("this process", record=False) as process:
        pass
    # codecarbon's CPU and RAM models read the load and memory of the machine, or of this process and its children
    modes = [(tracker.final_emissions_data.tracking_mode,
              {hardware._tracking_mode for hardware in tracker._hardware if hasattr(hardware, "_tracking_mode")})
             for tracker in trackers]
    assert modes == [("machine", {"machine"}), ("process", {"process"})]
    for tracker, m in zip(trackers, (machine, process)):
        assert m.available and m.energy_kwh == tracker.final_emissions_data.energy_consumed
    assert ledger.load().empty


def test_static_and_dynamic_parts_add_up_to_the_total():
    m = energy.Measurement("split", "USA", duration_s=10.0, energy_kwh=30 / 3.6e6, cpu_kwh=8 / 3.6e6,
                           ram_kwh=20 / 3.6e6, gpu_kwh=2 / 3.6e6, co2eq_kg=1e-6, available=True)
    assert math.isclose(m.static_j, 20) and math.isclose(m.dynamic_j, 10)
    assert math.isclose(m.static_share, 2 / 3) and m.comparable_part == "dynamic"
    assert "static 20 J, dynamic 10 J" in str(m)
    row = m.as_row()
    assert math.isclose(row["static_j"], 20) and math.isclose(row["dynamic_j"], 10)
    mostly_work = energy.Measurement("work", "USA", energy_kwh=30 / 3.6e6, cpu_kwh=25 / 3.6e6, ram_kwh=5 / 3.6e6,
                                     gpu_kwh=math.nan)
    assert math.isclose(mostly_work.dynamic_j, 25) and mostly_work.comparable_part == "total"
    assert math.isclose(m.part_j("dynamic"), 10) and math.isclose(m.part_j("total"), 30)
    with pytest.raises(ValueError, match="an energy part is one of 'total', 'dynamic', got 'static'"):
        m.part_j("static")


def test_a_measurement_prints_the_range_of_its_energy_and_how_it_was_obtained():
    method = "CPU: estimated (load × TDP 8 W); RAM: estimated (memory-size model)"
    m = energy.Measurement("serve", "USA", duration_s=4.0, energy_kwh=32.5 / 3.6e6, cpu_kwh=12.5 / 3.6e6,
                           ram_kwh=20 / 3.6e6, gpu_kwh=0.0, co2eq_kg=1e-5, method=method, available=True)
    # CPU 12.5 J ± 40 %, RAM 20 J -70 %..+25 %, then the sampling of a 4 s block: one second too many, 0.05 s too few
    assert m.energy_range_j == pytest.approx(((7.5 + 6) * (1 - 1 / 5), (17.5 + 25) * (1 + 0.05 / 3.95)))
    assert str(m) == (f"serve: 4.00 s · 32.5 J (10.8–43 J, estimated; static 20 J, dynamic 12.5 J) [{method}] · "
                      f"10 mg CO2eq (USA, 1108 g/kWh)")
    assert energy.format_energy_range(800, 1234) == "0.8–1.23 kJ"


def test_a_use_cost_is_the_measured_block_per_use():
    m = energy.Measurement("serve", "USA", duration_s=4.0, energy_kwh=30 / 3.6e6, cpu_kwh=10 / 3.6e6,
                           ram_kwh=20 / 3.6e6, gpu_kwh=math.nan, available=True)
    cost = energy.UseCost(uses=8, measurement=m)
    assert cost.uses_per_s == 2.0 and cost.seconds_per_1000 == 500.0
    assert math.isclose(cost.joules_per_1000, 3750) and math.isclose(cost.dynamic_joules_per_1000, 1250)
    assert cost.per_1000(m.comparable_part) == cost.per_1000("dynamic") == cost.dynamic_joules_per_1000
    assert cost.per_1000("total") == cost.joules_per_1000


def test_a_measured_block_reports_both_parts(cache):
    with energy.measure("both parts") as m:  # longer than the tracker's resolution (0.1 s)
        a, start = torch.randn(256, 256), time.perf_counter()
        while time.perf_counter() - start < 0.3:
            a @ a
    assert m.static_j > 0 and m.dynamic_j > 0
    assert math.isclose(m.static_j + m.dynamic_j, m.energy_j, rel_tol=1e-6)
    shown = ledger.table().iloc[-1]
    assert math.isclose(shown["static (J)"], m.static_j, rel_tol=1e-6)
    assert math.isclose(shown["dynamic (J)"], m.dynamic_j, rel_tol=1e-6)


def test_grid_mix_shares_add_up_and_explain_the_intensity():
    for country in ("FRA", "DEU", "IND"):
        assert sum(grid.grid_mix(country).values()) == pytest.approx(1, abs=0.01)
    france, india = grid.grid_mix("fra"), grid.grid_mix("IND")
    assert france["nuclear"] > 0.5 and india["coal"] > 0.5
    assert grid.grid_intensity("FRA") < grid.grid_intensity("IND")
    with pytest.raises(ValueError, match="unknown country code 'XX'"):
        grid.grid_mix("xx")


def test_an_unwritable_ledger_keeps_the_measurement(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GREENLAB_CACHE", str(blocker))
    with pytest.warns(UserWarning, match=r"'kept' is measured but not in the green ledger.*a file"):
        with energy.measure("kept") as m:
            result = sum(range(1000))
    assert result == 499500 and m.available and m.duration_s >= 0


def test_an_empty_cache_setting_is_a_clear_error(monkeypatch):
    from greenlab.foundations import settings

    monkeypatch.setenv("GREENLAB_CACHE", " ")
    with pytest.raises(ValueError, match="GREENLAB_CACHE is set but empty"):
        settings.cache_dir()


def test_median_seconds_calls_the_functions_in_turn_and_keeps_each_median():
    calls = []

    def short() -> None:
        calls.append("short")
        time.sleep(0.002)

    def long() -> None:
        calls.append("long")
        time.sleep(0.02)

    seconds = timing.median_seconds({"short": short, "long": long}, rounds=3)
    assert calls == ["short", "long"] * 4  # one warm-up each, then three rounds, interleaved
    assert set(seconds) == {"short", "long"}
    assert 0.002 <= seconds["short"] and 0.02 <= seconds["long"]  # a sleep never ends early


def test_interleaved_seconds_warms_up_as_asked_and_keeps_every_timed_call():
    calls = []
    seconds = timing.interleaved_seconds({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=2,
                                         warmup=3)
    assert calls == ["a", "b"] * 5  # three warm-up rounds, then two timed ones
    assert [len(seconds["a"]), len(seconds["b"])] == [2, 2] and all(s >= 0 for s in seconds["a"] + seconds["b"])
    timed = timing.interleaved_seconds({"a": lambda: calls.append("a")}, rounds=1, warmup=0)
    assert len(timed["a"]) == 1 and len(calls) == 11  # no warm-up: the one call is the timed one
    with pytest.raises(ValueError, match="warmup must be a whole number >= 0, got -1"):
        timing.interleaved_seconds({"a": lambda: None}, rounds=1, warmup=-1)


@pytest.mark.parametrize("rounds", [0, -1, 2.5])
def test_median_seconds_refuses_a_round_count_by_name(rounds):
    with pytest.raises(ValueError, match=re.escape(repr(rounds))):
        timing.median_seconds({"nothing": lambda: None}, rounds=rounds)


def test_repeat_for_repeats_whole_calls_until_the_time_and_totals_their_units():
    units, seconds = timing.repeat_for(lambda: time.sleep(0.01) or 3, min_seconds=0.05)
    assert units % 3 == 0 and units >= 3 * 5 and seconds >= 0.05  # a sleep never ends early: at least five calls
    assert timing.repeat_for(lambda: 7, min_seconds=1e-9)[0] >= 7  # at least one call, however short the time


@pytest.mark.parametrize("returned", [0, -2, True, 1.5, None])
def test_repeat_for_refuses_work_that_does_not_say_how_much_it_did(returned):
    with pytest.raises(ValueError, match=re.escape(repr(returned))):
        timing.repeat_for(lambda: returned, min_seconds=0.01)


def test_repeat_for_refuses_a_time_that_is_not_positive():
    with pytest.raises(ValueError, match="min_seconds must be a finite number > 0, got 0"):
        timing.repeat_for(lambda: 1, min_seconds=0)


@pytest.mark.parametrize("call", [lambda: grid.check_country(None), lambda: grid.grid_intensity(5),
                                  lambda: grid.grid_mix(["FRA"]), lambda: energy.measure("x", country=5).__enter__()])
def test_a_country_that_is_not_text_is_a_clear_error(call):
    with pytest.raises(ValueError, match="a country is an ISO 3166-1 alpha-3 code as text"):
        call()  # once an AttributeError: 'NoneType' object has no attribute 'strip'
