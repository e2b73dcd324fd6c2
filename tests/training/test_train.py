import math

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from greenlab.measurement import ledger
from greenlab.measurement.energy import count_flops
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training import train as train_module
from greenlab.training.train import (MAX_STEPS, ConfigError, MuonWithAdamW, TrainConfig, bfloat16_speedup,
                                     evaluates_after, learning_rate_at, make_optimizer, newton_schulz,
                                     text_bits_per_character, text_loss, train)

VOCAB = 256  # every byte: the bigram fixture's model predicts one of them
TEXT = ("The quick brown fox jumps over the lazy dog. " * 60).encode()


def _ids():
    ids = torch.tensor(list(TEXT), dtype=torch.long)
    return ids[:2000], ids[2000:]


SMALL = TrainConfig(steps=30, batch_size=8, block_size=16, learning_rate=1e-2, min_learning_rate=1e-3,
                    warmup_steps=3, eval_interval=10, eval_batches=2)


def _trained(bigram, seed=0):
    torch.manual_seed(seed)
    model = bigram()
    return model, train(model, *_ids(), SMALL, label="bigram", progress=False)


def test_training_lowers_the_loss_and_is_measured(cache, bigram):
    model, result = _trained(bigram)
    assert len(result.train_losses) == 30 and [v["step"] for v in result.validation] == [10, 20, 30]
    assert result.final_val_loss < math.log(VOCAB) - 2  # far better than guessing among 256 bytes
    assert result.validation[-1]["val_perplexity"] == pytest.approx(math.exp(result.final_val_loss))
    m = result.measurement
    assert m.available and m.flops > 0 and m.energy_kwh > 0
    assert ledger.table(this_session=True)["run"].tolist()[-1] == "bigram"


def test_same_seed_same_losses(cache, bigram):
    _, first = _trained(bigram)
    _, second = _trained(bigram)
    assert first.train_losses == second.train_losses
    assert [v["val_loss"] for v in first.validation] == [v["val_loss"] for v in second.validation]


def test_flops_are_counted_for_every_step_and_every_evaluation(cache, bigram):
    _, result = _trained(bigram)
    # the bigram's only matrix product is its head: 2·B·T·32·V FLOPs forward, twice that backward
    head_forward = 2 * SMALL.batch_size * SMALL.block_size * 32 * VOCAB
    training = 3 * head_forward * SMALL.steps
    evaluation = head_forward * SMALL.eval_batches * len(result.validation)  # forward only, at steps 10, 20, 30
    assert result.measurement.flops == training + evaluation


def test_learning_rate_warms_up_then_decays():
    config = TrainConfig(steps=100, warmup_steps=10, learning_rate=1.0, min_learning_rate=0.1)
    rates = [learning_rate_at(s, config) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert rates[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))


@pytest.mark.parametrize("field, value", [
    ("steps", 0), ("batch_size", -1), ("learning_rate", 0.0), ("grad_clip", -1.0), ("steps", 2.5),
    ("seed", "zero"), ("warmup_steps", 500), ("min_learning_rate", 1.0), ("optimizer", "sgd"),
    ("precision", "float16"), ("optimizer", 1),
])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=f"TrainConfig.{field}"):
        TrainConfig(**{field: value})


def test_muon_takes_the_linear_weights_and_adamw_the_rest():
    model = GPT(GPTConfig(vocab_size=64, block_size=8, n_layer=2, n_head=2, n_embd=16))
    optimizer = make_optimizer(model, TrainConfig(optimizer="muon"))
    assert isinstance(optimizer, MuonWithAdamW)
    in_muon = {id(p) for group in optimizer.muon.param_groups for p in group["params"]}
    in_adamw = {id(p) for group in optimizer.adamw.param_groups for p in group["params"]}
    # per block: the attention's qkv and output projections, the MLP's two layers; the tied head is an embedding
    assert len(in_muon) == 2 * 4 and id(model.wte.weight) in in_adamw and id(model.wpe.weight) in in_adamw
    assert in_muon.isdisjoint(in_adamw) and in_muon | in_adamw == {id(p) for p in model.parameters()}
    optimizer.param_groups[0]["lr"] = 0.5  # the schedule sets the learning rate through the shared groups
    assert optimizer.muon.param_groups[0]["lr"] == 0.5


