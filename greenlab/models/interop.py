"""Our GPT on Hugging Face, weight for weight: GPT-2's block as `GPT2LMHeadModel`, the modern block as
`LlamaForCausalLM` (with `qk_norm`, `Qwen3ForCausalLM`).

GPT-2: two differences in bookkeeping only. Hugging Face stores linear layers as `Conv1D` with the weight
transposed, and calls the pieces `transformer.h.0.attn.c_attn` where we say `h.0.attn.c_attn`. The activation is
the exact GELU ("gelu"; GPT-2 itself used the tanh approximation, "gelu_new").

Llama and Qwen3: the same computation under other names (`_modern_names`), with queries, keys and values in three
matrices where we have one. Our RoPE pairs dimension i with i + head_dim / 2, as Hugging Face's Llama does, so
queries and keys need no reordering. Dropout is not carried: it only acts in training.
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedModel, Qwen3Config,
                          Qwen3ForCausalLM)

from greenlab.foundations.settings import OfflineError, is_offline
from greenlab.models.gpt import GPT, RMS_NORM_EPS, GPTConfig

_TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_GPT2_BLOCK = {"norm": "layernorm", "positions": "learned", "mlp": "gelu", "qk_norm": False, "bias": True}
_LLAMA_BLOCK = {"norm": "rmsnorm", "positions": "rope", "mlp": "swiglu"}


def hf_architecture(config: GPTConfig) -> str:
    """Which Hugging Face class computes what a model of this config computes: "gpt2", "llama" or "qwen3". A
    ValueError names the options that no standard class matches."""
    if config.window is not None:
        raise ValueError(f"GPT-2, Llama and Qwen3 here attend to every earlier token; this model uses a sliding "
                         f"window of {config.window}, which none of them expresses")
    departures = {name: [f"{option}={getattr(config, option)!r}" for option, value in block.items()
                         if getattr(config, option) != value]
                  for name, block in (("GPT-2", _GPT2_BLOCK), ("Llama", _LLAMA_BLOCK))}
    if not departures["GPT-2"]:
        return "gpt2"
    if departures["Llama"]:
        raise ValueError(f"no standard Hugging Face class has this block: it differs from GPT-2's in "
                         f"{', '.join(departures['GPT-2'])} and from Llama's in {', '.join(departures['Llama'])}")
    if config.qk_norm and config.bias:
        raise ValueError("qk_norm=True is Qwen3's block, whose MLP has no biases: use bias=False")
    return "qwen3" if config.qk_norm else "llama"


def hf_config(config: GPTConfig) -> GPT2Config | LlamaConfig | Qwen3Config:
    """The Hugging Face config of the same architecture (`hf_architecture` says which)."""
    architecture = hf_architecture(config)
    if architecture == "gpt2":
        return GPT2Config(vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd,
                          n_layer=config.n_layer, n_head=config.n_head, n_inner=config.mlp_width,
                          activation_function="gelu", resid_pdrop=config.dropout, embd_pdrop=config.dropout,
                          attn_pdrop=0.0, layer_norm_epsilon=1e-5, tie_word_embeddings=True,
                          bos_token_id=config.vocab_size - 1, eos_token_id=config.vocab_size - 1)
    shared = dict(vocab_size=config.vocab_size, hidden_size=config.n_embd, intermediate_size=config.mlp_width,
                  num_hidden_layers=config.n_layer, num_attention_heads=config.n_head,
                  num_key_value_heads=config.n_head, head_dim=config.head_dim, hidden_act="silu",
                  max_position_embeddings=config.block_size, rms_norm_eps=RMS_NORM_EPS, tie_word_embeddings=True,
                  rope_parameters={"rope_type": "default", "rope_theta": float(config.rope_theta)},
                  attention_bias=config.bias, attention_dropout=0.0,
                  bos_token_id=config.vocab_size - 1, eos_token_id=config.vocab_size - 1)
    if architecture == "qwen3":
        return Qwen3Config(**shared, use_sliding_window=False)
    return LlamaConfig(**shared, mlp_bias=config.bias)


_MODERN_NAMES = {"wte": "model.embed_tokens", "ln_f": "model.norm", "lm_head": "lm_head",
                 "ln_1": "input_layernorm", "ln_2": "post_attention_layernorm",
                 "attn.c_attn": ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
                 "attn.c_proj": "self_attn.o_proj", "attn.q_norm": "self_attn.q_norm",
                 "attn.k_norm": "self_attn.k_norm",
                 "mlp.c_gate": "mlp.gate_proj", "mlp.c_fc": "mlp.up_proj", "mlp.c_proj": "mlp.down_proj"}


def _modern_names(key: str) -> list[str]:
    """The Llama/Qwen3 names of the tensors that make our tensor `key`, stacked along its first dimension: one
    tensor, or three for `c_attn` (queries, keys, values)."""
    layer, module, kind = re.fullmatch(r"(?:h\.(\d+)\.)?(.+)\.(weight|bias)", key).groups()
    names = _MODERN_NAMES[module]
    prefix = "" if layer is None else f"model.layers.{layer}."
    return [f"{prefix}{name}.{kind}" for name in ((names,) if isinstance(names, str) else names)]


def to_hf(model: GPT) -> PreTrainedModel:
    """A `GPT2LMHeadModel`, `LlamaForCausalLM` or `Qwen3ForCausalLM` with our weights (the one that
    `hf_architecture` names): the same logits for the same tokens."""
    architecture = hf_architecture(model.config)
    ours = model.state_dict()
    if architecture == "gpt2":
        hf = GPT2LMHeadModel(hf_config(model.config))
        with torch.no_grad():
            for name, target in hf.state_dict().items():
                key = name.removeprefix("transformer.")
                if key not in ours:
                    continue  # e.g. HF's lm_head.weight, tied to wte
                source = ours[key].t() if key.endswith(_TRANSPOSED) else ours[key]
                target.copy_(source)
    else:
        hf = (Qwen3ForCausalLM if architecture == "qwen3" else LlamaForCausalLM)(hf_config(model.config))
        theirs = hf.state_dict()
        with torch.no_grad():
            for key, tensor in ours.items():
                names = _modern_names(key)
                for name, part in zip(names, tensor.chunk(len(names))):
                    theirs[name].copy_(part)
    hf.tie_weights()
    return hf.eval()


def _modern_config(c: LlamaConfig | Qwen3Config) -> GPTConfig:
    """Our config for a Llama or Qwen3 config; a ValueError names what our GPT cannot represent."""
    qk_norm = c.model_type == "qwen3"
    bias = bool(c.attention_bias)
    unsupported = {
        "num_key_value_heads": c.num_key_value_heads != c.num_attention_heads,  # grouped-query attention
        "head_dim": getattr(c, "head_dim", None) not in (None, c.hidden_size // c.num_attention_heads),
        "hidden_act": c.hidden_act != "silu",
        "rms_norm_eps": c.rms_norm_eps != RMS_NORM_EPS,
        "tie_word_embeddings": not c.tie_word_embeddings,  # our head shares the token embedding
        "rope_parameters": c.rope_parameters.get("rope_type", "default") != "default",
        "mlp_bias": getattr(c, "mlp_bias", False) != (bias and not qk_norm),  # one `bias` for attention and MLP
        "attention_bias": qk_norm and bias,  # Qwen3's MLP has no biases
        "use_sliding_window": bool(getattr(c, "use_sliding_window", False)),
    }
    if any(unsupported.values()):
        raise ValueError(f"our GPT cannot represent this {type(c).__name__}: "
                         + ", ".join(f"{name}={getattr(c, name, None)!r}" for name, bad in unsupported.items() if bad))
    config = GPTConfig(vocab_size=c.vocab_size, block_size=c.max_position_embeddings, n_layer=c.num_hidden_layers,
                       n_head=c.num_attention_heads, n_embd=c.hidden_size, norm="rmsnorm", positions="rope",
                       mlp="swiglu", qk_norm=qk_norm, bias=bias, rope_theta=c.rope_parameters["rope_theta"])
    return _with_mlp_width(config, c.intermediate_size)


def _with_mlp_width(config: GPTConfig, width: int | None) -> GPTConfig:
    """`config` with that MLP width, named in `mlp_hidden` only when the default rule gives another (None: the
    rule's): a model that went to Hugging Face and back has the config it had."""
    return config if width in (None, config.mlp_width) else replace(config, mlp_hidden=width)


def from_hf(hf: PreTrainedModel) -> GPT:
    """Our GPT with the weights of a Hugging Face GPT-2 (e.g. the pretrained "gpt2"), or of a Llama or Qwen3 that
    our options represent (e.g. one `to_hf` made)."""
    c = hf.config
    if c.model_type in ("llama", "qwen3"):
        model = GPT(_modern_config(c))
        theirs = hf.state_dict()
        with torch.no_grad():
            for key, target in model.state_dict().items():
                target.copy_(torch.cat([theirs[name] for name in _modern_names(key)]))
        return model
    if c.model_type != "gpt2":
        raise ValueError(f"from_hf reads GPT-2, Llama and Qwen3 models, got a {type(hf).__name__}")
    if c.activation_function not in ("gelu", "gelu_new"):
        raise ValueError(f"unsupported activation {c.activation_function!r}")
    model = GPT(_with_mlp_width(GPTConfig(vocab_size=c.vocab_size, block_size=c.n_positions, n_layer=c.n_layer,
                                          n_head=c.n_head, n_embd=c.n_embd), c.n_inner))
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
