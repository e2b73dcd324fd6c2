import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, Qwen3ForCausalLM

from greenlab.foundations.settings import OfflineError
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.models.interop import from_hf, pretrained_gpt2, to_hf

CONFIG = GPTConfig(vocab_size=120, block_size=32, n_layer=2, n_head=4, n_embd=48)


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    model = GPT(CONFIG)
    for p in model.parameters():  # move away from the init so that every weight matters
        p.data += 0.05 * torch.randn_like(p)
    return model.eval()


def test_hugging_face_model_gives_the_same_logits(model):
    ids = torch.randint(0, 120, (3, 32))
    hf = to_hf(model)
    assert (hf(ids).logits - model(ids)).abs().max() < 1e-4


def test_save_pretrained_and_auto_model_offline(model, tmp_path):
    to_hf(model).save_pretrained(tmp_path / "gpt")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / "gpt", local_files_only=True).eval()
    ids = torch.randint(0, 120, (2, 16))
    assert (reloaded(ids).logits - model(ids)).abs().max() < 1e-4
    back = from_hf(reloaded).eval()
    assert (back(ids) - model(ids)).abs().max() < 1e-5


def test_hf_generate_matches_ours_greedily(model):
    ids = torch.randint(0, 120, (1, 5))
    ours = model.generate(ids, 12, temperature=0)
    theirs = to_hf(model).generate(ids, max_new_tokens=12, do_sample=False, pad_token_id=0)
    assert torch.equal(ours, theirs)


def test_pretrained_gpt2_is_a_clear_error_offline():
    with pytest.raises(OfflineError, match="offline"):
        pretrained_gpt2()


# --- the modern block: Llama, and Qwen3 with qk_norm ----------------------------------------------------

MODERN = {"llama": GPTConfig(vocab_size=71, block_size=37, n_layer=3, n_head=3, n_embd=48, norm="rmsnorm",
                             positions="rope", mlp="swiglu", bias=False)}  # an odd shape
MODERN["qwen3"] = GPTConfig(**{**MODERN["llama"].to_dict(), "qk_norm": True})
MODERN["llama with biases"] = GPTConfig(**{**MODERN["llama"].to_dict(), "bias": True, "rope_theta": 500.0,
                                           "mlp_hidden": 100})


def _shaken(config: GPTConfig) -> GPT:
    torch.manual_seed(0)
    model = GPT(config)
    for p in model.parameters():  # norm weights too: every weight must land in its place
        p.data += 0.1 * torch.randn_like(p)
    return model.eval()


@pytest.mark.parametrize("name, cls", [("llama", LlamaForCausalLM), ("qwen3", Qwen3ForCausalLM),
                                       ("llama with biases", LlamaForCausalLM)])
def test_the_modern_block_exports_to_the_same_logits_and_back(name, cls, tmp_path, monkeypatch):
    model = _shaken(MODERN[name])
    ids = torch.randint(0, 71, (3, 29))
    hf = to_hf(model)
    assert type(hf) is cls and hf.config.tie_word_embeddings
    assert (hf(ids).logits - model(ids)).abs().max() < 1e-5
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hf.save_pretrained(tmp_path / name)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path / name, local_files_only=True).eval()
    assert type(reloaded) is cls
    assert (reloaded(ids).logits - model(ids)).abs().max() < 1e-5
    back = from_hf(reloaded).eval()
    assert back.config == model.config and (back(ids) - model(ids)).abs().max() < 1e-5


@pytest.mark.parametrize("name", ["llama", "qwen3"])
def test_hf_generation_with_its_cache_matches_our_logits(name):
    model = _shaken(MODERN[name])
    ids = torch.randint(0, 71, (2, 6))
    out = to_hf(model).generate(ids, max_new_tokens=12, do_sample=False, pad_token_id=0, output_logits=True,
                                return_dict_in_generate=True)
    ours = model(out.sequences)[:, 5:-1]  # no cache: the logits that chose each new token
    assert (torch.stack(out.logits, dim=1) - ours).abs().max() < 1e-5
    assert torch.equal(model.generate(ids, 12, temperature=0), out.sequences)


@pytest.mark.parametrize("change, message", [
    ({"positions": "rope"}, "differs from GPT-2's in positions='rope' and from Llama's in norm='layernorm', "
                            "mlp='gelu'"),
    ({"bias": False}, "differs from GPT-2's in bias=False"),
    ({"norm": "rmsnorm", "positions": "rope", "mlp": "swiglu", "qk_norm": True}, "Qwen3.*use bias=False"),
])
def test_a_block_no_standard_class_has_is_a_clear_error(change, message):
    with pytest.raises(ValueError, match=message):
        to_hf(GPT(GPTConfig(**{**CONFIG.to_dict(), **change})))


def test_from_hf_refuses_what_our_gpt_cannot_represent():
    grouped = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                          num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)
    with pytest.raises(ValueError, match="cannot represent this LlamaConfig: num_key_value_heads=2"):
        from_hf(LlamaForCausalLM(grouped))
    untied = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=4)
    with pytest.raises(ValueError, match="tie_word_embeddings=False"):
        from_hf(LlamaForCausalLM(untied))
