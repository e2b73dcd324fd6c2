"""Knowledge distillation: a small student learns from a big teacher's whole predicted distribution.

A teacher's softmax says more than the right answer: that after "import" the token "os" is likely and "sys"
nearly as likely ("dark knowledge", Hinton et al., 2015). The student is trained on a mix of

    α · T² · KL(softmax(teacher / T) ‖ softmax(student / T))     soft targets at temperature T
    (1 − α) · cross-entropy(student, true next token)            hard targets
    + β · (1 − cos(student hidden, teacher hidden))               optional, DistilBERT's third term (equal widths)

T > 1 softens both distributions so the small probabilities carry weight; T² keeps the soft term's gradients on
the scale of the hard term's (they shrink as 1/T²). `init_from_teacher` starts the student from the teacher's own
weights: every other layer (DistilBERT), and for a narrower student the most active channels, heads and MLP
neurons (width pruning, as in NVIDIA's Minitron). `distill` runs it all in `greenlab.training.train`'s loop, measured.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from greenlab.foundations.data import random_batch
from greenlab.foundations.settings import device
from greenlab.foundations.validation import check_number, check_whole
from greenlab.models.gpt import GPT, GPTConfig, evaluating
from greenlab.training import distributed
from greenlab.training.train import TrainConfig, TrainResult, train


@dataclass(frozen=True)
class DistillConfig:
    """How the student learns: temperature T > 0, soft-target weight α in [0, 1], hidden-state weight β ≥ 0."""

    temperature: float = 2.0
    alpha: float = 0.5
    hidden_weight: float = 0.0

    def __post_init__(self) -> None:
        check_temperature_and_alpha(self.temperature, self.alpha)
        check_number("DistillConfig.hidden_weight", self.hidden_weight, at_least=0)


def check_temperature_and_alpha(temperature: float, alpha: float) -> None:
    check_number("the temperature", temperature, above=0,
                 why="1 leaves the distributions as they are, higher softens them")
    check_number("alpha", alpha, at_least=0, at_most=1, why="the weight of the soft targets")


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T): T = 1 is the model's distribution, larger T spreads it out."""
    check_temperature_and_alpha(temperature, 0.0)
    return (logits / temperature).softmax(dim=-1)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      temperature: float = 2.0, alpha: float = 0.5) -> torch.Tensor:
    """α · T² · KL(teacher_T ‖ student_T) + (1 − α) · cross-entropy(student, targets), averaged over tokens.
    Logits are (..., vocab); targets hold the true next tokens, of the logits' shape without the last axis."""
    check_temperature_and_alpha(temperature, alpha)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits "
                         f"{tuple(teacher_logits.shape)} differ: the two models must share a tokenizer "
                         f"(the same vocabulary)")
    if targets.shape != student_logits.shape[:-1]:
        raise ValueError(f"targets of shape {tuple(targets.shape)} do not match logits "
                         f"{tuple(student_logits.shape)}")
    student, teacher = student_logits.flatten(0, -2), teacher_logits.flatten(0, -2)
    soft = F.kl_div(F.log_softmax(student / temperature, dim=-1), F.log_softmax(teacher / temperature, dim=-1),
                    log_target=True, reduction="batchmean") * temperature**2
    hard = F.cross_entropy(student, targets.flatten())
    return alpha * soft + (1 - alpha) * hard


def hidden_cosine_loss(student_hidden: torch.Tensor, teacher_hidden: torch.Tensor) -> torch.Tensor:
    """Mean (1 − cosine similarity) between the student's and the teacher's hidden states (same width)."""
    if student_hidden.shape != teacher_hidden.shape:
        raise ValueError(f"the hidden-state loss needs equal shapes, got student {tuple(student_hidden.shape)} "
                         f"and teacher {tuple(teacher_hidden.shape)}: use hidden_weight=0 for a narrower student")
    return (1 - F.cosine_similarity(student_hidden, teacher_hidden, dim=-1)).mean()


def check_pair(teacher: GPT, student: GPT) -> None:
    """A ValueError unless the student can learn from the teacher's outputs (same vocabulary, enough context)."""
    t, s = teacher.config, student.config
    if t.vocab_size != s.vocab_size:
        raise ValueError(f"teacher and student vocabularies differ ({t.vocab_size} vs {s.vocab_size}): "
                         f"distillation compares distributions over the same tokens")
    if s.block_size > t.block_size:
        raise ValueError(f"the student reads {s.block_size} tokens, the teacher only {t.block_size}")


