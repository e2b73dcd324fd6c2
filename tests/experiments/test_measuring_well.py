import time
from contextlib import contextmanager

import pytest

from greenlab.experiments import measuring_well
from greenlab.experiments.measuring_well import cost_of_uses, idle_power, net_joules, repeat, spread, tracker_overhead
from greenlab.measurement import ledger
from greenlab.measurement.energy import Measurement


def test_idle_power_is_the_energy_of_a_measured_sleep_divided_by_its_duration(cache):
    watts = idle_power(0.1)  # sleeps 0.1 + 0.5 s inside one measured block
    rows = ledger.load()
    assert rows["label"].tolist() == ["idle baseline, 0.6 s"] and rows["available"].tolist() == [True]
    row = rows.iloc[0]
    assert row["duration_s"] >= 0.6
    assert watts > 0 and watts == pytest.approx(row["energy_j"] / row["duration_s"], rel=1e-6)


def test_net_joules_subtracts_the_idle_floor():
    m = Measurement("x", "USA", duration_s=2.0, energy_kwh=10 / 3.6e6)
    assert net_joules(m, idle_watts=3.0) == pytest.approx(4.0)


def test_repeat_measures_each_call_in_its_own_block(cache):
    inside = []

    def work():
        start = time.perf_counter()
        time.sleep(0.12)
        inside.append(time.perf_counter() - start)

    runs = repeat(work, "sleep", runs=3)
    assert len(inside) == 3  # one call per run, no more
    assert [m.label for m in runs] == ["sleep (1/3)", "sleep (2/3)", "sleep (3/3)"]
    assert all(m.available and m.duration_s >= seconds for m, seconds in zip(runs, inside))
    rows = ledger.load()
    assert rows["label"].tolist() == [m.label for m in runs]
    assert rows["duration_s"].tolist() == pytest.approx([m.duration_s for m in runs])
    assert spread(runs)["mean_s"] == pytest.approx(sum(m.duration_s for m in runs) / 3)
    with pytest.raises(ValueError, match=r"runs must be a whole number >= 2 \(a spread needs at least 2 runs\), got 1"):
        repeat(lambda: None, "once", runs=1)
    with pytest.raises(ValueError, match="seconds must be a finite number > 0, got"):
        idle_power(0)


def test_spread_is_the_mean_and_sample_standard_deviation():
    runs = [Measurement("r", "USA", duration_s=s, energy_kwh=j / 3.6e6) for s, j in ((1, 10), (2, 20), (6, 30))]
    summary = spread(runs)
    assert summary["mean_j"] == pytest.approx(20)  # (10 + 20 + 30) / 3
    assert summary["std_j"] == pytest.approx(10)  # sqrt((10² + 0² + 10²) / (3 - 1)): the sample deviation
    assert summary["cv"] == pytest.approx(0.5)  # 10 / 20
    assert summary["mean_s"] == pytest.approx(3)  # (1 + 2 + 6) / 3
    assert summary["std_s"] == pytest.approx(7 ** 0.5)  # sqrt((2² + 1² + 3²) / 2)


def test_tracker_overhead_times_every_variant(cache):
    times = tracker_overhead(lambda: time.sleep(0.01), rounds=1)
    assert set(times) == {"bare", "measure()", "measure(count_flops=True)"}
    assert times["measure()"] >= times["bare"]


def test_cost_of_uses_counts_every_use_of_whole_calls(cache):
    calls = []

    def serve() -> int:  # three uses per call
        calls.append(1)
        time.sleep(0.02)
        return 3

    cost = cost_of_uses(serve, "serve", runs=3, min_seconds=0.1)
    assert ledger.load()["label"].tolist() == ["serve (1/3)", "serve (2/3)", "serve (3/3)"]
    assert cost.uses % 3 == 0 and cost.uses >= 3 * 5  # whole calls of 20 ms, for at least 0.1 s
    assert len(calls) >= 1 + 3 * 5  # the warm-up call, then at least 5 calls in each run
    assert cost.measurement.duration_s >= 0.1
    assert cost.seconds_per_1000 == pytest.approx(cost.measurement.duration_s / cost.uses * 1000)
    assert cost.joules_per_1000 == pytest.approx(cost.measurement.energy_j / cost.uses * 1000)
    assert cost.dynamic_joules_per_1000 == pytest.approx(cost.measurement.dynamic_j / cost.uses * 1000)


