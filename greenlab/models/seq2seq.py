"""An encoder–decoder Transformer, the model of "Attention Is All You Need" (Vaswani et al., 2017), in one
readable file, laid out as Hugging Face's Marian (`transformers.MarianMTModel`) so that `to_hf` gets the same logits.

    source ids   ─► embedding · √d_model + sinusoidal positions
                 ─► n_encoder_layer × EncoderBlock: self-attention (every token sees all), feed-forward
                 ─► encoder states (B, S, d_model): one vector per source token
    <s> + target ─► embedding · √d_model + sinusoidal positions
                 ─► n_decoder_layer × DecoderBlock: causal self-attention, cross-attention over the encoder
                    states, feed-forward
                 ─► linear head (the embedding matrix again) ─► logits (B, T, vocab): the next target token

Cross-attention is what the course's GPT (`greenlab.models.gpt`) lacks: each target position reads a weighted sum
of the source (`EncoderDecoder.cross_attention_maps` returns the weights). Only source padding is masked: target
padding comes after the real tokens, and causal attention never looks ahead. `greenlab.training.translate` trains it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from greenlab.foundations.validation import check_number, check_whole
from greenlab.models.gpt import KVCache, causal_mask, evaluating, init_weights

if TYPE_CHECKING:
    from transformers import MarianConfig, MarianMTModel

SPECIAL_IDS = ("pad_id", "bos_id", "eos_id")


def check_special_ids(owner: str, vocab_size: int, pad_id: object, bos_id: object, eos_id: object) -> dict[str, int]:
    """The ids of padding, <s> and </s> as Python ints, by name: each a token id of the vocabulary, and </s> apart
    from the other two, since generation stops at it. A bad one is a ValueError naming `owner`'s field."""
    ids = {name: check_whole(f"{owner}.{name}", value, 0, vocab_size - 1, why="a token id")
           for name, value in zip(SPECIAL_IDS, (pad_id, bos_id, eos_id))}
    if ids["eos_id"] in (ids["pad_id"], ids["bos_id"]):
        raise ValueError(f"{owner}.eos_id={ids['eos_id']} must differ from pad_id={ids['pad_id']} and "
                         f"bos_id={ids['bos_id']}: generation stops at it")
    return ids


