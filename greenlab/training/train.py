"""The course's one training loop (`training_loop`), and `train`, which trains causal language models in it.

The loop is given the batches, the loss and the validation, and brings what every run shares: AdamW (no weight decay
on biases and norms), or Muon on the linear layers with AdamW on the rest, linear warmup then cosine decay, gradient
clipping, optional bfloat16 autocast (mixed precision), periodic validation loss and perplexity, a progress bar with
the live loss, fixed seeds (same seed, same model => the same losses on one machine), and the whole run measured by
`greenlab.measurement.energy` — time, energy, CO2eq and FLOPs — into the green ledger. `train` (GPTs, distillation
with its own loss, the probe models) and `greenlab.training.translate.train_translator` are its short callers.

For `train`, a model is any `torch.nn.Module` that maps token ids (batch, time) to logits (batch, time, vocab).
Checkpoints: `greenlab.foundations.checkpoints` (safetensors, never pickles).

The same loop runs unchanged under torchrun: started as N processes, it trains one model with data parallelism
(`greenlab.training.distributed`: each rank a slice of every batch, gradients averaged by DistributedDataParallel), with
rank 0 alone validating, showing progress and recording the job's one ledger row.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cache
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from greenlab.foundations.data import check_token_ids, random_batch, sequential_batches
from greenlab.measurement.energy import Measurement, count_flops
from greenlab.measurement.timing import median_seconds
from greenlab.foundations.settings import device
from greenlab.foundations.validation import check_number, check_whole
from greenlab.models.gpt import evaluating
from greenlab.training import distributed


class ConfigError(ValueError):
    """A training configuration with a bad value; the message names the field."""


OPTIMIZERS = ("adamw", "muon")  # "muon": Muon on the linear layers' weights, AdamW on embeddings, biases, norms
MAX_STEPS = 10**6  # a run keeps a loss and a learning rate per step (history.json: some 40 MB at this bound);
# the course's longest recipe takes 3,000 steps, so a larger count is a typo, refused before any work
PRECISIONS = ("float32", "bfloat16", "auto")  # "bfloat16": the steps' forward pass under torch.autocast;
# "auto": bfloat16 where this machine multiplies it faster than float32 (`bfloat16_speedup`), float32 elsewhere


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; a bad value is a ConfigError naming the field. Counts are kept as
    Python ints (a NumPy count included), so that the config saves as JSON with the run."""

    steps: int = 200  # at most MAX_STEPS
    batch_size: int = 16
    block_size: int = 64
    learning_rate: float = 3e-3
    min_learning_rate: float = 3e-4
    warmup_steps: int = 20
    weight_decay: float = 0.1
    grad_clip: float = 1.0  # max gradient norm; 0 turns clipping off
    eval_interval: int = 50  # validate every this many steps, and after the last one
    eval_batches: int = 8
    seed: int = 0
    optimizer: str = "adamw"  # one of OPTIMIZERS
    precision: str = "float32"  # one of PRECISIONS; validation always runs in float32

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", check_whole(
            "TrainConfig.steps", self.steps, maximum=MAX_STEPS,
            why="a run keeps a loss per step; the course's recipes take thousands", error=ConfigError))
        for name in ("batch_size", "block_size", "eval_interval", "eval_batches"):
            object.__setattr__(self, name, check_whole(f"TrainConfig.{name}", getattr(self, name), error=ConfigError))
        for name in ("warmup_steps", "seed"):
            object.__setattr__(self, name, check_whole(f"TrainConfig.{name}", getattr(self, name), minimum=0,
                                                       error=ConfigError))
        check_number("TrainConfig.learning_rate", self.learning_rate, above=0, error=ConfigError)
        for name in ("min_learning_rate", "weight_decay", "grad_clip"):
            check_number(f"TrainConfig.{name}", getattr(self, name), at_least=0, error=ConfigError)
        for name, choices in (("optimizer", OPTIMIZERS), ("precision", PRECISIONS)):
            if getattr(self, name) not in choices:
                raise ConfigError(f"TrainConfig.{name} must be one of {', '.join(choices)}; "
                                  f"got {getattr(self, name)!r}")
        if self.min_learning_rate > self.learning_rate:
            raise ConfigError(f"TrainConfig.min_learning_rate ({self.min_learning_rate}) must not exceed "
                              f"learning_rate ({self.learning_rate})")
        if self.warmup_steps >= self.steps:
            raise ConfigError(f"TrainConfig.warmup_steps ({self.warmup_steps}) must be < steps ({self.steps})")