def test_cost_of_uses_keeps_the_run_with_the_median_dynamic_energy_per_use(monkeypatch):
    cpu_joules = iter([9.0, 1.0, 4.0])  # per run; each run serves one call of 2 uses

    @contextmanager
    def fake_measure(label):
        m = Measurement(label, "USA")
        yield m
        m.cpu_kwh = m.energy_kwh = next(cpu_joules) / 3.6e6

    monkeypatch.setattr(measuring_well, "measure", fake_measure)
    cost = cost_of_uses(lambda: 2, "fake", runs=3, min_seconds=1e-9)
    assert cost.uses == 2 and cost.measurement.label == "fake (3/3)"
    assert cost.dynamic_joules_per_1000 == pytest.approx(4.0 / 2 * 1000)


@pytest.mark.parametrize("kwargs, message", [({"runs": 2}, "odd whole number"), ({"runs": 0}, "runs must be a whole number >= 1 .an odd number"),
                                             ({"min_seconds": 0}, "min_seconds must be a finite number > 0")])
def test_cost_of_uses_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cost_of_uses(lambda: 1, "x", **kwargs)


@pytest.mark.parametrize("served", [0, None, 1.5, True])
def test_cost_of_uses_needs_the_number_of_uses_served(cache, served):
    with pytest.raises(ValueError, match=f"got {served!r}"):
        cost_of_uses(lambda: served, "bad", runs=1, min_seconds=0.01)


def test_repeat_interleaved_measures_in_turn_after_a_warm_up(cache):
    calls = []
    runs = measuring_well.repeat_interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                             "turns", runs=3)
    assert calls == ["a", "b"] * 4  # one unmeasured warm-up round, then three measured rounds in turn
    assert [m.label for m in runs["a"]] == [f"turns: a ({n}/3)" for n in (1, 2, 3)]
    assert ledger.load()["label"].tolist() == [f"turns: {name} ({n}/3)" for n in (1, 2, 3) for name in "ab"]
    with pytest.raises(ValueError, match="runs must be a whole number >= 1, got 0"):
        measuring_well.repeat_interleaved({"a": lambda: None}, "none", runs=0)


def test_median_run_is_the_middle_of_the_dynamic_energies():
    runs = [Measurement(str(j), "USA", duration_s=1.0, energy_kwh=j / 3.6e6, cpu_kwh=j / 3.6e6) for j in (5, 1, 9)]
    assert measuring_well.median_run(runs).label == "5"
    assert measuring_well.median_run(runs[:2]).label == "5"  # of two, the higher
    with pytest.raises(ValueError, match="at least one"):
        measuring_well.median_run([])


def test_repeat_with_idle_takes_an_idle_floor_before_each_run(cache):
    order = []
    runs, idle_watts = measuring_well.repeat_with_idle(lambda: order.append(time.perf_counter()), "work", runs=2,
                                                       idle_seconds=0.05)
    assert len(runs) == len(idle_watts) == 2 and len(order) == 2  # no warm-up call: each run follows its idle block
    idle_rows = ledger.load().query("label.str.startswith('work: idle')")
    assert idle_watts == pytest.approx((idle_rows["energy_j"] / idle_rows["duration_s"]).tolist())
    assert all(row >= 0.55 for row in idle_rows["duration_s"])  # 0.05 s asked + the 0.5 s off the tracker's samples


@pytest.mark.parametrize("runs, message", [
    ([], "needs at least 2 measurements, got 0"),
    ([Measurement("x", "USA", energy_kwh=1e-6)], "needs at least 2 measurements, got 1"),
    # a tracker that failed leaves the energy NaN: once an AttributeError from inside `statistics`
    ([Measurement("a", "USA", duration_s=1.0, energy_kwh=1e-6), Measurement("b", "USA", duration_s=1.0,
                                                                           method="unavailable: tracker failed")],
     "'b' has no energy measurement .unavailable: tracker failed."),
])
def test_spread_needs_two_measured_energies(runs, message):
    with pytest.raises(ValueError, match=message):
        spread(runs)


def test_spread_of_zero_energies_has_no_coefficient_of_variation():
    runs = [Measurement("x", "USA", duration_s=1.0, energy_kwh=0.0) for _ in range(2)]
    summary = spread(runs)  # once a ZeroDivisionError
    assert summary["mean_j"] == summary["std_j"] == 0 and summary["cv"] != summary["cv"]  # NaN: undefined
