"""A GPT, block by block: the decoder-only Transformer of GPT-2, in one readable file (after nanoGPT).

    tokens ─► token embedding + position embedding
           ─► n_layer × Block:  x + Attention(LayerNorm(x)),  then  x + MLP(LayerNorm(x))     (pre-LayerNorm)
           ─► LayerNorm ─► linear head (sharing its weights with the token embedding) ─► logits

The modern block (Llama, Qwen3, OLMo 2) changes four pieces, each an option of `GPTConfig` with GPT-2's as the
default: RMSNorm for LayerNorm (`norm`), rotary position embeddings inside attention for the position table
(`positions`), a SwiGLU MLP for the GELU one (`mlp`), no biases (`bias`), and optionally RMSNorm over each head's
queries and keys (`qk_norm`).

Attention is pluggable (`GPTConfig.attention`, `register_attention`), with the same result from each: "math" written
out for teaching, "sdpa" PyTorch's fused kernel, and for a sliding window (`GPTConfig.window`) the sparse kernels of
`greenlab.models.attention`, "blocked" and "flex".
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from greenlab.foundations.validation import check_number, check_whole
from greenlab.models.attention.kernels import flex_sliding_window, sliding_window_attention
from greenlab.models.attention.patterns import causal as causal_mask  # True where a query may look

AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "int | None"], torch.Tensor]


def attention_probabilities(q: torch.Tensor, k: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """How much each query attends to each key: scaled scores, causal mask, softmax. (B, heads, Tq, Tk)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # how well each query fits each key
    scores = scores.masked_fill(~causal_mask(q.shape[-2], k.shape[-2], window, device=q.device), float("-inf"))
    return scores.softmax(dim=-1)  # each row sums to 1


def math_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """Causal attention written out: each output is the attention-weighted sum of the values.
    Shapes (B, heads, T, head_dim)."""
    return attention_probabilities(q, k, window) @ v


def sdpa_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """The same, with PyTorch's fused kernel (it never stores the full score matrix; with a window it still
    computes every score and masks: a mask alone saves nothing)."""
    if q.shape[-2] == k.shape[-2] and window is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    mask = causal_mask(q.shape[-2], k.shape[-2], window, device=q.device)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def _needs_window(kernel: Callable) -> AttentionFn:
    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int | None = None) -> torch.Tensor:
        return kernel(q, k, v, window or k.shape[-2])  # no window: every key
    attend.__doc__ = kernel.__doc__
    return attend


ATTENTION: dict[str, AttentionFn] = {}
SPARSE_KERNELS: set[str] = set()  # they skip the pairs outside the window; the others compute and mask them