@cache
def bfloat16_speedup(device_type: str = "cpu") -> float:
    """How many times faster this machine multiplies bfloat16 matrices than float32 ones (a 2048×128 by 128×512
    product, median time; measured once per process). Above 1 on CPUs with AVX-512 BF16 or AMX and on recent GPUs;
    far below 1 where bfloat16 is emulated, as on AVX2-only CPUs."""
    activations, weights = torch.randn(2048, 128, device=device_type), torch.randn(128, 512, device=device_type)
    operands = {dtype: (activations.to(dtype), weights.to(dtype)) for dtype in (torch.float32, torch.bfloat16)}

    def product(dtype: torch.dtype) -> Callable[[], None]:
        a, w = operands[dtype]

        def multiply() -> None:
            a @ w
            if device_type == "cuda":
                torch.cuda.synchronize()  # a GPU returns before it has computed; wait for it
        return multiply

    seconds = median_seconds({"float32": product(torch.float32), "bfloat16": product(torch.bfloat16)}, rounds=21)
    return seconds["float32"] / seconds["bfloat16"]


def autocast_bfloat16(config: TrainConfig, device_type: str) -> bool:
    """Whether the training steps run under bfloat16 autocast: "bfloat16" always, "auto" where it is faster."""
    return config.precision == "bfloat16" or (config.precision == "auto" and bfloat16_speedup(device_type) > 1)


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """Linear warmup to `learning_rate`, then cosine decay to `min_learning_rate` at the last step."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - 1 - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.min_learning_rate + cosine * (config.learning_rate - config.min_learning_rate)


def _adamw(params: list[torch.nn.Parameter], config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices (embeddings, linear weights) only, as in GPT-2 and nanoGPT."""
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, 0.95))


def newton_schulz(grad: torch.Tensor, ns_coefficients: tuple[float, float, float], ns_steps: int,
                  eps: float) -> torch.Tensor:
    """Muon's orthogonalisation, the quintic Newton–Schulz iteration of torch.optim.Muon, in float32: torch runs it
    in bfloat16, which a CPU without bfloat16 arithmetic (AVX2 only) emulates some fifty times slower than float32."""
    a, b, c = ns_coefficients
    tall = grad.size(0) > grad.size(1)
    x = (grad.T if tall else grad).float()
    x = x / x.norm().clamp(min=eps)  # spectral norm at most 1
    for _ in range(ns_steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


@contextmanager
def _muon_in_float32() -> Iterator[None]:
    """torch.optim.Muon's steps orthogonalise with `newton_schulz` (float32) for the duration of the block."""
    from torch.optim import _muon

    in_bfloat16 = _muon._zeropower_via_newtonschulz
    _muon._zeropower_via_newtonschulz = newton_schulz
    try:
        yield
    finally:
        _muon._zeropower_via_newtonschulz = in_bfloat16


class MuonWithAdamW:
    """Muon (torch.optim.Muon: momentum, then the update orthogonalised by Newton–Schulz iterations) for the
    weights of the linear layers, AdamW for everything else (embeddings and the tied head, biases, norms), as in
    Keller Jordan's Muon. Muon's step is rescaled to AdamW's size ("match_rms_adamw", Moonshot AI 2025), so one
    learning rate and schedule drive both: `param_groups` holds the groups of the two. Where this machine multiplies
    bfloat16 slower than float32 (`bfloat16_speedup`), Muon's orthogonalisation runs in float32 (`newton_schulz`)."""

    def __init__(self, model: torch.nn.Module, config: TrainConfig):
        embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
        linear = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)
                  and m.weight.requires_grad and id(m.weight) not in embeddings]  # a tied head is an embedding
        if not linear:
            raise ConfigError("TrainConfig.optimizer='muon' needs linear layers to orthogonalise; the model has none")
        in_muon = {id(p) for p in linear}
        self.muon = torch.optim.Muon(linear, lr=config.learning_rate, weight_decay=config.weight_decay,
                                     adjust_lr_fn="match_rms_adamw")
        self.adamw = _adamw([p for p in model.parameters() if p.requires_grad and id(p) not in in_muon], config)
        self.param_groups = self.muon.param_groups + self.adamw.param_groups
        self.float32 = bfloat16_speedup(linear[0].device.type) <= 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.muon.zero_grad(set_to_none)
        self.adamw.zero_grad(set_to_none)

    def step(self) -> None:
        with _muon_in_float32() if self.float32 else nullcontext():
            self.muon.step()
        self.adamw.step()


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW | MuonWithAdamW:
    """The configuration's optimizer for `model`: AdamW (see `_adamw`) or `MuonWithAdamW`."""
    if config.optimizer == "muon":
        return MuonWithAdamW(model, config)
    return _adamw([p for p in model.parameters() if p.requires_grad], config)


