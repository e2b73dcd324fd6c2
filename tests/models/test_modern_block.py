"""The modern block (RMSNorm, RoPE, SwiGLU, no biases, QK-norm) as options of GPTConfig, GPT-2's block the default."""

import json
from dataclasses import dataclass

import pytest
import torch

import greenlab
from greenlab.foundations.checkpoints import load_checkpoint, save_checkpoint
from greenlab.measurement.energy import count_flops
from greenlab.models.gpt import ATTENTION, GPT, GPTConfig, KVCache, attention_maps, attention_probabilities, \
    register_attention, rotate, sdpa_attention
from greenlab.training.cache import fingerprint

SHAPE = dict(vocab_size=71, block_size=37, n_layer=3, n_head=3, n_embd=48)
LLAMA = GPTConfig(**SHAPE, norm="rmsnorm", positions="rope", mlp="swiglu", bias=False)
QWEN3 = GPTConfig(**{**LLAMA.to_dict(), "qk_norm": True})
GPT2_KEYS = ["vocab_size", "block_size", "n_layer", "n_head", "n_embd", "dropout", "attention", "window"]


def _shaken(config: GPTConfig) -> GPT:
    """A model of `config` with every weight moved away from its initial value (norm weights included)."""
    torch.manual_seed(0)
    model = GPT(config)
    with torch.no_grad():
        for p in model.parameters():
            p += 0.1 * torch.randn_like(p)
    return model.eval()


# --- the config ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"norm": "batchnorm"}, "GPTConfig.norm='batchnorm' is unknown; choices: layernorm, rmsnorm"),
    ({"positions": "alibi"}, "GPTConfig.positions='alibi' is unknown; choices: learned, rope"),
    ({"mlp": "relu"}, "GPTConfig.mlp='relu' is unknown; choices: gelu, swiglu"),
    ({"mlp": None}, "GPTConfig.mlp=None is unknown"),
    ({"qk_norm": "yes"}, "GPTConfig.qk_norm must be True or False, got 'yes'"),
    ({"bias": 1}, "GPTConfig.bias must be True or False, got 1"),
    ({"rope_theta": 0}, "GPTConfig.rope_theta must be a finite number > 1, got 0"),
    ({"mlp_hidden": 0}, "GPTConfig.mlp_hidden must be a whole number >= 1, got 0"),
    ({"n_head": 16, "n_embd": 48}, "head width n_embd / n_head must be even, got 3"),
])
def test_a_bad_option_is_a_clear_error(change, message):
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")):
        GPTConfig(**{**LLAMA.to_dict(), **change})


def test_the_defaults_are_gpt2s_block_and_are_left_out_of_the_dict():
    assert list(GPTConfig().to_dict()) == GPT2_KEYS  # a GPT-2 config saves as before the options existed
    assert QWEN3.to_dict() == {**GPTConfig(**SHAPE).to_dict(), "norm": "rmsnorm", "positions": "rope",
                               "mlp": "swiglu", "qk_norm": True, "bias": False}
    for config in (LLAMA, QWEN3, GPTConfig(rope_theta=5e5, mlp_hidden=100)):
        assert GPTConfig(**config.to_dict()) == config
    assert repr(GPTConfig(n_layer=2)) == ("GPTConfig(vocab_size=4096, block_size=128, n_layer=2, n_head=4, n_embd=128, "
                                          "dropout=0.0, attention='sdpa', window=None)")  # printed as before
    assert repr(LLAMA).endswith("window=None, norm='rmsnorm', positions='rope', mlp='swiglu', bias=False)")


def test_an_old_config_and_checkpoint_still_load(tmp_path):
    old = {"vocab_size": 50, "block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 8, "dropout": 0.0,
           "attention": "sdpa", "window": None}  # a saved config from before the options existed
    config = GPTConfig(**old)
    assert config.norm == "layernorm" and config.positions == "learned" and config.bias
    path = save_checkpoint(GPT(config), tmp_path / "model.safetensors")
    from safetensors import safe_open
    with safe_open(str(path), framework="pt") as f:
        assert json.loads(f.metadata()["config"]) == old
    load_checkpoint(GPT(GPTConfig(**old)), path)


@dataclass(frozen=True)
class _Holder:  # a dataclass holding a config, as a recipe does
    name: str
    model: GPTConfig


def test_fingerprints_of_gpt2_configs_are_those_from_before_the_options(monkeypatch):
    # Hard-coded: computed with the code before these options existed, under greenlab 0.1.0 (the version is hashed).
    monkeypatch.setattr(greenlab, "__version__", "0.1.0")
    assert fingerprint(GPTConfig()) == "2091b8462aeccadb"
    small = GPTConfig(vocab_size=300, block_size=16, n_layer=1, n_head=2, n_embd=16, window=4)
    assert fingerprint({"models": [_Holder("a", small)]}) == "594302ff3dbf4dfa"  # a config inside a dataclass
    modern = [GPTConfig(norm="rmsnorm"), GPTConfig(positions="rope"), GPTConfig(mlp="swiglu"),
              GPTConfig(qk_norm=True), GPTConfig(bias=False), GPTConfig(positions="rope", rope_theta=5e5),
              GPTConfig(mlp_hidden=100)]
    assert len({fingerprint(config) for config in [GPTConfig(), *modern]}) == 1 + len(modern)
    assert fingerprint(_Holder("a", GPTConfig(mlp="swiglu"))) != fingerprint(_Holder("a", GPTConfig()))


