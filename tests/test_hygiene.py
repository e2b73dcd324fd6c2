import time

import pytest

from greenlab.energy import Measurement
from greenlab.hygiene import idle_power, net_joules, repeat, spread, tracker_overhead


def test_idle_power_is_the_energy_of_sleeping(cache):
    watts = idle_power(0.3)
    assert watts > 0


def test_net_joules_subtracts_the_idle_floor():
    m = Measurement("x", "USA", duration_s=2.0, energy_kwh=10 / 3.6e6)
    assert net_joules(m, idle_watts=3.0) == pytest.approx(4.0)


def test_repeat_and_spread(cache):
    runs = repeat(lambda: time.sleep(0.12), "sleep", runs=3)
    assert [m.label for m in runs] == ["sleep (1/3)", "sleep (2/3)", "sleep (3/3)"]
    summary = spread(runs)
    assert summary["mean_s"] == pytest.approx(0.12, abs=0.05) and summary["cv"] >= 0
    with pytest.raises(ValueError, match="at least 2 runs"):
        repeat(lambda: None, "once", runs=1)
    with pytest.raises(ValueError, match="seconds must be > 0"):
        idle_power(0)


def test_tracker_overhead_times_every_variant(cache):
    times = tracker_overhead(lambda: time.sleep(0.01), rounds=1)
    assert set(times) == {"bare", "measure()", "measure(count_flops=True)"}
    assert times["measure()"] >= times["bare"]
