import pytest
import torch
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

from greenlab.experiments.generation_cost import generation_cost
from greenlab.measurement import ledger
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training.compress import nonzero_parameters, prune, quantize_int8, size_on_disk

CONFIG = GPTConfig(vocab_size=64, block_size=16, n_layer=2, n_head=2, n_embd=32)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return GPT(CONFIG).eval()


LINEAR_LAYERS = [f"h.{i}.{name}" for i in range(2) for name in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")]


def test_int8_keeps_the_outputs_close_and_shrinks_the_file(model):
    quantized = quantize_int8(model)
    ids = torch.randint(0, 64, (2, 16))
    with torch.no_grad():
        error = (quantized(ids) - model(ids)).abs().max()
    assert 0 < error < 0.02  # rounded: off by less than 0.02 on logits that reach ±0.6
    linear_weights = sum(original.weight.numel() for name, original in model.named_modules() if name in LINEAR_LAYERS)
    saved = size_on_disk(model)[0] - size_on_disk(quantized)[0]
    # 3 of every 4 bytes of each linear weight, less the tied head's own int8 copy and each layer's packing
    assert saved >= 3 * linear_weights - model.lm_head.weight.numel() - 1000 * len(LINEAR_LAYERS + ["lm_head"])


def test_int8_replaces_every_linear_layer_of_a_copy_and_leaves_the_original_float(model):
    quantized = quantize_int8(model)
    quantized_layers = {name: m for name, m in quantized.named_modules() if isinstance(m, DynamicQuantizedLinear)}
    assert sorted(quantized_layers) == sorted(LINEAR_LAYERS + ["lm_head"])  # the tied head too
    assert all(m.weight().dtype == torch.qint8 for m in quantized_layers.values())
    assert not any(type(m) is nn.Linear for m in quantized.modules())  # no float Linear is left behind
    original = dict(model.named_modules())  # the original is left alone: float nn.Linear, float32 weights
    assert all(type(original[name]) is nn.Linear and original[name].weight.dtype == torch.float32
               for name in LINEAR_LAYERS + ["lm_head"])
    assert model.lm_head.weight is model.wte.weight


def test_unstructured_pruning_zeroes_the_smallest_weights_but_not_the_tied_head(model):
    pruned = prune(model, 0.5)
    layer, original = pruned.h[0].mlp.c_fc.weight, model.h[0].mlp.c_fc.weight
    assert (layer == 0).float().mean() == pytest.approx(0.5, abs=0.01)
    assert original[layer == 0].abs().max() <= original[layer != 0].abs().min()
    assert torch.equal(pruned.wte.weight, model.wte.weight)
    assert nonzero_parameters(pruned) < nonzero_parameters(model)
    assert size_on_disk(pruned)[1] < size_on_disk(model)[1]  # zeros compress


def test_structured_pruning_removes_whole_rows(model):
    weight = prune(model, 0.25, structured=True).h[1].attn.c_proj.weight
    zero_rows = (weight == 0).all(dim=1)
    assert zero_rows.sum() == 8 and ((weight == 0).sum() == 8 * 32)


@pytest.mark.parametrize("amount", [-0.1, 1.0, 2])
def test_pruning_amount_is_validated(model, amount):
    with pytest.raises(ValueError, match=r"in \[0, 1\)"):
        prune(model, amount)


def _counting_generations(model, monkeypatch) -> list[tuple[tuple[int, ...], int]]:
    """The (prompt shape, new tokens) of every call of `model.generate` from now on."""
    calls, generate = [], model.generate
    monkeypatch.setattr(model, "generate", lambda prompt, new_tokens, **options:
                        calls.append((tuple(prompt.shape), new_tokens)) or generate(prompt, new_tokens, **options))
    return calls


def test_generation_cost_counts_the_tokens_of_whole_calls_and_records_an_inference_row(cache, model, monkeypatch):
    calls = _counting_generations(model, monkeypatch)
    cost = generation_cost(model, "tiny", bits_per_char=3.0, batch_size=2, new_tokens=5, min_seconds=0.2)
    assert calls[0] == ((2, 8), 4) and len(calls) > 1 and set(calls[1:]) == {((2, 8), 5)}  # a warm-up, then timed
    assert cost.uses == 2 * 5 * (len(calls) - 1)  # a use is a generated token
    assert cost.measurement.duration_s >= 0.2  # the measured block encloses the generations
    assert cost.uses_per_s == cost.uses / cost.measurement.duration_s
    assert cost.joules_per_1000 == pytest.approx(cost.measurement.energy_j / cost.uses * 1000)
    assert cost.measurement.label == f"generate: tiny, batch 2, {cost.uses} tokens"
    stored = ledger.load().iloc[-1]
    assert len(ledger.load()) == 1 and stored["tokens"] == cost.uses and stored["label"] == cost.measurement.label
    row = ledger.models().iloc[0]
    assert row["model"] == "tiny" and row["bits_per_char"] == 3.0
    assert row["joules_per_1k_tokens"] == pytest.approx(cost.joules_per_1000)


def test_a_ledger_that_cannot_be_written_costs_a_warning_not_the_measurement(cache, model):
    ledger.ledger_path().mkdir()  # a folder where the ledger should be
    with pytest.warns(UserWarning, match="not in the green ledger"):
        cost = generation_cost(model, "tiny", batch_size=1, new_tokens=2, min_seconds=0.1)
    assert cost.measurement.available and cost.measurement.duration_s >= 0.1 and cost.uses >= 2 and cost.uses % 2 == 0


def test_int8_weights_are_counted(model):
    quantized = quantize_int8(model)
    layers = [m for m in quantized.modules() if isinstance(m, DynamicQuantizedLinear)]
    rounded_to_zero = sum(int((m.weight().int_repr() == 0).sum()) for m in layers)
    assert rounded_to_zero > 0
    # the float model's values; the head, tied to the embedding there, gets an int8 copy of its own; every
    # quantized layer also stores its output scale, 1.0
    assert nonzero_parameters(quantized) == (nonzero_parameters(model) + model.lm_head.weight.numel()
                                             - rounded_to_zero + len(layers))


def test_measuring_generation_leaves_the_model_in_its_mode(cache):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.1)).train()
    generation_cost(model, "tiny", new_tokens=2, min_seconds=0.1, record=False)
    assert model.training
