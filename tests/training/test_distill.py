import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training.distill import (COURSE_DISTILLATION, DistillConfig, calibration_batch, distill,
                                      distillation_loss, half_size, hidden_cosine_loss, init_from_teacher, soften,
                                      student_schedule)
from greenlab.training.train import TrainConfig, evaluate

TEACHER = GPTConfig(vocab_size=64, block_size=16, n_layer=4, n_head=4, n_embd=32)


@pytest.fixture
def teacher():
    torch.manual_seed(0)
    return GPT(TEACHER).eval()


def logits_and_targets(seed=0, tokens=10, vocab=7):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(tokens, vocab, generator=g), torch.randn(tokens, vocab, generator=g), \
        torch.randint(0, vocab, (tokens,), generator=g)


def test_the_loss_is_the_documented_mix():
    student, teacher_logits, targets = logits_and_targets()
    T, alpha = 3.0, 0.25
    p_teacher = (teacher_logits / T).softmax(-1)
    kl = (p_teacher * (p_teacher.log() - (student / T).log_softmax(-1))).sum(-1).mean()
    expected = alpha * T**2 * kl + (1 - alpha) * F.cross_entropy(student, targets)
    assert torch.allclose(distillation_loss(student, teacher_logits, targets, T, alpha), expected, atol=1e-6)


def test_alpha_zero_is_cross_entropy_and_a_perfect_student_has_no_soft_loss():
    student, teacher_logits, targets = logits_and_targets()
    assert torch.allclose(distillation_loss(student, teacher_logits, targets, 2.0, 0.0),
                          F.cross_entropy(student, targets))
    assert distillation_loss(teacher_logits, teacher_logits, targets, 2.0, 1.0).abs() < 1e-6


def test_batched_logits_are_flattened():
    student, teacher_logits, targets = logits_and_targets(tokens=12)
    flat = distillation_loss(student, teacher_logits, targets)
    batched = distillation_loss(student.view(3, 4, -1), teacher_logits.view(3, 4, -1), targets.view(3, 4))
    assert torch.allclose(flat, batched)


def test_temperature_softens():
    logits = torch.tensor([3.0, 1.0, 0.0])
    assert soften(logits, 5.0).max() < soften(logits, 1.0).max()
    assert torch.allclose(soften(logits, 1.0), logits.softmax(-1))


@pytest.mark.parametrize("call, message", [
    (lambda s, t, y: distillation_loss(s, t, y, 0.0, 0.5), "the temperature must be a finite number > 0 .*got 0.0"),
    (lambda s, t, y: distillation_loss(s, t, y, 2.0, 1.5),
     r"alpha must be a finite number >= 0 and <= 1 \(the weight of the soft targets\), got 1.5"),
    (lambda s, t, y: distillation_loss(s, t[:, :5], y), "share a tokenizer"),
    (lambda s, t, y: distillation_loss(s, t, y[:3]), "targets of shape"),
    (lambda s, t, y: DistillConfig(temperature=-1), "temperature must be a finite number > 0"),
    (lambda s, t, y: DistillConfig(alpha=-0.1), "alpha must be a finite number >= 0 and <= 1"),
    (lambda s, t, y: DistillConfig(hidden_weight=-1.0), "DistillConfig.hidden_weight must be a finite number >= 0"),
    (lambda s, t, y: hidden_cosine_loss(torch.ones(2, 3), torch.ones(2, 4)), "use hidden_weight=0"),
])
def test_bad_distillation_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call(*logits_and_targets())


def test_half_size_student_keeps_head_width(teacher):
    config = half_size(TEACHER)
    assert (config.n_layer, config.n_head, config.n_embd) == (2, 2, 16)
    assert GPT(config).num_parameters() < 0.5 * teacher.num_parameters()


def test_a_full_width_student_from_teacher_copies_every_other_layer(teacher):
    config = GPTConfig(**{**TEACHER.to_dict(), "n_layer": 2})
    student = init_from_teacher(teacher, config)
    assert torch.equal(student.h[1].mlp.c_fc.weight, teacher.h[2].mlp.c_fc.weight)
    assert torch.equal(student.wte.weight, teacher.wte.weight) and student.lm_head.weight is student.wte.weight


def test_a_narrow_student_from_teacher_keeps_the_most_active_units(teacher):
    ids = torch.randint(0, 64, (4, 16), generator=torch.Generator().manual_seed(1))
    student = init_from_teacher(teacher, half_size(TEACHER), ids)
    kept = torch.isin(teacher.wte.weight, student.wte.weight).all(dim=0)
    assert kept.sum() == 16  # 16 of the 32 channels, copied as they are
    assert student(ids).shape == (4, 16, 64)


def test_a_narrow_student_is_sliced_head_by_head(teacher):
    ids = torch.randint(0, 64, (4, 16), generator=torch.Generator().manual_seed(2))
    student = init_from_teacher(teacher, half_size(TEACHER), ids)
    channels = torch.isin(teacher.wte.weight[0], student.wte.weight[0]).nonzero().flatten()
    for new, old in enumerate((0, 2)):
        t, s = teacher.h[old], student.h[new]
        qkv = t.attn.c_attn.weight.view(3, 4, 8, 32)[..., channels]  # (q/k/v, head, head width, channel)
        kept = [h for h in range(4) if any(torch.equal(qkv[0, h], s.attn.c_attn.weight.view(3, 2, 8, 16)[0, j])
                                         for j in range(2))]
        assert len(kept) == 2
        assert torch.equal(s.attn.c_attn.weight.view(3, 2, 8, 16), qkv[:, kept])
        assert torch.equal(s.attn.c_proj.weight, t.attn.c_proj.weight[channels].view(16, 4, 8)[:, kept].flatten(1))
        rows = t.mlp.c_fc.weight[:, channels]
        neurons = torch.tensor([int((rows == row).all(dim=1).nonzero()[0]) for row in s.mlp.c_fc.weight])
        assert len(neurons) == 64 and (neurons.diff() > 0).all()  # 64 of the 128 neurons, in their order
        assert torch.equal(s.mlp.c_proj.weight, t.mlp.c_proj.weight[channels][:, neurons])
        assert torch.equal(s.ln_2.weight, t.ln_2.weight[channels])