def register_attention(name: str, fn: AttentionFn, sparse: bool = False) -> None:
    """Make `fn(q, k, v, window) -> y` available as `GPTConfig(attention=name)`; window None means dense causal.
    `sparse`: the kernel skips the pairs outside the window, so `GPT.flops_per_token` counts only the window's keys.
    Bad arguments are refused here rather than inside a model's forward pass."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an attention's name must be a non-empty string, got {name!r}")
    if not callable(fn):
        raise TypeError(f"attention {name!r} must be a function (q, k, v, window) -> y, got {fn!r}")
    if not isinstance(sparse, bool):
        raise TypeError(f"sparse must be True or False for attention {name!r}, got {sparse!r}")
    ATTENTION[name] = fn
    if sparse:
        SPARSE_KERNELS.add(name)
    else:
        SPARSE_KERNELS.discard(name)


register_attention("math", math_attention)
register_attention("sdpa", sdpa_attention)
register_attention("blocked", _needs_window(sliding_window_attention), sparse=True)
register_attention("flex", _needs_window(flex_sliding_window), sparse=True)


CHOICES = {"norm": ("layernorm", "rmsnorm"), "positions": ("learned", "rope"), "mlp": ("gelu", "swiglu")}
RMS_NORM_EPS = 1e-6  # Llama's and Qwen3's; LayerNorm keeps GPT-2's 1e-5


@dataclass(frozen=True)
class GPTConfig:
    """The shape of a GPT; a bad value is a ValueError naming the field. Counts are kept as Python ints (a NumPy
    count included), so that the config saves as JSON beside the weights.

    The block's options default to GPT-2's block; Llama's is `norm="rmsnorm", positions="rope", mlp="swiglu",
    bias=False`, and Qwen3's adds `qk_norm=True`. The MLP's hidden width, `mlp_hidden`, is by default 4 · n_embd
    for GELU, and for SwiGLU (three matrices instead of two) Llama's rule: 2/3 · 4 · n_embd, rounded up to a
    multiple of 64, which keeps about the same number of weights.
    """

    vocab_size: int = 4096
    block_size: int = 128  # the longest context the model can read
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    attention: str = "sdpa"
    window: int | None = None  # sliding-window attention: each token sees itself and window - 1 tokens before
    norm: str = "layernorm"  # or "rmsnorm": scale by the root mean square only, no centring and no bias
    positions: str = "learned"  # or "rope": rotate queries and keys by their position, no position table
    mlp: str = "gelu"  # or "swiglu": silu(x W_gate) ⊙ (x W_fc), then the projection back
    qk_norm: bool = False  # RMSNorm over each head's queries and keys before attention (Qwen3, OLMo 2)
    bias: bool = True  # biases in the linear layers and the LayerNorms
    rope_theta: float = 10000.0  # RoPE's base: the slowest rotation has a period of about 2π · rope_theta tokens
    mlp_hidden: int | None = None  # the MLP's hidden width; None: the rule of the docstring

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            object.__setattr__(self, name, check_whole(f"GPTConfig.{name}", getattr(self, name)))
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig.n_embd={self.n_embd} is not divisible by n_head={self.n_head}: "
                             f"each head gets n_embd / n_head dimensions")
        check_number("GPTConfig.dropout", self.dropout, at_least=0, below=1)
        if self.window is not None:  # None: dense causal attention
            object.__setattr__(self, "window", check_whole("GPTConfig.window", self.window))
        if not isinstance(self.attention, str) or self.attention not in ATTENTION:
            raise ValueError(f"GPTConfig.attention={self.attention!r} is unknown; registered: {', '.join(ATTENTION)}")
        for name, choices in CHOICES.items():
            if not isinstance(getattr(self, name), str) or getattr(self, name) not in choices:
                raise ValueError(f"GPTConfig.{name}={getattr(self, name)!r} is unknown; choices: {', '.join(choices)}")
        for name in ("qk_norm", "bias"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r}")
        check_number("GPTConfig.rope_theta", self.rope_theta, above=1)
        if self.positions == "rope" and self.head_dim % 2:
            raise ValueError(f"GPTConfig.positions='rope' rotates pairs of dimensions, so the head width "
                             f"n_embd / n_head must be even, got {self.head_dim}")
        if self.mlp_hidden is not None:
            object.__setattr__(self, "mlp_hidden", check_whole("GPTConfig.mlp_hidden", self.mlp_hidden))

    @property
    def head_dim(self) -> int:
        """The width of one attention head."""
        return self.n_embd // self.n_head

    @property
    def mlp_width(self) -> int:
        """The MLP's hidden width: `mlp_hidden`, or the rule of the class docstring."""
        if self.mlp_hidden is not None:
            return self.mlp_hidden
        return 4 * self.n_embd if self.mlp == "gelu" else 64 * math.ceil(2 * 4 * self.n_embd / 3 / 64)

    def __repr__(self) -> str:
        """The fields of `to_dict`: a config of GPT-2's block prints as before the block's options existed."""
        return f"GPTConfig({', '.join(f'{name}={value!r}' for name, value in self.to_dict().items())})"

    def to_dict(self) -> dict:
        """The fields, less the block's options that are at their defaults: configs of the GPT-2 block read, save
        and hash (the cache's fingerprints) as before these options existed."""
        return {name: value for name, value in asdict(self).items()
                if name not in _BLOCK_DEFAULTS or value != _BLOCK_DEFAULTS[name]}


_BLOCK_DEFAULTS = {f.name: f.default for f in fields(GPTConfig)
                   if f.name in ("norm", "positions", "mlp", "qk_norm", "bias", "rope_theta", "mlp_hidden")}


class KVCache:
    """Keys and values of every layer for the tokens seen so far, so generation computes each token once."""

    def __init__(self, n_layer: int):
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layer

    def __len__(self) -> int:
        return self.length(0)

    def length(self, layer: int) -> int:
        """How many tokens the layer has seen: the position of the next one."""
        return 0 if self.layers[layer] is None else self.layers[layer][0].shape[-2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's keys and values; return all of them."""
        if self.layers[layer] is not None:
            past_k, past_v = self.layers[layer]
            k, v = torch.cat([past_k, k], dim=-2), torch.cat([past_v, v], dim=-2)
        self.layers[layer] = (k, v)
        return k, v


def norm_layer(config: GPTConfig, width: int) -> nn.Module:
    """The block's normalisation: LayerNorm (centre, scale, then a learned scale and shift) or RMSNorm (scale by
    the root mean square, then a learned scale: fewer operations, the same training in practice)."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(width, eps=RMS_NORM_EPS)
    return nn.LayerNorm(width, bias=config.bias)


def rotate(x: torch.Tensor, start: int, theta: float) -> torch.Tensor:
    """Rotary position embedding (RoPE) of queries or keys (B, heads, T, head_dim) at positions start, start + 1, …

    Dimension i is paired with dimension i + head_dim / 2 (Hugging Face Llama's convention) and the pair is rotated
    by the angle position · theta^(-2i / head_dim): a query and a key then score by their distance only.
    """
    d = x.shape[-1]
    inverse_frequencies = 1.0 / theta ** (torch.arange(0, d, 2, dtype=torch.float, device=x.device) / d)
    positions = torch.arange(start, start + x.shape[-2], dtype=torch.float, device=x.device)
    angles = (positions[:, None] * inverse_frequencies).repeat(1, 2)  # (T, head_dim): each angle twice
    rotated_half = torch.cat((-x[..., d // 2:], x[..., :d // 2]), dim=-1)  # the pair (a, b) becomes (-b, a)
    return x * angles.cos().to(x.dtype) + rotated_half * angles.sin().to(x.dtype)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: one product makes q, k, v; heads attend in parallel; one projects."""

    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.n_head, self.layer, self.window = config.n_head, layer, config.window
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k and v in one product
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.qk_norm = config.qk_norm
        if config.qk_norm:
            self.q_norm, self.k_norm = (nn.RMSNorm(config.head_dim, eps=RMS_NORM_EPS) for _ in range(2))
        self.rope_theta = config.rope_theta if config.positions == "rope" else None
        self.resid_dropout = nn.Dropout(config.dropout)
        self.attend = ATTENTION[config.attention]

    def heads(self, x: torch.Tensor, start: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values (B, heads, T, head_dim) of tokens at positions start, start + 1, …: normalised
        per head (qk_norm) and rotated by their position (rope) when the config says so."""
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head) for t in self.c_attn(x).split(C, dim=2))
        if self.qk_norm:  # in float32 (under bfloat16 autocast q and k arrive in bfloat16), as Hugging Face's does
            q, k = self.q_norm(q.float()).type_as(q), self.k_norm(k.float()).type_as(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        if self.rope_theta is not None:
            q, k = rotate(q, start, self.rope_theta), rotate(k, start, self.rope_theta)
        return q, k, v

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.heads(x, cache.length(self.layer) if cache is not None else 0)
        if cache is not None:
            k, v = cache.update(self.layer, k, v)
        y = self.attend(q, k, v, self.window).transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """Position-wise: widen 4x, GELU, project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.mlp_width, bias=config.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(config.mlp_width, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class SwiGLU(nn.Module):
    """Position-wise, gated (Shazeer 2020, as in Llama): a second widening, through SiLU, decides how much of each
    hidden unit passes, silu(x W_gate) ⊙ (x W_fc); then project back."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.c_gate = nn.Linear(config.n_embd, config.mlp_width, bias=config.bias)
        self.c_fc = nn.Linear(config.n_embd, config.mlp_width, bias=config.bias)
        self.c_proj = nn.Linear(config.mlp_width, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.silu(self.c_gate(x)) * self.c_fc(x)))


class Block(nn.Module):
    """Communicate (attention across positions), then compute (MLP at each position); both as residual updates."""

    def __init__(self, config: GPTConfig, layer: int):
        super().__init__()
        self.ln_1 = norm_layer(config, config.n_embd)
        self.attn = CausalSelfAttention(config, layer)
        self.ln_2 = norm_layer(config, config.n_embd)
        self.mlp = MLP(config) if config.mlp == "gelu" else SwiGLU(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout) inside the block, the model's own mode again after it."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def init_weights(module: nn.Module) -> None:
    """GPT-2's (and Marian's) initialisation: weights of linear layers and embeddings normal with std 0.02,
    biases zero."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


class GPT(nn.Module):
    """Token and position embeddings (no position table with RoPE), n_layer blocks, a final norm and the tied
    head."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        if config.positions == "learned":  # position embeddings: attention has no order (RoPE gives it inside)
            self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config, layer) for layer in range(config.n_layer))
        self.ln_f = norm_layer(config, config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one matrix reads and writes tokens
        self.apply(init_weights)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by 1/sqrt(2 · n_layer)
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, T, vocab) for token ids (B, T); with a cache, `idx` continues the cached tokens."""
        return self.logits(self.hidden_states(idx, cache))

    def _check_ids(self, idx: object, start: int) -> None:
        """A TypeError or ValueError naming what is wrong unless `idx` is a (batch, time) tensor of token ids that
        fits the context after `start` cached positions."""
        if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
            raise TypeError(f"expected token ids as an integer tensor, got "
                            f"{idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__}")
        if idx.dim() != 2:
            raise ValueError(f"expected token ids of shape (batch, time), got {tuple(idx.shape)}")
        if start + idx.shape[1] > self.config.block_size:
            raise ValueError(f"context of {start + idx.shape[1]} tokens is longer than the model's "
                             f"block_size={self.config.block_size}")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.config.vocab_size):
            bad = idx[(idx < 0) | (idx >= self.config.vocab_size)][0].item()
            raise ValueError(f"token id {bad} is out of range for vocab_size={self.config.vocab_size}")

    def hidden_states(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """The last block's output (B, T, n_embd): what the head reads (distillation compares these too)."""
        start = len(cache) if cache is not None else 0
        self._check_ids(idx, start)
        x = self.wte(idx)
        if self.config.positions == "learned":
            x = x + self.wpe(torch.arange(start, start + idx.shape[1], device=idx.device))
        x = self.drop(x)
        for block in self.h:
            x = block(x, cache)
        return x

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits from the last block's output: final norm, then the tied head."""
        return self.lm_head(self.ln_f(hidden))

    # --- counting ------------------------------------------------------------------------------------

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Parameters (the tied head counted once); without the token and position embedding tables if asked."""
        n = sum(p.numel() for p in self.parameters())
        tables = [self.wte] + ([self.wpe] if self.config.positions == "learned" else [])
        return n if include_embeddings else n - sum(table.weight.numel() for table in tables)

    def flops_per_token(self, context: int | None = None, training: bool = False) -> int:
        """Matrix-multiply FLOPs per token at a given context length (forward; ×3 with the backward pass).

        2 FLOPs per weight of every linear layer (the head included; SwiGLU's three matrices), plus attention's two
        products, scores q·k and the weighted sum of v: 2 · 2 · keys · n_embd per layer. Norms, RoPE's rotation
        and the activations are elementwise, not counted. The dense paths compute the full square even with a
        window (they mask it); the sparse kernels read only `window` keys per token.
        """
        c = self.config
        context = check_whole("context", context or c.block_size)
        sparse = c.window is not None and c.attention in SPARSE_KERNELS
        keys = min(c.window, context) if sparse else context
        linear = sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Linear))
        forward = 2 * linear + 4 * c.n_layer * keys * c.n_embd
        return 3 * forward if training else forward

    # --- generation ----------------------------------------------------------------------------------

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, use_cache: bool = True,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue `idx` (B, T) by `max_new_tokens` sampled tokens.

        temperature ≤ 0 means greedy decoding (always the most likely token). top_k keeps the k most likely
        tokens, top_p the smallest set whose probability reaches p. With `use_cache`, keys and values are kept
        between steps; once the text outgrows block_size, each step re-reads the last block_size tokens.
        """
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"generate needs a prompt of shape (batch, time) with at least one token, got "
                             f"{tuple(idx.shape) if isinstance(idx, torch.Tensor) else type(idx).__name__}")
        check_whole("max_new_tokens", max_new_tokens, minimum=0)
        cache, fed = None, 0  # fed: how many tokens of idx the cache already holds
        with evaluating(self):
            for _ in range(max_new_tokens):
                if use_cache and idx.shape[1] <= self.config.block_size:
                    if cache is None:
                        cache = KVCache(self.config.n_layer)
                    logits = self(idx[:, fed:], cache)
                    fed = idx.shape[1]
                else:
                    cache = None
                    logits = self(idx[:, -self.config.block_size:])
                next_token = sample(logits[:, -1, :], temperature, top_k, top_p, generator)
                idx = torch.cat([idx, next_token], dim=1)
        return idx


def sample(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """One token id per row of `logits` (B, vocab): greedy for temperature ≤ 0, else sampled."""
    check_number("temperature", temperature, why="<= 0 for greedy decoding")
    if temperature <= 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        check_whole("top_k", top_k)
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        check_number("top_p", top_p, above=0, at_most=1)
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative - sorted_logits.softmax(dim=-1) >= top_p  # tokens after the nucleus is complete
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), float("-inf"))
    return torch.multinomial(logits.softmax(dim=-1), 1, generator=generator)


def fit_prompt(ids: list[int], block_size: int, new_tokens: int) -> list[int]:
    """The last `block_size - new_tokens` token ids of a prompt, so that the prompt and `new_tokens` generated
    tokens fit the context together (and the KV cache serves every step): a long prompt loses its beginning."""
    check_whole("new_tokens", new_tokens, 1, block_size - 1,
                why=f"the model's context is {block_size} tokens and the prompt needs at least one")
    if not ids:
        raise ValueError("the prompt is empty: there is nothing to continue")
    return ids[-(block_size - new_tokens):]


@torch.no_grad()
def attention_maps(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """Attention weights (n_layer, n_head, T, T) of every layer for one sequence `idx` (1, T)."""
    if idx.dim() != 2 or idx.shape[0] != 1:
        raise ValueError(f"attention_maps takes one sequence of shape (1, T), got {tuple(idx.shape)}")
    inputs = []  # what each layer's attention reads
    hooks = [block.attn.register_forward_pre_hook(lambda module, args: inputs.append(args[0])) for block in model.h]
    try:
        model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    maps = []
    for block, x in zip(model.h, inputs):
        q, k, _ = block.attn.heads(x)
        maps.append(attention_probabilities(q, k, model.config.window)[0])
    return torch.stack(maps)