def language_model_loss(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of next-token prediction."""
    logits = model(inputs)
    if logits.shape[:2] != inputs.shape:
        raise ValueError(f"the model returned logits of shape {tuple(logits.shape)} for inputs of shape "
                         f"{tuple(inputs.shape)}; expected (batch, time, vocab)")
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


@torch.no_grad()
def evaluate(model: torch.nn.Module, ids: torch.Tensor, config: TrainConfig) -> float:
    """Mean validation loss over the first `eval_batches` fixed windows of `ids`."""
    dev = next(model.parameters()).device
    batches = sequential_batches(ids, config.batch_size, config.block_size, config.eval_batches)
    with evaluating(model):
        losses = [language_model_loss(model, x.to(dev), y.to(dev)).item() for x, y in batches]
    return sum(losses) / len(losses)


@dataclass
class TrainResult:
    """What a run produced: the loss history, the validation points, and its measured cost."""

    config: TrainConfig
    train_losses: list[float] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    validation: list[dict] = field(default_factory=list)  # {"step", "val_loss", "val_perplexity", "elapsed_s"}
    measurement: Measurement | None = None
    world_size: int = 1  # how many processes trained the model together (torchrun's WORLD_SIZE)
    precision: str = "float32"  # what the steps ran in: "float32" or "bfloat16" (autocast)
    from_cache: bool = False  # loaded from the cache (training/cache): the measurement is of the time it was trained

    @property
    def final_val_loss(self) -> float:
        return self.validation[-1]["val_loss"]


Batch = tuple[torch.Tensor, ...]  # one step's tensors, every one with a row per example: (inputs, targets), ...
LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]  # a GPT's: (model, inputs, targets)


def evaluates_after(step: int, config: TrainConfig) -> bool:
    """Whether a run evaluates after `step` (counted from 0): every `eval_interval` steps, and after the last."""
    return (step + 1) % config.eval_interval == 0 or step == config.steps - 1


def _checked_batch(batch: object, step: int, batch_size: int) -> Batch:
    """`batch_at(step)`'s batch, refused by name unless it is a tuple of tensors with `batch_size` rows each: the
    rows are what the ranks share out."""
    if not (isinstance(batch, tuple) and batch and all(isinstance(t, torch.Tensor) for t in batch)):
        raise TypeError(f"batch_at({step}) must return a non-empty tuple of tensors, got {type(batch).__name__}")
    if any(t.dim() == 0 or len(t) != batch_size for t in batch):
        raise ValueError(f"batch_at({step}) returned tensors of shapes {[tuple(t.shape) for t in batch]}; each must "
                         f"have TrainConfig.batch_size={batch_size} rows")
    return batch


def training_loop(model: torch.nn.Module, config: TrainConfig, *, batch_at: Callable[[int], Batch],
                  loss_fn: Callable[..., torch.Tensor], validate: Callable[[], float],
                  batch_flops: Callable[[Batch], float] | None = None, label: str = "training run",
                  progress: bool = True) -> TrainResult:
    """Train `model` in place, as `config` says, on the batches, loss and validation it is given; measured and
    recorded in the ledger. Every model of the course trains here (`train`, `train_translator`, distillation).

    - `batch_at(step)`: the step's whole batch, drawn in step order, with `config.batch_size` rows per tensor;
    - `loss_fn(model, *batch)`: what the step minimises, on this process's rows, moved to the device; `model` is the
      module to call (under torchrun, its DistributedDataParallel wrapper);
    - `validate()`: the validation loss, every `eval_interval` steps and after the last, always in float32;
    - `batch_flops(batch)`: the FLOPs of a step on a whole batch, counted by formula where the steps' shapes differ.
      Without it, PyTorch's FLOP counter counts the first step and the first validation, and every other step and
      validation is taken to cost the same.

    Under torchrun, every rank calls it alike with the same batches: each rank steps on its slice of every batch's
    rows, rank 0 alone validates, and every rank returns the same losses (those of the whole batches)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    for name, function in (("batch_at", batch_at), ("loss_fn", loss_fn), ("validate", validate)):
        if not callable(function):
            raise TypeError(f"{name} must be a function, got {type(function).__name__}")
    world = distributed.world()
    rows = distributed.rows_per_rank(config.batch_size, world.size)
    mine = slice(world.rank * rows, (world.rank + 1) * rows)  # this rank's rows of every batch
    torch.manual_seed(config.seed)  # dropout and any other randomness inside the model
    dev = device()
    model.to(dev).train()
    stepped = distributed.data_parallel(model)  # the model itself, or its DistributedDataParallel wrapper
    optimizer = make_optimizer(model, config)
    bfloat16 = autocast_bfloat16(config, dev.type)
    result = TrainResult(config, world_size=world.size, precision="bfloat16" if bfloat16 else "float32")
    formula_flops = 0  # batch_flops's, summed over the steps
    step_flops = eval_flops = 0  # without batch_flops: PyTorch's count of the first step and the first validation

    def train_step(step: int) -> float:
        nonlocal formula_flops
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config)
        batch = _checked_batch(batch_at(step), step, config.batch_size)
        if batch_flops is not None:
            formula_flops += batch_flops(batch)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bfloat16):
            loss = loss_fn(stepped, *(t[mine].to(dev) for t in batch))
        if not (isinstance(loss, torch.Tensor) and loss.dim() == 0):
            raise TypeError(f"loss_fn must return a tensor with one value, got {loss!r:.80}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # under DDP, each gradient arrives here averaged over the ranks
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        return distributed.mean_over_ranks(loss)  # the whole batch's loss

    def validate_on_main() -> float:  # rank 0 validates (counting its FLOPs once); every rank gets its result
        nonlocal eval_flops
        val_loss = None
        if world.is_main:
            if batch_flops is None and not eval_flops:
                val_loss, eval_flops = count_flops(validate)
            else:
                val_loss = validate()
        return distributed.from_main(val_loss)

    with distributed.measure_job(label) as m:
        started = time.perf_counter()
        bar = tqdm(range(config.steps), desc=label, disable=not (progress and world.is_main), mininterval=1.0)
        for step in bar:
            if step == 0 and batch_flops is None:  # every step has the same shapes: count the first one's FLOPs
                loss, step_flops = count_flops(lambda: train_step(0))
            else:
                loss = train_step(step)
            result.train_losses.append(loss)
            result.learning_rates.append(optimizer.param_groups[0]["lr"])
            if evaluates_after(step, config):
                val_loss = validate_on_main()
                result.validation.append({"step": step + 1, "val_loss": val_loss, "val_perplexity": math.exp(val_loss),
                                          "elapsed_s": time.perf_counter() - started})
                bar.set_postfix(loss=f"{loss:.3f}", val=f"{val_loss:.3f}", refresh=False)
            else:
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)  # drawn at most once a second
        if batch_flops is None:
            m.flops = distributed.from_main(step_flops * world.size * config.steps
                                            + eval_flops * len(result.validation))
        else:
            m.flops = formula_flops  # the same on every rank: every rank counts the whole batches
    if world.size > 1:  # DDP keeps the replicas equal; a job whose replicas drifted apart must not be saved
        distributed.check_same_everywhere("the trained weights (SHA-256)", distributed.weights_digest(model))
    result.measurement = m
    return result


