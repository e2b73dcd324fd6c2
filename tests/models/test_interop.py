import pytest
import torch
from transformers import AutoModelForCausalLM

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