def test_calibration_needs_enough_ids():
    with pytest.raises(ValueError, match="more than block_size=16"):
        calibration_batch(torch.arange(10), 16)


def test_a_narrow_student_from_a_trained_teacher_starts_better_than_a_random_one():
    from greenlab.training.train import train
    torch.manual_seed(0)
    ids = torch.tensor([i % 13 for i in range(3000)]) + torch.randint(0, 2, (3000,))
    teacher = GPT(TEACHER)
    config = TrainConfig(steps=60, batch_size=8, block_size=16, warmup_steps=5, eval_interval=60, eval_batches=2)
    train(teacher, ids, ids, config, progress=False)
    calibration = calibration_batch(ids, 16)
    evaluate_on = TrainConfig(batch_size=8, block_size=16, eval_batches=2)
    torch.manual_seed(0)
    random_start = evaluate(GPT(half_size(TEACHER)), ids, evaluate_on)
    assert evaluate(init_from_teacher(teacher, half_size(TEACHER), calibration), ids, evaluate_on) < random_start


@pytest.mark.parametrize("config, message", [
    (GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=1, n_embd=16), "head width 8"),
    (GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=16), "keeps its vocabulary"),
    (GPTConfig(vocab_size=64, block_size=16, n_layer=8, n_head=4, n_embd=32), "must not be deeper"),
    (GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=16), "needs calibration_ids"),
])
def test_bad_student_shapes_are_clear_errors(teacher, config, message):
    with pytest.raises(ValueError, match=message):
        init_from_teacher(teacher, config)


def test_distill_trains_the_student_and_refuses_another_vocabulary(teacher):
    ids = torch.randint(0, 64, (2000,), generator=torch.Generator().manual_seed(0))
    config = TrainConfig(steps=6, batch_size=4, block_size=16, warmup_steps=1, eval_interval=6, eval_batches=1)
    student = GPT(half_size(TEACHER))
    before = [p.clone() for p in student.parameters()]
    with warnings.catch_warnings():  # six steps may or may not last the energy tracker's resolution
        warnings.filterwarnings("ignore", message=".*below the energy tracker's resolution")
        result = distill(student, teacher, ids, ids, config, DistillConfig(2.0, 0.5), progress=False)
    assert len(result.train_losses) == 6 and math.isfinite(result.final_val_loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, student.parameters()))
    assert all(p.grad is None for p in teacher.parameters())
    other = GPT(GPTConfig(vocab_size=32, block_size=16, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ValueError, match="vocabularies differ"):
        distill(other, teacher, ids, ids, config)
    with pytest.raises(ValueError, match="needs equal widths"):
        distill(student, teacher, ids, ids, config, DistillConfig(hidden_weight=1.0))


def test_distilling_and_initialising_leave_the_teacher_in_its_mode(teacher):
    ids = torch.randint(0, 64, (500,), generator=torch.Generator().manual_seed(0))
    teacher.train()
    init_from_teacher(teacher, half_size(TEACHER), calibration_batch(ids, 16))  # ranks the teacher's channels
    assert teacher.training
    config = TrainConfig(steps=2, batch_size=4, block_size=16, warmup_steps=1, eval_interval=2, eval_batches=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*below the energy tracker's resolution")
        distill(GPT(half_size(TEACHER)), teacher, ids, ids, config, progress=False)
    assert teacher.training
    teacher.eval()
    init_from_teacher(teacher, half_size(TEACHER), calibration_batch(ids, 16))
    assert not teacher.training


def test_distillation_under_torchrun_is_refused_with_the_reason(teacher, monkeypatch):
    from greenlab.training import distributed

    monkeypatch.setattr(distributed, "world", lambda: distributed.World(rank=0, local_rank=0, size=2))
    with pytest.raises(distributed.DistributedError, match="distillation runs on one process, not on 2"):
        distill(GPT(TEACHER), teacher, torch.zeros(100, dtype=torch.long), torch.zeros(100, dtype=torch.long),
                TrainConfig(steps=2, warmup_steps=0, block_size=16))


def test_the_course_trains_every_student_on_one_schedule():
    """Notebook 04 and `greenlab report` share it: 150 steps are notebook 04's schedule, value for value."""
    assert student_schedule(150, 128) == TrainConfig(steps=150, batch_size=16, block_size=128, learning_rate=3e-3,
                                                     min_learning_rate=3e-4, warmup_steps=30, eval_interval=50,
                                                     eval_batches=4)
    assert student_schedule(60, 64).warmup_steps == 12 and student_schedule(60, 64).eval_interval == 20
    with pytest.raises(ValueError, match="steps"):
        student_schedule(2, 128)
    assert (COURSE_DISTILLATION.temperature, COURSE_DISTILLATION.alpha) == (2.0, 0.5)