def train(model: torch.nn.Module, train_ids: torch.Tensor, val_ids: torch.Tensor, config: TrainConfig,
          *, label: str = "training run", progress: bool = True,
          loss_fn: LossFn = language_model_loss) -> TrainResult:
    """Train `model` in place on random windows of `train_ids`, validating on the first windows of `val_ids`, in
    `training_loop`; measured and recorded in the ledger. `loss_fn(model, inputs, targets)` is what the steps
    minimise (distillation brings its own); validation always reports the plain next-token cross-entropy.

    Under torchrun, every rank calls `train` alike; the model is then trained by all of them together, and every
    rank returns the same losses (those of the global batches) and validation losses (rank 0's)."""
    check_token_ids(train_ids, config.block_size)
    check_token_ids(val_ids, config.block_size)
    batch_generator = torch.Generator().manual_seed(config.seed)  # the same on every rank: the same global batches
    return training_loop(
        model, config, label=label, progress=progress, loss_fn=loss_fn,
        batch_at=lambda step: random_batch(train_ids, config.batch_size, config.block_size, batch_generator),
        validate=lambda: evaluate(model, val_ids, config))


def bits_per_character(loss: float, n_tokens: int, n_characters: int) -> float:
    """Convert a loss in nats per token over `n_tokens` tokens into bits per character of the `n_characters`
    they spell, which compares across tokenizers."""
    check_number("loss", loss, at_least=0, why="nats per token")
    check_whole("n_tokens", n_tokens)
    check_whole("n_characters", n_characters)
    return loss / math.log(2) * n_tokens / n_characters