@dataclass(frozen=True)
class Seq2SeqConfig:
    """The shape of an encoder–decoder, checked, its counts kept as Python ints so that it saves as JSON. The
    defaults are course size: a character vocabulary (`PairVocabulary`'s layout: pad 0, <s> 1, </s> 2), 2 + 2 layers."""

    vocab_size: int = 100  # one vocabulary for sources and targets, special tokens included
    d_model: int = 128
    n_head: int = 4
    n_encoder_layer: int = 2
    n_decoder_layer: int = 2
    d_ff: int = 512  # the feed-forward layer's width: 4 · d_model, as in the 2017 paper
    max_source_len: int = 64  # the longest source the encoder reads
    max_target_len: int = 64  # the longest decoder input, <s> + target
    dropout: float = 0.1  # the 2017 paper's and Marian's: on embeddings and on each sublayer's output
    pad_id: int = 0
    bos_id: int = 1  # the decoder's first input (Marian's decoder_start_token_id; Marian itself uses pad_id)
    eos_id: int = 2  # the end of a target: generation stops there

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_head", "n_encoder_layer", "n_decoder_layer", "d_ff",
                     "max_source_len", "max_target_len"):
            object.__setattr__(self, name, check_whole(f"Seq2SeqConfig.{name}", getattr(self, name)))
        ids = check_special_ids("Seq2SeqConfig", self.vocab_size, **{name: getattr(self, name) for name in SPECIAL_IDS})
        for name, value in ids.items():
            object.__setattr__(self, name, value)
        if self.d_model % self.n_head:
            raise ValueError(f"Seq2SeqConfig.d_model={self.d_model} is not divisible by n_head={self.n_head}: "
                             f"each head gets d_model / n_head dimensions")
        check_number("Seq2SeqConfig.dropout", self.dropout, at_least=0, below=1)

    def to_dict(self) -> dict:
        return asdict(self)


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """The 2017 paper's position vectors (length, d_model), not learned, in Marian's layout: all the sines, then all
    the cosines (the paper interleaves them). Fast and slow frequencies together tell near and far positions apart."""
    position = torch.arange(length, dtype=torch.float64)[:, None]
    i = torch.arange((d_model + 1) // 2, dtype=torch.float64)
    angle = position / 10000 ** (2 * i / d_model)  # in float64, as Marian computes it
    return torch.cat([angle.sin(), angle.cos()[:, :d_model // 2]], dim=1).float()


class Attention(nn.Module):
    """Multi-head attention of queries made from `x` over given keys and values: self-attention when those are
    made from `x` too, cross-attention when they are made from the encoder states. `allowed` is True where a query
    may look, broadcast to (B, heads, Tq, Tk)."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.n_head = config.n_head
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.k_proj = nn.Linear(config.d_model, config.d_model)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) -> (B, heads, T, head_dim): the heads attend in parallel."""
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)

    def keys_values(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values of `states` (B, L, d_model), each (B, heads, L, head_dim)."""
        return self.split_heads(self.k_proj(states)), self.split_heads(self.v_proj(states))

    def probabilities(self, x: torch.Tensor, keys: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """How much each query attends to each key (B, heads, Tq, Tk), written out: scaled scores, mask,
        softmax. `forward` computes the same inside PyTorch's fused kernel."""
        q = self.split_heads(self.q_proj(x))
        scores = q @ keys.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)

    def forward(self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                allowed: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q = self.split_heads(self.q_proj(x))
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=allowed)  # scaled by 1/√head_dim
        return self.out_proj(y.transpose(1, 2).reshape(B, T, C))  # heads side by side again


class FeedForward(nn.Module):
    """Position-wise: widen to d_ff, ReLU, project back (Marian's fc1 and fc2). ReLU is the 2017 paper's
    activation and one Marian supports ("relu"); the course's GPT keeps GPT-2's GELU."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.d_model, config.d_ff)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(config.d_ff, config.d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


class EncoderBlock(nn.Module):
    """Bidirectional self-attention, then the feed-forward layer. Each is a residual update followed by a
    LayerNorm (post-LN, the 2017 paper's and Marian's layout; our GPT normalises before each sublayer instead)."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.self_attn = Attention(config)
        self.self_attn_norm = nn.LayerNorm(config.d_model)  # eps 1e-5, Marian's
        self.feed_forward = FeedForward(config)
        self.feed_forward_norm = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, source_allowed: torch.Tensor) -> torch.Tensor:
        keys, values = self.self_attn.keys_values(x)
        x = self.self_attn_norm(x + self.dropout(self.self_attn(x, keys, values, source_allowed)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))


class DecoderBlock(nn.Module):
    """Causal self-attention over the target so far, cross-attention over the source, then the feed-forward
    layer; each a residual update followed by a LayerNorm (post-LN)."""

    def __init__(self, config: Seq2SeqConfig, layer: int):
        super().__init__()
        self.layer = layer  # which slot of the KVCache is ours
        self.self_attn = Attention(config)
        self.self_attn_norm = nn.LayerNorm(config.d_model)
        self.cross_attn = Attention(config)
        self.cross_attn_norm = nn.LayerNorm(config.d_model)
        self.feed_forward = FeedForward(config)
        self.feed_forward_norm = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, source_keys: torch.Tensor, source_values: torch.Tensor,
                source_allowed: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        keys, values = self.self_attn.keys_values(x)
        if cache is not None:
            keys, values = cache.update(self.layer, keys, values)  # the earlier target tokens' too
        causal = causal_mask(x.shape[1], keys.shape[-2], device=x.device)  # the last query meets the last key
        x = self.self_attn_norm(x + self.dropout(self.self_attn(x, keys, values, causal)))
        x = self.cross_attn_norm(x + self.dropout(self.cross_attn(x, source_keys, source_values, source_allowed)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))


@dataclass
class SourceMemory:
    """What the decoder reads from a batch of sources, computed once per source: each decoder layer's
    cross-attention keys and values of the encoder states, and where the sources are real tokens."""

    keys_values: list[tuple[torch.Tensor, torch.Tensor]]  # per decoder layer, (B, heads, S, head_dim) each
    allowed: torch.Tensor  # (B, 1, 1, S): True at real source tokens, False at padding

    def repeat(self, times: int) -> SourceMemory:
        """Each source `times` times in a row (beam search: one copy per beam), without recomputing anything."""
        return SourceMemory([(k.repeat_interleave(times, 0), v.repeat_interleave(times, 0))
                             for k, v in self.keys_values], self.allowed.repeat_interleave(times, 0))


class EncoderDecoder(nn.Module):
    """One shared embedding, the encoder's and the decoder's blocks, and the head tied to the embedding."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = config
        # One table for source tokens, target tokens and the head, as the vocabulary is shared (Marian's
        # share_encoder_decoder_embeddings and tie_word_embeddings). The pad row starts at zero and gets no
        # gradient from lookups, as in Marian.
        self.embed = nn.Embedding(config.vocab_size, config.d_model, padding_idx=config.pad_id)
        longest = max(config.max_source_len, config.max_target_len)
        self.register_buffer("positions", sinusoidal_positions(longest, config.d_model), persistent=False)
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_encoder_layer))
        self.decoder = nn.ModuleList(DecoderBlock(config, layer) for layer in range(config.n_decoder_layer))
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)  # Marian's final_logits_bias: zeros
        self.head.weight = self.embed.weight
        self.apply(init_weights)  # Marian's: normal weights of std 0.02 (its init_std), zero biases
        nn.init.zeros_(self.embed.weight[config.pad_id])  # after the head's init, which draws the shared table

    # --- the forward pass ----------------------------------------------------------------------------

    def forward(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) for sources (B, S) and decoder inputs (B, T), <s> + target: position t predicts
        target token t (teacher forcing). Both right-padded with pad_id."""
        return self.decode(tgt_ids, self.memory(src_ids))

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        """The encoder states (B, S, d_model) of sources (B, S)."""
        allowed = self.source_allowed(src_ids)
        x = self.embed_tokens(src_ids)
        for block in self.encoder:
            x = block(x, allowed)
        return x

    def memory(self, src_ids: torch.Tensor) -> SourceMemory:
        """Encode the sources and make every decoder layer's cross-attention keys and values, once."""
        states = self.encode(src_ids)
        return SourceMemory([block.cross_attn.keys_values(states) for block in self.decoder],
                            self.source_allowed(src_ids))

    def decode(self, tgt_ids: torch.Tensor, memory: SourceMemory, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (B, T, vocab) for decoder inputs (B, T) reading the sources' memory. With a cache, `tgt_ids`
        continue the cached tokens: generation feeds one new token per step."""
        start = len(cache) if cache is not None else 0
        self._check_ids(tgt_ids, "target", "max_target_len", start)
        if tgt_ids.shape[0] != memory.allowed.shape[0]:
            raise ValueError(f"{tgt_ids.shape[0]} targets for {memory.allowed.shape[0]} sources")
        x = self.embed_tokens(tgt_ids, start)
        for block, (keys, values) in zip(self.decoder, memory.keys_values):
            x = block(x, keys, values, memory.allowed, cache)
        return self.head(x)  # no final LayerNorm (Marian's): each post-LN block already ends with one

    def embed_tokens(self, ids: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Token embeddings scaled by √d_model (Marian's scale_embedding: they then weigh about as much as the
        positions, whose entries are ±1), plus the positions start, start + 1, ..."""
        positions = self.positions[start:start + ids.shape[1]]
        return self.drop(self.embed(ids) * math.sqrt(self.config.d_model) + positions)

    def source_allowed(self, src_ids: torch.Tensor) -> torch.Tensor:
        """The key mask (B, 1, 1, S) of the sources: True at real tokens, False at padding."""
        self._check_ids(src_ids, "source", "max_source_len")
        real = src_ids != self.config.pad_id
        if not real.any(dim=1).all():
            row = int((~real.any(dim=1)).nonzero()[0])
            raise ValueError(f"source {row} is all padding (pad_id={self.config.pad_id}): there is nothing to "
                             f"attend to")
        return real[:, None, None, :]

    def _check_ids(self, ids: torch.Tensor, what: str, limit: str, start: int = 0) -> None:
        """A clear error for anything but integer ids (B, T), 1 ≤ start + T ≤ the config's `limit`, in the
        vocabulary."""
        if not isinstance(ids, torch.Tensor) or ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
            raise TypeError(f"expected {what} token ids as an integer tensor, got "
                            f"{ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__}")
        if ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(f"expected {what} token ids of shape (batch, length ≥ 1), got {tuple(ids.shape)}")
        if start + ids.shape[1] > getattr(self.config, limit):
            raise ValueError(f"{what} of {start + ids.shape[1]} tokens is longer than the model's "
                             f"{limit}={getattr(self.config, limit)}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= self.config.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.config.vocab_size)][0].item()
            raise ValueError(f"{what} token id {bad} is out of range for vocab_size={self.config.vocab_size}")

    @torch.no_grad()
    def cross_attention_maps(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        """Cross-attention weights (n_decoder_layer, B, heads, T, S), in eval mode: how much each target
        position reads each source token, per layer and head. Each row sums to 1; padding gets 0."""
        maps = []

        def keep(module: Attention, inputs: tuple, output: torch.Tensor) -> None:
            x, keys, _, allowed = inputs
            maps.append(module.probabilities(x, keys, allowed))

        hooks = [block.cross_attn.register_forward_hook(keep) for block in self.decoder]
        try:
            with evaluating(self):
                self(src_ids, tgt_ids)
        finally:
            for hook in hooks:
                hook.remove()
        return torch.stack(maps)

    # --- counting ------------------------------------------------------------------------------------

    @property
    def max_target_len(self) -> int:
        """The most tokens a translation can have, </s> included (the decoder reads <s> and all but the last)."""
        return self.config.max_target_len

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Parameters (the shared embedding counted once; the sinusoidal positions are not learned)."""
        n = sum(p.numel() for p in self.parameters())
        return n if include_embeddings else n - self.embed.weight.numel()

    def flops_per_token(self, source_len: int | None = None, target_len: int | None = None,
                        training: bool = False) -> float:
        """Matrix-multiply FLOPs per target token, for pairs of `source_len` and `target_len` tokens (default:
        the context limits); forward, ×3 with the backward pass.

        Counted as in `GPT.flops_per_token`: 2 per weight of a linear layer per token through it, plus attention's
        two products, 2 · 2 · keys · d_model per query. The decoder's self-attention computes the full T × T
        square and masks it, so keys = T for every query.
        """
        c = self.config
        S, T = source_len or c.max_source_len, target_len or c.max_target_len
        for name, value in (("source_len", S), ("target_len", T)):
            check_whole(name, value)
        d, f, V = c.d_model, c.d_ff, c.vocab_size
        encoder = S * c.n_encoder_layer * (2 * (4 * d * d + 2 * d * f) + 4 * S * d)
        source_keys_values = S * c.n_decoder_layer * 2 * 2 * d * d  # cross-attention's k and v, once per source
        # 6d²: self-attention's four projections, cross-attention's q and out; then both attentions' products
        decoder = T * c.n_decoder_layer * (2 * (6 * d * d + 2 * d * f) + 4 * T * d + 4 * S * d)
        head = T * 2 * V * d
        forward = (encoder + source_keys_values + decoder + head) / T
        return 3 * forward if training else forward

    # --- generation ----------------------------------------------------------------------------------

    @torch.no_grad()
    def greedy(self, src_ids: torch.Tensor, max_new_tokens: int, use_cache: bool = True) -> list[list[int]]:
        """For each source (B, S), the most likely next token at every step until eos or `max_new_tokens` (eos
        included): a list of ids per source, without <s> and eos. Without `use_cache` every step recomputes
        everything: the reference the cache is tested against."""
        self._check_generation(src_ids, max_new_tokens)
        c = self.config
        with evaluating(self):
            memory = self.memory(src_ids) if use_cache else None
            cache = KVCache(c.n_decoder_layer) if use_cache else None
            tokens = torch.full((src_ids.shape[0], 1), c.bos_id, device=src_ids.device)
            finished = torch.zeros(src_ids.shape[0], dtype=torch.bool, device=src_ids.device)
            for _ in range(max_new_tokens):
                logits = self._next_token_logits(tokens, src_ids, memory, cache)
                next_token = logits.argmax(dim=-1)
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)
                finished |= next_token == c.eos_id
                if finished.all():
                    break
        return until_eos(tokens, c.eos_id)

    @torch.no_grad()
    def beam_search(self, src_ids: torch.Tensor, beam_width: int, max_new_tokens: int,
                    use_cache: bool = True) -> list[list[int]]:
        """For each source (B, S), the most likely target among `beam_width` hypotheses kept at every step; a list
        of ids per source, like `greedy` (beam_width 1 is greedy decoding). A hypothesis scores the sum of its
        tokens' log-probabilities, eos included (no length penalty); a finished one keeps its score and competes
        with the open ones until the end."""
        check_whole("beam_width", beam_width)
        self._check_generation(src_ids, max_new_tokens)
        c, B, k = self.config, src_ids.shape[0], beam_width
        device = src_ids.device
        with evaluating(self):
            memory = self.memory(src_ids).repeat(k) if use_cache else None  # encoded once, copied per beam
            cache = KVCache(c.n_decoder_layer) if use_cache else None
            sources = src_ids.repeat_interleave(k, dim=0)  # row b · k + j is beam j of source b
            tokens = torch.full((B * k, 1), c.bos_id, device=device)
            scores = torch.full((B, k), float("-inf"), device=device)
            scores[:, 0] = 0.0  # one hypothesis, <s>, to start with: the other beams are empty
            scores = scores.view(-1)
            finished = torch.zeros(B * k, dtype=torch.bool, device=device)
            for _ in range(max_new_tokens):
                log_probs = self._next_token_logits(tokens, sources, memory, cache).log_softmax(dim=-1)
                log_probs[finished] = float("-inf")
                log_probs[finished, c.pad_id] = 0.0  # a finished hypothesis goes on with padding, at no cost
                candidates = (scores[:, None] + log_probs).view(B, k * c.vocab_size)
                best_scores, best = candidates.topk(k, dim=-1)
                rows = (torch.arange(B, device=device)[:, None] * k + best // c.vocab_size).view(-1)
                next_token = (best % c.vocab_size).view(-1)
                tokens = torch.cat([tokens[rows], next_token[:, None]], dim=1)
                scores = best_scores.view(-1)
                finished = finished[rows] | (next_token == c.eos_id)
                if cache is not None:  # each surviving hypothesis takes over its parent's keys and values
                    cache.layers = [(keys[rows], values[rows]) for keys, values in cache.layers]
                if finished.all():
                    break
            best_beam = scores.view(B, k).argmax(dim=-1)
            return until_eos(tokens.view(B, k, -1)[torch.arange(B, device=device), best_beam], c.eos_id)

    def _next_token_logits(self, tokens: torch.Tensor, src_ids: torch.Tensor, memory: SourceMemory | None,
                          cache: KVCache | None) -> torch.Tensor:
        """Logits (B, vocab) for the token after `tokens` (B, t): with a cache, only the newest token goes
        through the decoder; without one, sources and targets are computed again from scratch."""
        if cache is None:
            return self(src_ids, tokens)[:, -1]
        return self.decode(tokens[:, -1:], memory, cache)[:, -1]

    def _check_generation(self, src_ids: torch.Tensor, max_new_tokens: int) -> None:
        """Clear errors before generating: bad sources, or more new tokens than the decoder can read (it reads
        <s> and all new tokens but the last: at most max_target_len of them)."""
        self.source_allowed(src_ids)
        check_whole("max_new_tokens", max_new_tokens)
        if max_new_tokens > self.config.max_target_len:
            raise ValueError(f"max_new_tokens={max_new_tokens} is more than the model's "
                             f"max_target_len={self.config.max_target_len}: the decoder would read <s> and "
                             f"{max_new_tokens - 1} new tokens")


def until_eos(tokens: torch.Tensor, eos_id: int) -> list[list[int]]:
    """Each row's ids after its first token (<s>) up to the first eos: eos and what follows it are left out."""
    rows = [row[1:] for row in tokens.tolist()]
    return [row[:row.index(eos_id)] if eos_id in row else row for row in rows]


# --- Hugging Face --------------------------------------------------------------------------------------

# Our names inside a block -> Marian's; ours say what each part is, Marian's follow BART.
HF_BLOCK_NAMES = {"self_attn_norm.": "self_attn_layer_norm.", "cross_attn_norm.": "encoder_attn_layer_norm.",
                  "cross_attn.": "encoder_attn.", "feed_forward_norm.": "final_layer_norm.",
                  "feed_forward.": ""}


def hf_name(name: str) -> str:
    """The Marian state-dict key of one of our parameters: "decoder.0.cross_attn.q_proj.weight" ->
    "model.decoder.layers.0.encoder_attn.q_proj.weight"."""
    if name == "embed.weight":
        return "model.shared.weight"
    if name == "head.weight":
        return "lm_head.weight"
    stack, layer, rest = name.split(".", 2)
    for ours, theirs in HF_BLOCK_NAMES.items():
        if rest.startswith(ours):
            rest = theirs + rest.removeprefix(ours)
            break
    return f"model.{stack}.layers.{layer}.{rest}"


def hf_config(config: Seq2SeqConfig) -> MarianConfig:
    """The `MarianConfig` of the same architecture, with generation left plain (no forced tokens)."""
    from transformers import MarianConfig

    return MarianConfig(
        vocab_size=config.vocab_size, decoder_vocab_size=config.vocab_size, d_model=config.d_model,
        encoder_layers=config.n_encoder_layer, decoder_layers=config.n_decoder_layer,
        encoder_attention_heads=config.n_head, decoder_attention_heads=config.n_head,
        encoder_ffn_dim=config.d_ff, decoder_ffn_dim=config.d_ff, activation_function="relu",
        max_position_embeddings=max(config.max_source_len, config.max_target_len),  # one table, both sides
        dropout=config.dropout, attention_dropout=0.0, activation_dropout=0.0,
        encoder_layerdrop=0.0, decoder_layerdrop=0.0, init_std=0.02, scale_embedding=True,
        pad_token_id=config.pad_id, decoder_start_token_id=config.bos_id, eos_token_id=config.eos_id,
        forced_eos_token_id=None, share_encoder_decoder_embeddings=True, tie_word_embeddings=True)


def to_hf(model: EncoderDecoder) -> MarianMTModel:
    """A `transformers.MarianMTModel` with our weights, in eval mode: the same logits for the same ids.
    Marian computes its sinusoidal positions itself and keeps its final_logits_bias at zero, as we do."""
    from transformers import MarianMTModel

    hf = MarianMTModel(hf_config(model.config))
    theirs = hf.state_dict()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            theirs[hf_name(name)].copy_(tensor)
    hf.tie_weights()
    return hf.eval()
