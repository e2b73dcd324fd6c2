import math

import pytest
import torch

from greenlab.measurement.energy import count_flops
from greenlab.models.gpt import GPT, ATTENTION, SPARSE_KERNELS, GPTConfig, KVCache, causal_mask, math_attention, \
    register_attention, sample, sdpa_attention

SMALL = GPTConfig(vocab_size=97, block_size=24, n_layer=2, n_head=4, n_embd=32)


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(SMALL).eval()


@pytest.mark.parametrize("change, message", [
    ({"n_embd": 30}, "not divisible by n_head"), ({"n_layer": 0}, "n_layer must be a whole number >= 1, got 0"),
    ({"block_size": 2.5}, "block_size"), ({"dropout": 1.0}, "dropout"), ({"attention": "flash9"}, "registered: "),
    ({"dropout": "0.1"}, "dropout must be a finite number >= 0 and < 1, got '0.1'"),
    ({"attention": ["sdpa"]}, "attention=\\['sdpa'\\] is unknown"),
])
def test_bad_config_is_a_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        GPTConfig(**{**SMALL.to_dict(), **change})


def test_logits_shape_and_bad_inputs(model):
    assert model(torch.randint(0, 97, (3, 10))).shape == (3, 10, 97)
    with pytest.raises(ValueError, match="context of 25 tokens is longer than the model's block_size=24"):
        model(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="token id 97 is out of range for vocab_size=97"):
        model(torch.tensor([[1, 97]]))
    with pytest.raises(ValueError, match="shape \\(batch, time\\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(TypeError, match="integer tensor, got torch.float32"):
        model(torch.zeros(1, 5))
    with pytest.raises(TypeError, match="integer tensor, got list"):
        model([[1, 2]])


def test_the_future_does_not_change_the_past(model):
    ids = torch.randint(0, 97, (2, 16))
    changed = ids.clone()
    changed[:, 10:] = (changed[:, 10:] + 1) % 97
    assert torch.allclose(model(ids)[:, :10], model(changed)[:, :10], atol=1e-6)


@pytest.mark.parametrize("query_length, key_length", [(5, 5), (1, 9), (3, 8)])
def test_math_and_sdpa_attention_agree(query_length, key_length):
    q = torch.randn(2, 3, query_length, 8)
    k, v = torch.randn(2, 3, key_length, 8), torch.randn(2, 3, key_length, 8)
    assert torch.allclose(math_attention(q, k, v), sdpa_attention(q, k, v), atol=1e-5)


def test_causal_mask_aligns_the_last_query_with_the_last_key():
    assert causal_mask(2, 4).tolist() == [[True, True, True, False], [True, True, True, True]]


def test_both_attention_paths_give_the_same_model_output(model):
    math_model = GPT(GPTConfig(**{**SMALL.to_dict(), "attention": "math"})).eval()
    math_model.load_state_dict(model.state_dict())
    ids = torch.randint(0, 97, (2, 24))
    assert torch.allclose(math_model(ids), model(ids), atol=1e-5)


def test_registered_attention_is_used(model):
    calls = []

    def spy(q, k, v, window):
        calls.append(q.shape)
        return sdpa_attention(q, k, v, window)

    register_attention("spy", spy)
    try:
        GPT(GPTConfig(**{**SMALL.to_dict(), "attention": "spy"}))(torch.zeros(1, 4, dtype=torch.long))
        assert calls == [(1, 4, 4, 8)] * 2
    finally:
        del ATTENTION["spy"]


def test_the_head_shares_the_token_embedding_and_is_counted_once(model):
    assert model.lm_head.weight is model.wte.weight  # one tensor, not two equal ones
    assert model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr() and model.lm_head.bias is None
    V, T, d = 97, 24, 32  # SMALL, by hand
    per_layer = (2 * d                     # ln_1: weight and bias
                 + d * 3 * d + 3 * d       # attn.c_attn: q, k, v in one product, with bias
                 + d * d + d               # attn.c_proj
                 + 2 * d                   # ln_2
                 + d * 4 * d + 4 * d       # mlp.c_fc
                 + 4 * d * d + d)          # mlp.c_proj
    assert per_layer == 12_704
    blocks_and_final_norm = 2 * per_layer + 2 * d  # n_layer = 2, then ln_f; the head adds nothing of its own
    assert model.num_parameters() == V * d + T * d + blocks_and_final_norm == 29_344
    assert model.num_parameters(include_embeddings=False) == blocks_and_final_norm == 25_472


def test_gpt2_style_init(model):
    torch.manual_seed(0)
    big = GPT(GPTConfig(vocab_size=500, block_size=64, n_layer=8, n_head=4, n_embd=128))
    assert big.wte.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert big.h[0].attn.c_proj.weight.std().item() == pytest.approx(0.02 / 4, rel=0.1)


@pytest.mark.parametrize("attention", ["math", "sdpa"])
def test_flops_per_token_matches_pytorchs_counter(attention):
    torch.manual_seed(0)
    model = GPT(GPTConfig(**{**SMALL.to_dict(), "attention": attention}))
    ids = torch.randint(0, 97, (2, 24))
    _, counted = count_flops(lambda: model(ids))  # sdpa: the CPU's fused kernel, counted by greenlab's energy module
    assert counted == model.flops_per_token(24) * ids.numel()
    assert model.flops_per_token(24, training=True) == 3 * model.flops_per_token(24)


def test_a_registered_kernel_counts_only_the_window_when_it_is_sparse():
    def flops(attention):
        return GPT(GPTConfig(**{**SMALL.to_dict(), "attention": attention, "window": 6})).flops_per_token(24)

    linear = 2 * (32 * 96 + 32 * 32 + 32 * 128 + 128 * 32) + 97 * 32  # SMALL's linear weights, the head included
    dense, windowed = 2 * linear + 4 * 2 * 24 * 32, 2 * linear + 4 * 2 * 6 * 32  # keys: the context, or the window
    assert {name: flops(name) for name in ("math", "sdpa", "blocked", "flex")} == \
        {"math": dense, "sdpa": dense, "blocked": windowed, "flex": windowed}
    try:
        register_attention("skips", sdpa_attention, sparse=True)
        register_attention("masks", sdpa_attention, sparse=False)
        assert (flops("skips"), flops("masks")) == (windowed, dense)
        register_attention("skips", sdpa_attention)  # registered again, dense
        assert flops("skips") == dense
    finally:
        for name in ("skips", "masks"):
            ATTENTION.pop(name, None)
            SPARSE_KERNELS.discard(name)


def test_register_attention_refuses_a_sparse_that_is_not_a_bool():
    with pytest.raises(TypeError, match="sparse must be True or False for attention 'mine', got 'yes'"):
        register_attention("mine", sdpa_attention, sparse="yes")
    assert "mine" not in ATTENTION


def test_kv_cache_gives_the_same_logits(model):
    ids = torch.randint(0, 97, (2, 12))
    cache = KVCache(SMALL.n_layer)
    step_by_step = torch.cat([model(ids[:, :5], cache)] + [model(ids[:, t: t + 1], cache) for t in range(5, 12)], 1)
    assert len(cache) == 12
    assert torch.allclose(step_by_step, model(ids), atol=1e-5)


@pytest.mark.parametrize("prompt_length, new", [(3, 10), (3, 40), (30, 5)])
def test_generation_with_and_without_cache_agree(model, prompt_length, new):
    ids = torch.randint(0, 97, (2, prompt_length))
    with_cache = model.generate(ids, new, temperature=0)
    assert with_cache.shape == (2, prompt_length + new)
    assert torch.equal(with_cache, model.generate(ids, new, temperature=0, use_cache=False))
    sampled = model.generate(ids, new, temperature=0.8, top_k=20, generator=torch.Generator().manual_seed(1))
    again = model.generate(ids, new, temperature=0.8, top_k=20, use_cache=False,
                           generator=torch.Generator().manual_seed(1))
    assert torch.equal(sampled, again)


def test_greedy_sampling_and_filters():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    assert sample(logits, temperature=0).item() == 1
    assert sample(logits, temperature=-1).item() == 1
    g = torch.Generator().manual_seed(0)
    assert {sample(logits, top_k=2, generator=g).item() for _ in range(200)} == {1, 3}
    # probabilities 0.64, 0.24, 0.09, 0.03 for ids 1, 3, 2, 0: the nucleus is the fewest top ids reaching top_p
    assert {sample(logits, top_p=0.5, generator=g).item() for _ in range(200)} == {1}
    assert {sample(logits, top_p=0.7, generator=g).item() for _ in range(200)} == {1, 3}
    assert {sample(logits, top_p=0.88, generator=g).item() for _ in range(400)} == {1, 3}  # 0.644 + 0.237 = 0.881
    assert {sample(logits, top_p=0.89, generator=g).item() for _ in range(400)} == {1, 3, 2}
    with pytest.raises(ValueError, match="top_p"):
        sample(logits, top_p=0)


def _frequencies(logits: torch.Tensor, draws: int = 20_000, **options) -> list[float]:
    ids = sample(logits.expand(draws, -1), generator=torch.Generator().manual_seed(0), **options)
    return (torch.bincount(ids[:, 0], minlength=logits.shape[-1]) / draws).tolist()


def test_sampling_follows_the_softmax_of_the_logits_over_the_temperature():
    logits = torch.tensor([[0.0, 3.0, 1.0, 2.0]])
    e = math.exp
    by_hand = [x / (1 + e(1) + e(2) + e(3)) for x in (1, e(3), e(1), e(2))]  # 0.032, 0.644, 0.087, 0.237
    assert _frequencies(logits) == pytest.approx(by_hand, abs=0.015)
    cooler = [x / (1 + e(2) + e(4) + e(6)) for x in (1, e(6), e(2), e(4))]  # temperature 0.5: logits doubled
    assert _frequencies(logits, temperature=0.5) == pytest.approx(cooler, abs=0.015)
    top_two = [0, e(3) / (e(3) + e(2)), 0, e(2) / (e(3) + e(2))]  # top_k=2: ids 1 and 3, renormalized
    assert _frequencies(logits, top_k=2) == pytest.approx(top_two, abs=0.015)


def test_generate_restores_training_mode(model):
    model.train()
    model.generate(torch.zeros(1, 1, dtype=torch.long), 2)
    assert model.training


def test_attention_maps_are_causal_distributions(model):
    from greenlab.models.gpt import attention_maps

    maps = attention_maps(model, torch.randint(0, 97, (1, 9)))
    assert maps.shape == (2, 4, 9, 9)
    assert torch.allclose(maps.sum(-1), torch.ones(2, 4, 9), atol=1e-5)
    assert maps.triu(1).abs().max() == 0
    with pytest.raises(ValueError, match="one sequence"):
        attention_maps(model, torch.zeros(2, 4, dtype=torch.long))


def test_generation_needs_a_prompt(model):
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="max_new_tokens must be a whole number >= 0, got -2"):
        model.generate(torch.zeros(1, 1, dtype=torch.long), -2)
    with pytest.raises(ValueError, match="temperature must be a finite number .*, got nan"):
        model.generate(torch.zeros(1, 1, dtype=torch.long), 2, temperature=float("nan"))
    with pytest.raises(ValueError, match="top_k"):
        sample(torch.zeros(1, 4), top_k=0)