def test_newton_schulz_in_float32_is_torchs_iteration_in_bfloat16():
    from torch.optim._muon import DEFAULT_A, DEFAULT_B, DEFAULT_C, _zeropower_via_newtonschulz

    for shape in [(48, 16), (16, 48), (32, 32)]:  # tall, wide and square, as the linear layers are
        grad = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
        ours = newton_schulz(grad, (DEFAULT_A, DEFAULT_B, DEFAULT_C), 5, 1e-7)
        torchs = _zeropower_via_newtonschulz(grad, (DEFAULT_A, DEFAULT_B, DEFAULT_C), 5, 1e-7)
        assert ours.dtype == torch.float32 and ours.shape == grad.shape
        assert (ours - torchs.float()).abs().max() < 0.05  # bfloat16 keeps 8 bits: ~0.01 on entries of ~0.3
        assert (ours - torchs.float()).abs().max() > 0  # two precisions, not one function


def test_muon_orthogonalises_in_float32_where_bfloat16_is_slower(monkeypatch):
    from torch.optim import _muon

    calls = []
    monkeypatch.setattr(train_module, "newton_schulz", lambda grad, *args: calls.append(grad.dtype) or
                        newton_schulz(grad, *args))
    for speedup, expected in [(0.02, [torch.float32] * 8), (4.0, [])]:  # AVX2-only CPUs; AMX or a GPU
        calls.clear()
        monkeypatch.setattr(train_module, "bfloat16_speedup", lambda device_type="cpu": speedup)
        model = GPT(GPTConfig(vocab_size=16, block_size=8, n_layer=2, n_head=2, n_embd=8))
        optimizer = make_optimizer(model, TrainConfig(optimizer="muon"))
        model(torch.randint(0, 16, (2, 8))).sum().backward()
        optimizer.step()
        assert calls == expected and _muon._zeropower_via_newtonschulz.__module__ == "torch.optim._muon"


def test_muon_without_linear_layers_is_a_config_error():
    with pytest.raises(ConfigError, match="optimizer='muon'"):
        make_optimizer(nn.Sequential(nn.Embedding(4, 2)), TrainConfig(optimizer="muon"))


@pytest.mark.parametrize("options", [{"optimizer": "muon"}, {"precision": "bfloat16"}])
def test_muon_and_bfloat16_train(cache, bigram, options):
    config = TrainConfig(**{**SMALL.__dict__, **options})
    torch.manual_seed(0)
    result = train(bigram(), *_ids(), config, label="bigram", progress=False)
    assert result.final_val_loss < math.log(VOCAB) - 1.5  # far better than guessing among 256 bytes


@pytest.mark.parametrize("speedup, expected", [(0.03, "float32"), (4.6, "bfloat16")])
def test_auto_precision_takes_bfloat16_only_where_it_is_faster(cache, bigram, monkeypatch, speedup, expected):
    monkeypatch.setattr("greenlab.training.train.bfloat16_speedup", lambda device_type: speedup)
    config = TrainConfig(**{**SMALL.__dict__, "precision": "auto", "steps": 4, "eval_interval": 4})
    assert train(bigram(), *_ids(), config, label="bigram", progress=False).precision == expected


@pytest.fixture
def unmeasured_speedup():
    """bfloat16_speedup with nothing remembered before or after the test (it measures once per process)."""
    bfloat16_speedup.cache_clear()
    yield bfloat16_speedup
    bfloat16_speedup.cache_clear()


class _DtypesSeen(TorchFunctionMode):
    """Collects the dtypes of the tensors that torch functions receive inside it."""

    def __init__(self):
        super().__init__()
        self.dtypes = set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.dtypes.update(arg.dtype for arg in args if isinstance(arg, torch.Tensor))
        return func(*args, **(kwargs or {}))


def _work_of(fn) -> tuple[int, set[torch.dtype]]:
    """The FLOPs `fn()` performs, and the dtypes of the tensors it hands to torch."""
    with _DtypesSeen() as seen:
        _, flops = count_flops(fn)
    return flops, seen.dtypes