@torch.no_grad()
def text_loss(model: torch.nn.Module, ids: torch.Tensor, block_size: int, batch_size: int = 32) -> float:
    """Mean next-token loss (nats per token) of `model` on a whole text: `ids` (the text's tokens) read in
    non-overlapping windows of `block_size`, the last one shorter, so every token but the first is predicted and
    counted once."""
    check_token_ids(ids, 1)
    check_whole("block_size", block_size)
    full_windows = (len(ids) - 1) // block_size
    batches = sequential_batches(ids, batch_size, block_size) if full_windows else []
    tail = ids[full_windows * block_size:]  # the text's last, shorter window
    if len(tail) > 1:
        batches.append((tail[None, :-1], tail[None, 1:]))
    dev = next(model.parameters()).device
    total_nats = 0.0
    with evaluating(model):
        for x, y in batches:
            logits = model(x.to(dev)).float()
            total_nats += F.cross_entropy(logits.flatten(0, 1), y.to(dev).flatten(), reduction="sum").item()
    return total_nats / (len(ids) - 1)


def text_bits_per_character(model: torch.nn.Module, ids: torch.Tensor, n_characters: int, block_size: int,
                            batch_size: int = 32) -> float:
    """Bits per character of `model` on a whole text of `n_characters` characters whose tokens are `ids`: its
    `text_loss`, every token but the first counted once, spread over the text's characters."""
    return bits_per_character(text_loss(model, ids, block_size, batch_size), len(ids) - 1, n_characters)
