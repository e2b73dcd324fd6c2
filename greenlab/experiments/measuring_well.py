"""Measuring well: an idle baseline to subtract, repeated runs with their spread, and the tracker's own cost.

    idle = idle_power(2.0)                       # what the machine draws doing nothing, in watts
    runs = repeat(work, "matmul", runs=5)        # five measurements of the same work
    print(spread(runs))                          # mean, standard deviation, coefficient of variation (J)
    net_joules(runs[0], idle)                    # energy of the work alone: minus idle power × its duration
    runs, idles = repeat_with_idle(work, "matmul")   # each run just after an idle block of its own
    median_run(repeat_interleaved({"greedy": a, "beam": b}, "decoding")["beam"])   # compared in turn, not apart
    cost_of_uses(answer_all, "answer 63 questions").joules_per_1000   # a service's energy per 1,000 uses

An energy tracker reports everything drawn while a block runs, including an idle floor that the work did not
cause: with hardware counters (RAPL), the static power of the CPU package and memory; under codecarbon's estimate,
its RAM model's constant watts, which `Measurement.static_j` also reports. Single runs are noisy: report a mean
with its spread. And measuring is itself work: `tracker_overhead` times the same workload bare and inside `measure`.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Callable

from greenlab.measurement.energy import Measurement, UseCost, measure
from greenlab.measurement.timing import median_seconds, repeat_for
from greenlab.foundations.validation import check_number, check_whole


def idle_power(seconds: float = 2.0) -> float:
    """Average watts while this process sleeps for about `seconds` (the floor every measurement includes).

    The sleep lasts half a second more than asked: codecarbon samples every second, and a block that ends on a
    sample can have its last second counted twice (its sampler and `stop()` both read it), which a sleep of a whole
    number of seconds always does."""
    check_number("seconds", seconds, above=0)
    with measure(f"idle baseline, {seconds + 0.5:g} s") as m:
        time.sleep(seconds + 0.5)
    return m.energy_j / m.duration_s


def net_joules(m: Measurement, idle_watts: float) -> float:
    """The measured energy minus what the idle machine would have drawn during the same time."""
    return m.energy_j - idle_watts * m.duration_s


def repeat(fn: Callable[[], object], label: str, runs: int = 5) -> list[Measurement]:
    """`runs` separate measurements of `fn()`, each a row of the ledger."""
    check_whole("runs", runs, minimum=2, why="a spread needs at least 2 runs")
    measurements = []
    for run in range(runs):
        with measure(f"{label} ({run + 1}/{runs})") as m:
            fn()
        measurements.append(m)
    return measurements


def repeat_interleaved(functions: dict[str, Callable[[], object]], label: str, runs: int = 3,
                       warmup: int = 1) -> dict[str, list[Measurement]]:
    """`runs` measurements of each function, each a row of the ledger, taken in turn (round after round) after
    `warmup` unmeasured calls each (first calls pay for allocations and caches): a busy spell of the machine, another
    program starting, falls on every function alike. Compare their `median_run`s, not runs taken minutes apart."""
    check_whole("runs", runs)
    check_whole("warmup", warmup, minimum=0)
    for _ in range(warmup):
        for fn in functions.values():
            fn()
    measured: dict[str, list[Measurement]] = {name: [] for name in functions}
    for run in range(runs):
        for name, fn in functions.items():
            with measure(f"{label}: {name} ({run + 1}/{runs})") as m:
                fn()
            measured[name].append(m)
    return measured


def median_run(measurements: list[Measurement]) -> Measurement:
    """The run whose dynamic energy (the part that follows the work) is the median (the higher middle one of an even
    number): a figure that one slow or lucky run does not move."""
    if not measurements:
        raise ValueError("median_run needs at least one measurement")
    return sorted(measurements, key=lambda m: m.dynamic_j)[len(measurements) // 2]


def repeat_with_idle(fn: Callable[[], object], label: str, runs: int = 5,
                     idle_seconds: float = 1.0) -> tuple[list[Measurement], list[float]]:
    """`runs` measurements of `fn()`, each just after an idle block of its own (a sleep of `idle_seconds` + 0.5 s,
    as in `idle_power`), and the idle watts of each block: a run's idle floor is taken at its own moment, so a load
    that comes and goes (another program) moves the floor and the run alike, and `net_joules` subtracts the right
    one."""
    check_number("idle_seconds", idle_seconds, above=0)
    rounds = repeat_interleaved({"idle": lambda: time.sleep(idle_seconds + 0.5), "run": fn}, label, runs, warmup=0)
    return rounds["run"], [m.energy_j / m.duration_s for m in rounds["idle"]]


def spread(measurements: list[Measurement]) -> dict[str, float]:
    """Mean and standard deviation of the energy (J) and time (s), and the coefficient of variation of the energy (NaN
    when the mean is 0). At least two measurements, each with its energy (a tracker that failed has none)."""
    if len(measurements) < 2:
        raise ValueError(f"a spread needs at least 2 measurements, got {len(measurements)}")
    for m in measurements:
        if not math.isfinite(m.energy_j):
            raise ValueError(f"the run {m.label!r} has no energy measurement ({m.method}): its spread cannot be "
                             f"computed; measure it again where the tracker works")
    joules = [m.energy_j for m in measurements]
    seconds = [m.duration_s for m in measurements]
    mean, std = statistics.mean(joules), statistics.stdev(joules)
    return {"mean_j": mean, "std_j": std, "cv": std / mean if mean else math.nan,
            "mean_s": statistics.mean(seconds), "std_s": statistics.stdev(seconds)}


def tracker_overhead(workload: Callable[[], object], rounds: int = 5) -> dict[str, float]:
    """Median seconds of `workload` bare, inside `measure`, and inside `measure(count_flops=True)`, interleaved."""
    def measured() -> None:
        with measure("overhead: measured", record=False):
            workload()

    def measured_with_flops() -> None:
        with measure("overhead: measured + FLOPs", record=False, count_flops=True):
            workload()

    return median_seconds({"bare": workload, "measure()": measured, "measure(count_flops=True)": measured_with_flops},
                          rounds)


def cost_of_uses(run: Callable[[], int], label: str, runs: int = 3, min_seconds: float = 1.5) -> UseCost:
    """The energy of a service per use. `run()` serves some uses and returns how many; after one unmeasured
    warm-up call it is called again and again until `min_seconds` have passed (whole calls: long enough for the
    energy tracker), in `runs` measured runs, and the run with the median dynamic energy per use is kept.

    Keep `min_seconds` off whole numbers: a run of quick calls ends just after it, and a block that ends on one of
    the tracker's once-a-second samples can have its last second counted twice (see `idle_power`)."""
    if check_whole("runs", runs, why="an odd number, so that one run is the median") % 2 == 0:
        raise ValueError(f"runs must be an odd whole number >= 1 (so that one run is the median), got {runs!r}")
    check_number("min_seconds", min_seconds, above=0)
    run()  # warm-up: first calls pay for allocation and caches that later calls reuse
    costs = []
    for attempt in range(runs):
        with measure(f"{label} ({attempt + 1}/{runs})") as m:
            uses, _ = repeat_for(run, min_seconds)
        costs.append(UseCost(uses, m))
    return sorted(costs, key=lambda cost: cost.measurement.dynamic_j / cost.uses)[runs // 2]