# --- starting the student from the teacher ----------------------------------------------------------------

def half_size(teacher: GPTConfig) -> GPTConfig:
    """The course's student: half the teacher's layers and half its heads, rounded down (at least one of each),
    each head as wide as the teacher's; the same vocabulary, context and attention."""
    head_dim = teacher.n_embd // teacher.n_head
    n_head = max(1, teacher.n_head // 2)
    return replace(teacher, n_layer=max(1, teacher.n_layer // 2), n_head=n_head, n_embd=n_head * head_dim)


def student_schedule(steps: int, block_size: int) -> TrainConfig:
    """How the course trains a student, distilled or from scratch (notebook 04 and `greenlab report` alike): batch 16,
    the reference's learning rates, a fifth of the steps of warm-up, three evaluations."""
    check_whole("steps", steps, minimum=3, why="a warm-up and three evaluations")
    return TrainConfig(steps=steps, batch_size=16, block_size=block_size, learning_rate=3e-3, min_learning_rate=3e-4,
                       warmup_steps=steps // 5, eval_interval=steps // 3, eval_batches=4)


COURSE_DISTILLATION = DistillConfig(temperature=2.0, alpha=0.5)  # soft targets and true labels weighed alike


def calibration_batch(ids: torch.Tensor, block_size: int, batch_size: int = 16, seed: int = 0) -> torch.Tensor:
    """`batch_size` random windows of `block_size` tokens from `ids`: the sample that ranks a teacher's channels."""
    if len(ids) <= block_size:
        raise ValueError(f"calibration needs more than block_size={block_size} token ids, got {len(ids)}")
    inputs, _ = random_batch(ids, batch_size, block_size, torch.Generator().manual_seed(seed))
    return inputs


@torch.no_grad()
def _importance(teacher: GPT, calibration_ids: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """Mean |activation| over a calibration batch: residual channels, each layer's heads and MLP neurons."""
    c = teacher.config
    head_dim = c.n_embd // c.n_head
    seen: dict[str, list[torch.Tensor]] = {"residual": [], "heads": [], "neurons": []}
    hooks = []
    for block in teacher.h:
        hooks.append(block.register_forward_pre_hook(
            lambda module, inputs: seen["residual"].append(inputs[0].abs().mean(dim=(0, 1)))))
        hooks.append(block.attn.c_proj.register_forward_pre_hook(
            lambda module, inputs: seen["heads"].append(
                inputs[0].unflatten(-1, (c.n_head, head_dim)).norm(dim=-1).mean(dim=(0, 1)))))
        hooks.append(block.mlp.c_proj.register_forward_pre_hook(
            lambda module, inputs: seen["neurons"].append(inputs[0].abs().mean(dim=(0, 1)))))
    try:
        ids = calibration_ids.to(teacher.wte.weight.device)
        with evaluating(teacher):
            seen["residual"].append(teacher.hidden_states(ids).abs().mean(dim=(0, 1)))
    finally:
        for hook in hooks:
            hook.remove()
    return {kind: [scores.cpu() for scores in found] for kind, found in seen.items()}


def _top(scores: torch.Tensor, k: int) -> torch.Tensor:
    return scores.topk(k).indices.sort().values


def init_from_teacher(teacher: GPT, config: GPTConfig, calibration_ids: torch.Tensor | None = None) -> GPT:
    """A student of shape `config` made of the teacher's weights.

    Depth: the teacher's layers 0, s, 2s, … (s = teacher layers // student layers). Width, when the student is
    narrower: the residual channels, attention heads (the head width must stay the same) and MLP neurons with
    the largest mean activation on `calibration_ids` are kept. Vocabulary and context must match the teacher's.
    """
    t = teacher.config
    if (config.vocab_size, config.block_size) != (t.vocab_size, t.block_size):
        raise ValueError("a student initialised from the teacher keeps its vocabulary and context: "
                         f"teacher {t.vocab_size}/{t.block_size}, student {config.vocab_size}/{config.block_size}")
    if config.n_layer > t.n_layer or config.n_embd > t.n_embd:
        raise ValueError(f"the student must not be deeper or wider than the teacher ({config.n_layer} layers × "
                         f"{config.n_embd} vs {t.n_layer} × {t.n_embd})")
    head_dim = t.n_embd // t.n_head
    if config.n_embd // config.n_head != head_dim:
        raise ValueError(f"keeping whole heads needs the teacher's head width {head_dim}: choose "
                         f"n_head = n_embd // {head_dim} for the student")
    narrower = config.n_embd < t.n_embd
    if narrower and calibration_ids is None:
        raise ValueError("a narrower student needs calibration_ids: token ids (batch, time) whose activations "
                         "rank the teacher's channels")
    layers = list(range(0, t.n_layer, t.n_layer // config.n_layer))[:config.n_layer]
    student = GPT(config)
    if narrower:
        seen = _importance(teacher, calibration_ids)
        channels = _top(torch.stack(seen["residual"]).sum(dim=0), config.n_embd)
    else:
        channels = torch.arange(t.n_embd)
    teacher_weights, weights = {name: w.cpu() for name, w in teacher.state_dict().items()}, {}
    weights["wte.weight"] = teacher_weights["wte.weight"][:, channels]
    weights["wpe.weight"] = teacher_weights["wpe.weight"][:, channels]
    weights["ln_f.weight"], weights["ln_f.bias"] = (teacher_weights[f"ln_f.{p}"][channels] for p in ("weight", "bias"))
    for new, old in enumerate(layers):
        source = lambda name: teacher_weights[f"h.{old}.{name}"]  # noqa: E731
        heads = _top(seen["heads"][old], config.n_head) if narrower else torch.arange(t.n_head)
        neurons = _top(seen["neurons"][old], 4 * config.n_embd) if narrower else torch.arange(4 * t.n_embd)
        head_units = (heads[:, None] * head_dim + torch.arange(head_dim)).flatten()
        qkv_rows = torch.cat([part * t.n_embd + head_units for part in range(3)])
        for norm in ("ln_1", "ln_2"):
            for p in ("weight", "bias"):
                weights[f"h.{new}.{norm}.{p}"] = source(f"{norm}.{p}")[channels]
        weights[f"h.{new}.attn.c_attn.weight"] = source("attn.c_attn.weight")[qkv_rows][:, channels]
        weights[f"h.{new}.attn.c_attn.bias"] = source("attn.c_attn.bias")[qkv_rows]
        weights[f"h.{new}.attn.c_proj.weight"] = source("attn.c_proj.weight")[channels][:, head_units]
        weights[f"h.{new}.attn.c_proj.bias"] = source("attn.c_proj.bias")[channels]
        weights[f"h.{new}.mlp.c_fc.weight"] = source("mlp.c_fc.weight")[neurons][:, channels]
        weights[f"h.{new}.mlp.c_fc.bias"] = source("mlp.c_fc.bias")[neurons]
        weights[f"h.{new}.mlp.c_proj.weight"] = source("mlp.c_proj.weight")[channels][:, neurons]
        weights[f"h.{new}.mlp.c_proj.bias"] = source("mlp.c_proj.bias")[channels]
    weights["lm_head.weight"] = weights["wte.weight"]
    student.load_state_dict(weights)
    return student


# --- the training run -------------------------------------------------------------------------------------

def distill(student: GPT, teacher: GPT, train_ids: torch.Tensor, val_ids: torch.Tensor, config: TrainConfig,
            distillation: DistillConfig = DistillConfig(), *, label: str = "distillation",
            progress: bool = True) -> TrainResult:
    """Train `student` on the teacher's soft targets mixed with the true tokens, in `greenlab.training.train`'s measured
    loop (the teacher's forward passes are part of what is measured: they are part of the cost)."""
    check_pair(teacher, student)
    if distributed.world().size > 1:
        raise distributed.DistributedError(
            f"distillation runs on one process, not on {distributed.world().size}: its loss reads the student's "
            f"hidden states, outside the forward pass in which DistributedDataParallel averages gradients")
    if distillation.hidden_weight and student.config.n_embd != teacher.config.n_embd:
        raise ValueError(f"hidden_weight > 0 compares hidden states, which needs equal widths (student "
                         f"{student.config.n_embd}, teacher {teacher.config.n_embd})")

    def loss_fn(model: GPT, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            teacher_hidden = teacher.hidden_states(inputs)
            teacher_logits = teacher.logits(teacher_hidden)
        hidden = model.hidden_states(inputs)
        loss = distillation_loss(model.logits(hidden), teacher_logits, targets, distillation.temperature,
                                 distillation.alpha)
        if distillation.hidden_weight:
            loss = loss + distillation.hidden_weight * hidden_cosine_loss(hidden, teacher_hidden)
        return loss

    teacher.to(device())  # where train() puts the student
    with evaluating(teacher):  # no dropout in the targets; the teacher's own mode again afterwards
        return train(student, train_ids, val_ids, config, label=label, progress=progress, loss_fn=loss_fn)
