"""Checks for lab 04, distillation: the loss, a student's loss against a teacher, and a temperature chosen by
experiment."""

from __future__ import annotations

import math
import warnings
from typing import Callable

import torch

from greenlab.classroom.checks import CheckResult, check_function, describe_error
from greenlab.foundations.validation import check_number
from greenlab.models.gpt import GPT
from greenlab.training.distill import DistillConfig, distill, distillation_loss, half_size
from greenlab.training.train import TrainConfig

SHORT = TrainConfig(steps=40, batch_size=8, block_size=128, learning_rate=3e-3, min_learning_rate=3e-4,
                    warmup_steps=4, eval_interval=40, eval_batches=2)


def check_kd_loss(fn: Callable) -> CheckResult:
    def inputs(g: torch.Generator) -> tuple:
        tokens, vocab = int(torch.randint(1, 12, (), generator=g)), int(torch.randint(2, 30, (), generator=g))
        temperature = [1.0, 2.0, 4.5][int(torch.randint(0, 3, (), generator=g))]
        alpha = [0.0, 0.3, 1.0][int(torch.randint(0, 3, (), generator=g))]
        return (torch.randn(tokens, vocab, generator=g), torch.randn(tokens, vocab, generator=g) * 2,
                torch.randint(0, vocab, (tokens,), generator=g), temperature, alpha)
    return check_function(fn, distillation_loss, inputs, trials=8, exercise="kd_loss", hint=(
        "F.kl_div takes the student's log-probabilities first and the teacher's second (log_target=True), both "
        "at temperature T, with reduction='batchmean'; the soft term is scaled by T² and weighted by alpha; the "
        "cross-entropy uses the student's logits without the temperature"))


def new_student(teacher: GPT, seed: int = 0) -> GPT:
    """The half-size student, freshly initialised with `seed` (the same one every time)."""
    torch.manual_seed(seed)
    return GPT(half_size(teacher.config))


def check_student_loss(fn: Callable, teacher: GPT, ids: torch.Tensor) -> CheckResult:
    """`fn(student, inputs, targets)` must equal the distillation loss at T = 2, α = 0.5 against `teacher`."""
    length = min(32, teacher.config.block_size)

    def inputs(g: torch.Generator) -> tuple:
        starts = torch.randint(0, len(ids) - length - 1, (2,), generator=g).tolist()
        window = torch.stack([ids[s:s + length + 1] for s in starts])
        return new_student(teacher, int(torch.randint(0, 100, (), generator=g))), window[:, :-1], window[:, 1:]

    def reference(student: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return distillation_loss(student(x), teacher(x), y, 2.0, 0.5)

    def learner(student: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = fn(student, x, y)
        if isinstance(loss, torch.Tensor) and not loss.requires_grad:
            raise ValueError("the loss carries no gradient: compute the student's logits with autograd on "
                             "(only the teacher's under torch.no_grad())")
        return loss.detach() if isinstance(loss, torch.Tensor) else loss
    return check_function(learner, reference, inputs, trials=3, exercise="student_loss", atol=1e-4, hint=(
        "teacher logits under torch.no_grad(), student logits with gradients, batch and time flattened into one "
        "axis of tokens (logits and targets), then your kd_loss with temperature 2 and alpha 0.5"))


def short_distillation(teacher: GPT, temperature: float, train_ids: torch.Tensor, val_ids: torch.Tensor,
                       alpha: float = 0.5) -> float:
    """Validation loss of the half-size student after SHORT (40 steps) of distillation at `temperature`."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*below the energy tracker's resolution")
        result = distill(new_student(teacher), teacher, train_ids, val_ids, SHORT, DistillConfig(temperature, alpha),
                         label=f"lab04 check: distil at T={temperature}", progress=False)
    return result.final_val_loss


def check_temperature_choice(experiment: Callable[[], tuple[dict, float]], teacher: GPT, train_ids: torch.Tensor,
                             val_ids: torch.Tensor) -> CheckResult:
    """`experiment()` returns ({temperature: validation loss}, best temperature): at least three temperatures,
    the best one has the lowest loss, and the course's `distill` reproduces that loss."""
    exercise = "temperature_choice"
    try:
        results, best = experiment()
    except Exception as error:
        return CheckResult(exercise, False, describe_error(error, experiment))
    if not isinstance(results, dict) or len(results) < 3:
        return CheckResult(exercise, False, "results should map at least three temperatures to the validation "
                                            f"loss you measured, got {results!r}")
    try:
        for temperature in results:
            check_number("each temperature you tried", temperature, above=0)
    except ValueError as error:
        return CheckResult(exercise, False, str(error))
    if best not in results:
        return CheckResult(exercise, False, f"the best temperature {best!r} is not one of those you tried")
    if results[best] != min(results.values()):
        return CheckResult(exercise, False, f"T={best} gave {results[best]:.4f}, but another temperature did better "
                                            f"({min(results.values()):.4f})")
    again = short_distillation(teacher, best, train_ids, val_ids)
    if not math.isclose(again, results[best], rel_tol=0.01):
        return CheckResult(exercise, False, f"the reference run at T={best} reaches {again:.4f}, you reported "
                                            f"{results[best]:.4f}: use lab04.new_student(teacher), lab04.SHORT and "
                                            f"alpha = 0.5")
    return CheckResult(exercise, True, f"T={best} is the best of the {len(results)} temperatures you tried, and "
                                       f"the course's distill reproduces its loss")
