"""Checks for lab 05, energy: a training run made greener at the same quality, footprints by region, and the
greenest hour of the day to start a job."""

from __future__ import annotations

import warnings
from functools import cache
from typing import Callable

import torch

from greenlab.classroom.checks import CheckResult, check_function, describe_error
from greenlab.measurement import footprint
from greenlab.foundations.data import load_corpus
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training.train import ConfigError, TrainConfig, TrainResult, train

BASELINE_MODEL = GPTConfig(vocab_size=256, block_size=64, n_layer=6, n_head=4, n_embd=192)
BASELINE_TRAINING = TrainConfig(steps=100, batch_size=16, block_size=64, learning_rate=1e-3, min_learning_rate=1e-4,
                                warmup_steps=10, eval_interval=100, eval_batches=8)
SAVING = 0.30  # at least 30 % less energy
QUALITY_TOLERANCE = 0.01  # validation loss at most 1 % above the baseline's


def byte_ids() -> tuple[torch.Tensor, torch.Tensor]:
    """The corpus as bytes (a 256-token vocabulary: no tokenizer to train): training and validation ids."""
    corpus = load_corpus()
    return (torch.tensor(list(corpus.train_text.encode("utf-8"))),
            torch.tensor(list(corpus.validation_text.encode("utf-8"))))


def run(model_config: GPTConfig, training: TrainConfig, label: str) -> TrainResult:
    """Train a fresh byte-level GPT of `model_config` with `training` (seed 0), measured into the ledger."""
    train_ids, val_ids = byte_ids()
    torch.manual_seed(0)
    return train(GPT(model_config), train_ids, val_ids, training, label=label, progress=False)


@cache
def baseline() -> TrainResult:
    """The baseline run, trained and measured once per Python process: the exercise's cell runs it, and the check
    compares the learner's run with that same measurement (restart the kernel to measure it again)."""
    return run(BASELINE_MODEL, BASELINE_TRAINING, "lab05: baseline")


def check_greener(configuration: Callable[[], tuple[GPTConfig, TrainConfig]]) -> CheckResult:
    """Run the learner's configuration beside the baseline (`baseline()`: the run measured earlier in this process,
    or now); pass with ≥ 30 % less energy at the same loss."""
    exercise = "greener_training"
    try:
        model_config, training = configuration()
    except Exception as error:
        return CheckResult(exercise, False, describe_error(error, configuration))
    if not isinstance(model_config, GPTConfig) or not isinstance(training, TrainConfig):
        return CheckResult(exercise, False, "return (GPTConfig(...), TrainConfig(...))")
    if model_config.vocab_size != 256 or training.eval_batches != BASELINE_TRAINING.eval_batches:
        return CheckResult(exercise, False, "keep vocab_size=256 (bytes) and eval_batches=8, so that the validation "
                                            "losses compare")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = baseline()
        try:
            yours = run(model_config, training, "lab05 check: yours")
        except (ConfigError, ValueError) as error:
            return CheckResult(exercise, False, f"your configuration does not run: {error}")
    energy_ratio = yours.measurement.energy_j / reference.measurement.energy_j
    loss_ratio = yours.final_val_loss / reference.final_val_loss
    verdict = (f"validation loss {yours.final_val_loss:.3f} vs {reference.final_val_loss:.3f}, energy "
               f"{yours.measurement.energy_j:.0f} J vs {reference.measurement.energy_j:.0f} J ({energy_ratio:.0%})")
    if loss_ratio > 1 + QUALITY_TOLERANCE:
        return CheckResult(exercise, False, f"{verdict}: the loss must not be more than 1 % above the baseline's")
    if energy_ratio > 1 - SAVING:
        return CheckResult(exercise, False, f"{verdict}: at least 30 % less energy is needed")
    return CheckResult(exercise, True, f"{verdict}: same quality for at most 70 % of the energy")


def check_footprint_by_region(fn: Callable) -> CheckResult:
    countries = ["SWE", "FRA", "USA", "DEU", "CHN", "IND", "BRA", "GBR"]
    hardware = footprint.priced_hardware()

    def inputs(g: torch.Generator) -> tuple:
        picked = [countries[i] for i in torch.randperm(len(countries), generator=g)[:3].tolist()]
        return (float(10 ** (8 + 3 * torch.rand((), generator=g))), float(10 ** (10 + 3 * torch.rand((), generator=g))),
                hardware[int(torch.randint(0, len(hardware), (), generator=g))], picked)

    def reference(parameters, tokens, accelerator, regions):
        return [footprint.estimate(parameters, tokens, accelerator, c, pue=1.1).co2eq_kg / 1000 for c in regions]
    return check_function(fn, reference, inputs, exercise="footprint_by_region", rtol=1e-6, hint=(
        "one footprint.estimate per country, in the order given, with pue=1.1; its co2eq_kg is in kilograms, "
        "the answer in tonnes"))


def check_greenest_start(fn: Callable) -> CheckResult:
    """The start hour (0–23) whose `hours`-long window has the lowest mean carbon intensity on a grid."""
    grids = list(footprint.hourly_intensity().columns)

    def inputs(g: torch.Generator) -> tuple:
        return grids[int(torch.randint(0, len(grids), (), generator=g))], int(torch.randint(1, 13, (), generator=g))

    def reference(grid, hours):
        return int(footprint.start_hours(grid, hours).idxmin())
    return check_function(fn, reference, inputs, exercise="greenest_start", trials=8, hint=(
        "try every start hour, 0 to 23; a job's hours wrap past midnight (modulo 24); average the grid's "
        "intensity over the job's hours only; return the start with the lowest mean as an int"))