def test_bfloat16_speedup_is_float32s_time_over_bfloat16s_on_one_product(monkeypatch, unmeasured_speedup):
    timed = []

    def injected_seconds(functions, rounds):
        timed.append((rounds, {name: _work_of(fn) for name, fn in functions.items()}))
        return {"float32": 3.0, "bfloat16": 1.5}

    monkeypatch.setattr(train_module, "median_seconds", injected_seconds)
    assert unmeasured_speedup("cpu") == 2.0
    assert unmeasured_speedup("cpu") == 2.0  # measured once per process: the second call times nothing
    product = 2 * 2048 * 128 * 512  # the 2048×128 by 128×512 product, in each precision
    assert timed == [(21, {"float32": (product, {torch.float32}), "bfloat16": (product, {torch.bfloat16})})]


def test_text_bits_per_character_counts_every_token_once():
    ids = torch.tensor([1, 2, 3, 4, 5, 6, 7], dtype=torch.long)  # 6 predictions: windows of 4, then 2

    class Uniform(nn.Module):  # every prediction costs ln(8) nats = 3 bits
        def __init__(self):
            super().__init__()
            self.unused = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            assert x.shape[1] in (4, 2)
            return torch.zeros(*x.shape, 8)

    assert text_bits_per_character(Uniform(), ids, n_characters=9, block_size=4) == pytest.approx(6 * 3 / 9)
    assert text_bits_per_character(Uniform(), ids, n_characters=9, block_size=4, batch_size=1) == \
        pytest.approx(6 * 3 / 9)
    assert text_loss(Uniform(), ids, block_size=4) == pytest.approx(math.log(8))
    with pytest.raises(ValueError, match="n_characters must be a whole number >= 1, got 0"):
        text_bits_per_character(Uniform(), ids, n_characters=0, block_size=4)
    with pytest.raises(ValueError, match="block_size must be a whole number >= 1, got 0"):
        text_loss(Uniform(), ids, block_size=0)


def test_too_short_validation_ids_fail_before_training(cache, bigram):
    with pytest.raises(ValueError, match="too few for block_size=16"):
        train(bigram(), _ids()[0], torch.arange(5), SMALL, progress=False)


def test_model_with_wrong_output_is_a_clear_error(cache):
    with pytest.raises(ValueError, match="expected \\(batch, time, vocab\\)"):
        train(_FlatModel(), *_ids(), SMALL, progress=False)


class _FlatModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, VOCAB)

    def forward(self, ids):
        return self.linear(ids[:, :1].float())


def test_a_run_evaluates_every_interval_and_after_its_last_step_whatever_its_length():
    config = TrainConfig(steps=25, eval_interval=10, warmup_steps=1)
    assert [step for step in range(25) if evaluates_after(step, config)] == [9, 19, 24]
    longest = TrainConfig(steps=MAX_STEPS, eval_interval=10, warmup_steps=1)  # decided step by step, no set of steps
    assert evaluates_after(MAX_STEPS - 1, longest) and not evaluates_after(MAX_STEPS - 2, longest)


def test_an_absurd_step_count_is_refused_naming_the_value_and_the_bound():
    with pytest.raises(ConfigError, match=r"TrainConfig.steps must be a whole number from 1 to 1000000 "
                                          r"\(a run keeps a loss per step.*\), got 1000000000000$"):
        TrainConfig(steps=10**12)
    assert TrainConfig(steps=MAX_STEPS).steps == MAX_STEPS


@pytest.mark.parametrize("loss", [-1.0, float("nan"), "1.0", None])
def test_bits_per_character_needs_a_loss_in_nats(loss):
    with pytest.raises(ValueError, match=f"loss must be a finite number >= 0 .*, got {loss!r}"):
        train_module.bits_per_character(loss, 10, 20)  # -1.0 once gave -0.72 bits per character


def test_numpy_counts_in_a_train_config_are_stored_as_ints():
    import json
    from dataclasses import asdict

    import numpy as np

    config = TrainConfig(steps=np.int64(5), batch_size=np.int32(4), warmup_steps=np.int64(1), seed=np.uint8(3))
    assert config == TrainConfig(steps=5, batch_size=4, warmup_steps=1, seed=3)
    json.dumps(asdict(config))  # what a run's cache and history write; once a TypeError after the training