def test_fit_prompt_keeps_the_end_and_leaves_room_for_the_reply():
    from greenlab.models.gpt import fit_prompt

    assert fit_prompt(list(range(10)), block_size=8, new_tokens=3) == [5, 6, 7, 8, 9]
    assert fit_prompt([1, 2], block_size=8, new_tokens=3) == [1, 2]
    for new_tokens in (0, 8, 2.5, True):
        with pytest.raises(ValueError, match="new_tokens must be a whole number from 1 to 7"):
            fit_prompt([1], 8, new_tokens)
    with pytest.raises(ValueError, match="the prompt is empty"):
        fit_prompt([], 8, 3)


@pytest.mark.parametrize("context", [-5, 2.5, "8"])
def test_flops_per_token_needs_a_whole_context(model, context):
    with pytest.raises(ValueError, match=f"context must be a whole number >= 1, got {context!r}"):
        model.flops_per_token(context)  # -5 once gave a smaller count than any real context


@pytest.mark.parametrize("name, fn, error", [(5, math_attention, ValueError), ("", math_attention, ValueError),
                                             ("mine", None, TypeError), ("mine", "math", TypeError)])
def test_register_attention_refuses_a_bad_name_or_a_non_function(name, fn, error):
    try:  # once registered, to fail only inside a later model's forward pass
        with pytest.raises(error, match=repr(name) if error is ValueError else "must be a function"):
            register_attention(name, fn)
    finally:
        registered = ATTENTION.pop(name, None)
    assert registered is None


def test_numpy_counts_in_a_config_are_stored_as_ints_so_the_model_saves(tmp_path):
    import json

    import numpy as np

    from greenlab.foundations.checkpoints import load_checkpoint, save_checkpoint

    config = GPTConfig(vocab_size=np.int64(20), block_size=np.int64(8), n_layer=1, n_head=2, n_embd=8,
                       window=np.int32(4))
    assert config == GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8, window=4)
    json.dumps(config.to_dict())  # once a TypeError at save time, after the training
    path = save_checkpoint(GPT(config), tmp_path / "model.safetensors")
    load_checkpoint(GPT(config), path)
