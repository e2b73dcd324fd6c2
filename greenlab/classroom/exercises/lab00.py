"""Checks for lab 00, Green AI: the training-cost calculator and pairwise distances without loops."""

from __future__ import annotations

from typing import Callable

import torch

from greenlab.classroom.checks import CheckResult, check_function
from greenlab.measurement import footprint


def _log_uniform(generator: torch.Generator, low: float, high: float) -> float:
    """A number between 10**low and 10**high, every order of magnitude equally likely."""
    return float(10 ** (low + (high - low) * torch.rand((), generator=generator)))


def check_training_flops(fn: Callable[[float, float], float]) -> CheckResult:
    return check_function(
        fn, footprint.training_flops,
        lambda g: (_log_uniform(g, 6, 12), _log_uniform(g, 8, 13)),
        exercise="training_flops",
        hint="each token costs about 2 FLOPs per parameter forward and 4 backward")


def check_energy_kwh(fn: Callable[[float, float, float], float]) -> CheckResult:
    return check_function(
        fn, footprint.energy_kwh,
        lambda g: (_log_uniform(g, 0, 7), _log_uniform(g, 1, 3), 1 + float(torch.rand((), generator=g))),
        exercise="energy_kwh",
        hint="watts × hours gives watt-hours; 1 kWh = 1000 Wh; the PUE multiplies what the hardware draws")


def check_co2eq_kg(fn: Callable[[float, float], float]) -> CheckResult:
    return check_function(
        fn, footprint.co2eq_kg,
        lambda g: (_log_uniform(g, -3, 6), _log_uniform(g, 1, 3)),
        exercise="co2eq_kg",
        hint="the intensity is in grams per kWh, and the answer in kilograms")


def _random_matrices(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    n, m, d = (int(v) for v in torch.randint(1, 12, (3,), generator=generator))
    return torch.randn(n, d, generator=generator), torch.randn(m, d, generator=generator)


def _squared_distances(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


def check_squared_distances(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> CheckResult:
    return check_function(
        fn, _squared_distances, _random_matrices,
        exercise="squared_distances", atol=1e-4,
        hint="expand |x - y|² = |x|² + |y|² - 2 x·y: |x|² as a column and |y|² as a row broadcast to (n, m), "
             "and the last term for all pairs is one matrix product")