# --- the model -----------------------------------------------------------------------------------------

def test_the_modern_block_has_the_modern_pieces_and_counts_its_weights():
    model = GPT(QWEN3)
    V, d, h = 71, 48, 128  # h: SwiGLU's width, 2/3 · 4 · 48 = 128 (already a multiple of 64)
    assert QWEN3.mlp_width == h and GPTConfig(n_embd=128, mlp="swiglu").mlp_width == 384  # 341.3 rounded up
    per_layer = (d                  # ln_1: RMSNorm, a weight and no bias
                 + d * 3 * d        # attn.c_attn, no bias
                 + 2 * (d // 3)     # q_norm and k_norm, over one head's 16 dimensions
                 + d * d            # attn.c_proj
                 + d                # ln_2
                 + 3 * d * h)       # SwiGLU: gate, fc and proj
    assert not hasattr(model, "wpe")  # RoPE: no position table
    assert model.num_parameters() == V * d + 3 * per_layer + d
    assert model.num_parameters(include_embeddings=False) == 3 * per_layer + d
    assert all(not name.endswith("bias") for name, _ in model.named_parameters())


def test_rope_makes_scores_depend_on_the_distance_only():
    torch.manual_seed(0)
    q, k = torch.randn(1, 2, 1, 16), torch.randn(1, 2, 1, 16)
    score = (rotate(q, 7, 1e4) * rotate(k, 3, 1e4)).sum()  # query at 7, key at 3
    assert torch.allclose(score, (rotate(q, 30, 1e4) * rotate(k, 26, 1e4)).sum(), atol=1e-4)  # also 4 apart
    assert not torch.allclose(score, (rotate(q, 30, 1e4) * rotate(k, 25, 1e4)).sum(), atol=1e-2)
    assert torch.equal(rotate(q, 0, 1e4), q)  # position 0: no rotation
    assert torch.allclose(rotate(q, 5, 1e4).norm(), q.norm())  # a rotation keeps lengths


@pytest.mark.parametrize("config", [LLAMA, QWEN3, GPTConfig(**SHAPE, positions="rope"),
                                    GPTConfig(**{**QWEN3.to_dict(), "window": 6, "attention": "blocked"})])
def test_the_kv_cache_continues_rope_positions(config):
    model = _shaken(config)
    ids = torch.randint(0, 71, (2, 29))
    cache = KVCache(config.n_layer)
    step_by_step = torch.cat([model(ids[:, :5], cache)] + [model(ids[:, t: t + 1], cache) for t in range(5, 29)], 1)
    assert (step_by_step - model(ids)).abs().max() < 1e-5
    changed = ids.clone()
    changed[:, 20:] = (changed[:, 20:] + 1) % 71
    assert (model(ids)[:, :20] - model(changed)[:, :20]).abs().max() < 1e-5  # the future does not change the past


@pytest.mark.parametrize("new", [10, 50])  # 50: past block_size, where each step re-reads the last 37 tokens
def test_generation_with_and_without_cache_agree(new):
    model = _shaken(QWEN3)
    ids = torch.randint(0, 71, (2, 4))
    assert torch.equal(model.generate(ids, new, temperature=0), model.generate(ids, new, temperature=0,
                                                                               use_cache=False))


def test_attention_maps_include_qk_norm_and_rope():
    seen = []

    def spy(q, k, v, window):
        seen.append(attention_probabilities(q, k, window)[0])
        return sdpa_attention(q, k, v, window)

    register_attention("spy", spy)
    try:
        model = _shaken(GPTConfig(**{**QWEN3.to_dict(), "attention": "spy"}))
        maps = attention_maps(model, torch.randint(0, 71, (1, 11)))
    finally:
        del ATTENTION["spy"]
    assert maps.shape == (3, 3, 11, 11)
    assert torch.allclose(maps, torch.stack(seen), atol=1e-6)  # what the layers computed


@pytest.mark.parametrize("attention", ["math", "sdpa"])
@pytest.mark.parametrize("config", [LLAMA, QWEN3, GPTConfig(**SHAPE, norm="rmsnorm"),
                                    GPTConfig(**SHAPE, positions="rope"), GPTConfig(**SHAPE, mlp="swiglu"),
                                    GPTConfig(**SHAPE, bias=False), GPTConfig(**SHAPE, mlp_hidden=40)])
def test_flops_per_token_matches_pytorchs_counter(config, attention):
    model = _shaken(GPTConfig(**{**config.to_dict(), "attention": attention}))
    ids = torch.randint(0, 71, (2, 29))
    _, counted = count_flops(lambda: model(ids))
    assert counted == model.flops_per_token(29) * ids.numel()


def test_flops_per_token_counts_swiglus_three_matrices():
    d, h, V = 48, 128, 71
    attention = 4 * 3 * 37 * d  # three layers, 37 keys
    assert GPT(LLAMA).flops_per_token() == 2 * (3 * (d * 3 * d + d * d + 3 * d * h) + V * d) + attention
