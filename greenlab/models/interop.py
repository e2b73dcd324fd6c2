"""Our GPT is GPT-2's architecture: map it onto Hugging Face's `GPT2LMHeadModel`, weight for weight.

Two differences in bookkeeping only: Hugging Face stores linear layers as `Conv1D` with the weight transposed,
and calls the pieces `transformer.h.0.attn.c_attn` where we say `h.0.attn.c_attn`. The activation is the exact
GELU ("gelu"; GPT-2 itself used the tanh approximation, "gelu_new").
"""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from greenlab.foundations.settings import OfflineError, is_offline
from greenlab.models.gpt import GPT, GPTConfig

_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def hf_config(config: GPTConfig) -> GPT2Config:
    """The `GPT2Config` of the same architecture."""
    return GPT2Config(vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd,
                      n_layer=config.n_layer, n_head=config.n_head, n_inner=4 * config.n_embd,
                      activation_function="gelu", resid_pdrop=config.dropout, embd_pdrop=config.dropout,
                      attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                      bos_token_id=config.vocab_size - 1, eos_token_id=config.vocab_size - 1)


def to_hf(model: GPT) -> GPT2LMHeadModel:
    """A `transformers.GPT2LMHeadModel` with our weights: the same logits for the same tokens."""
    if model.config.window is not None:
        raise ValueError(f"GPT-2 attends to every earlier token; this model uses a sliding window of "
                         f"{model.config.window}, which GPT2LMHeadModel cannot express")
    hf = GPT2LMHeadModel(hf_config(model.config))
    ours = model.state_dict()
    with torch.no_grad():
        for name, target in hf.state_dict().items():
            key = name.removeprefix("transformer.")
            if key not in ours:
                continue  # e.g. HF's lm_head.weight, tied to wte
            source = ours[key].t() if key.endswith(_TRANSPOSED) else ours[key]
            target.copy_(source)
    hf.tie_weights()
    return hf.eval()


def from_hf(hf: GPT2LMHeadModel) -> GPT:
    """Our GPT with the weights of a Hugging Face GPT-2 (e.g. the pretrained "gpt2")."""
    c = hf.config
    if c.activation_function not in ("gelu", "gelu_new"):
        raise ValueError(f"unsupported activation {c.activation_function!r}")
    model = GPT(GPTConfig(vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer, n_head=c.n_head,
                          n_embd=c.n_embd))
    if c.activation_function == "gelu_new":
        for block in model.h:
            block.mlp.gelu = torch.nn.GELU(approximate="tanh")
    theirs = hf.state_dict()
    with torch.no_grad():
        for key, target in model.state_dict().items():
            source = theirs[f"transformer.{key}"] if key != "lm_head.weight" else theirs["lm_head.weight"]
            target.copy_(source.t() if key.endswith(_TRANSPOSED) else source)
    return model


def pretrained_gpt2(name: str = "gpt2") -> GPT2LMHeadModel:
    """OpenAI's GPT-2 from the Hugging Face Hub (online only; offline, a clear error at once)."""
    if is_offline():
        raise OfflineError(f"the pretrained {name!r} is downloaded from the Hugging Face Hub, and this machine is "
                           "offline; the course's own models are trained locally (greenlab.training.zoo)")
    return GPT2LMHeadModel.from_pretrained(name)
