"""Training an encoder–decoder on a task of pairs, and using it: teacher forcing, then greedy or beam-search
translation scored with BLEU.

Training is *teacher forcing*: the decoder reads the right target shifted by one (<s> + target) and learns to
predict each next character (target + </s>), all positions at once, with the loss ignoring padding. Translating
is different: the model reads its own previous outputs, one step at a time (`EncoderDecoder.greedy` or
`beam_search`), so a mistake early in an output can carry on; the scores below are of real translations.

The loop shares `greenlab.training.train`'s schedule and optimizer (`TrainConfig`: warmup then cosine decay, AdamW,
clipping, seeds; its `block_size` is not used, since pairs come with their own lengths) and is measured into the
green ledger like every training run.

For comparison, `DecoderOnlyTranslator` turns a GPT into a translator that reads source and target as one sequence;
the same loop trains it and `translate` uses it (greedy decoding only).
"""

from __future__ import annotations

import math
import random
import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from greenlab.foundations.energy import measure
from greenlab.foundations.metrics import chrf, corpus_bleu, exact_match
from greenlab.foundations.settings import check_whole, device
from greenlab.foundations.tasks import PairVocabulary, Pairs
from greenlab.models.gpt import GPT, GPTConfig, KVCache, evaluating
from greenlab.models.seq2seq import EncoderDecoder, until_eos
from greenlab.training.train import (ConfigError, TrainConfig, TrainResult, evaluates_after, learning_rate_at,
                                     make_optimizer)


class DecoderOnlyTranslator(torch.nn.Module):
    """A decoder-only GPT used as a translator, for comparing it with the encoder–decoder on the same pairs.

    It reads each pair as one sequence: the source, left-padded to `source_len` characters so that <s> always sits
    at the same position, then <s> + target. Its logits at the target positions predict the target (+ </s>) as
    the encoder–decoder's do, so the same batches, loss (`seq2seq_loss`), training loop and `translate` serve
    both. The source is read by causal self-attention in every layer, and its positions are not trained on.
    """

    def __init__(self, gpt: GPT, source_len: int):
        super().__init__()
        block_size = gpt.config.block_size
        check_whole("source_len", source_len, 1, block_size - 1, why="the GPT's block_size - 1")
        self.gpt, self.source_len = gpt, source_len

    @property
    def config(self) -> GPTConfig:
        """The GPT's config (a checkpoint records it, and loading checks it)."""
        return self.gpt.config

    @property
    def max_target_len(self) -> int:
        """The most tokens a translation can have, </s> included: what the context has left after the source."""
        return self.gpt.config.block_size - self.source_len

    def prompt(self, src_ids: torch.Tensor) -> torch.Tensor:
        """Right-padded sources (B, S) as the GPT reads them: left-padded to (B, source_len)."""
        lengths = (src_ids != PairVocabulary.PAD).sum(dim=1).tolist()
        if max(lengths, default=0) > self.source_len:
            raise ValueError(f"a source of {max(lengths)} tokens is longer than source_len={self.source_len}")
        prompt = torch.full((src_ids.shape[0], self.source_len), PairVocabulary.PAD, device=src_ids.device)
        for row, length in enumerate(lengths):
            prompt[row, self.source_len - length:] = src_ids[row, :length]
        return prompt

    def forward(self, src_ids: torch.Tensor, tgt_ids: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) at the positions of `tgt_ids` (<s> + target), as `EncoderDecoder.forward`."""
        return self.gpt(torch.cat([self.prompt(src_ids), tgt_ids], dim=1))[:, self.source_len:]

    def num_parameters(self) -> int:
        return self.gpt.num_parameters()

    def flops_per_token(self, source_len: int | None = None, target_len: int | None = None,
                        training: bool = False) -> float:
        """Matrix-multiply FLOPs per target token: the GPT's for the whole sequence, source_len + T tokens (every
        layer reads the source too), divided by the T target tokens. `source_len` is fixed by the padding, so
        the argument is accepted and not used."""
        T = check_whole("target_len", target_len or self.max_target_len)
        length = self.source_len + T
        return self.gpt.flops_per_token(length, training) * length / T

    @torch.no_grad()
    def greedy(self, src_ids: torch.Tensor, max_new_tokens: int) -> list[list[int]]:
        """The most likely next token at every step, until </s> or `max_new_tokens`, with the GPT's key/value
        cache: ids per source, as `EncoderDecoder.greedy`."""
        check_whole("max_new_tokens", max_new_tokens, 1, self.max_target_len)
        bos = torch.full((src_ids.shape[0], 1), PairVocabulary.BOS, device=src_ids.device)
        tokens = torch.cat([self.prompt(src_ids), bos], dim=1)
        finished = torch.zeros(src_ids.shape[0], dtype=torch.bool, device=src_ids.device)
        cache = KVCache(self.gpt.config.n_layer)
        with evaluating(self):
            logits = self.gpt(tokens, cache)
            for step in range(max_new_tokens):
                next_token = logits[:, -1].argmax(dim=-1)
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)
                finished |= next_token == PairVocabulary.EOS
                if finished.all() or step == max_new_tokens - 1:
                    break
                logits = self.gpt(next_token[:, None], cache)
        return until_eos(tokens[:, self.source_len:], PairVocabulary.EOS)


def seq2seq_loss(model: torch.nn.Module, src: torch.Tensor, decoder_input: torch.Tensor,
                 labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of each next target character under teacher forcing; padding is not counted."""
    logits = model(src, decoder_input)
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=PairVocabulary.PAD)


@torch.no_grad()
def validation_loss(model: torch.nn.Module, vocabulary: PairVocabulary, pairs: Pairs, batch_size: int,
                    batches: int) -> float:
    """Mean teacher-forced loss over the first `batches` batches of `pairs`."""
    dev = next(model.parameters()).device
    losses = []
    with evaluating(model):
        for start in range(0, min(len(pairs), batch_size * batches), batch_size):
            src, decoder_input, labels = vocabulary.batch(pairs.sources[start:start + batch_size],
                                                          pairs.targets[start:start + batch_size])
            losses.append(seq2seq_loss(model, src.to(dev), decoder_input.to(dev), labels.to(dev)).item())
    return sum(losses) / len(losses)


def train_translator(model: EncoderDecoder | DecoderOnlyTranslator, vocabulary: PairVocabulary, train_pairs: Pairs,
                     validation_pairs: Pairs, config: TrainConfig, *, label: str = "seq2seq training",
                     progress: bool = True) -> TrainResult:
    """Train `model` in place on random batches of `train_pairs` (teacher forcing), validating on
    `validation_pairs`; measured (time, energy) and recorded in the ledger, with the FLOPs of every step counted
    from the model's formula at the batch's padded shapes (`EncoderDecoder.flops_per_token`). It trains in float32
    (`config.precision` must say so)."""
    if config.precision != "float32":
        raise ConfigError(f"train_translator trains in float32; got TrainConfig.precision={config.precision!r}")
    torch.manual_seed(config.seed)
    draw = random.Random(config.seed)
    dev = device()
    model.to(dev).train()
    optimizer = make_optimizer(model, config)
    result = TrainResult(config)
    flops = 0

    def train_step(step: int) -> float:
        nonlocal flops
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, config)
        rows = [int(draw.random() * len(train_pairs)) for _ in range(config.batch_size)]
        src, decoder_input, labels = vocabulary.batch([train_pairs.sources[i] for i in rows],
                                                      [train_pairs.targets[i] for i in rows])
        loss = seq2seq_loss(model, src.to(dev), decoder_input.to(dev), labels.to(dev))
        batch, target_len = decoder_input.shape  # padded shapes: the work done, padding included
        flops += model.flops_per_token(src.shape[1], target_len, training=True) * target_len * batch
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        return loss.item()

    with measure(label) as m:
        started = time.perf_counter()
        bar = tqdm(range(config.steps), desc=label, disable=not progress, mininterval=1.0)
        for step in bar:
            loss = train_step(step)
            result.train_losses.append(loss)
            result.learning_rates.append(optimizer.param_groups[0]["lr"])
            if evaluates_after(step, config):
                val_loss = validation_loss(model, vocabulary, validation_pairs, config.batch_size,
                                           config.eval_batches)
                result.validation.append({"step": step + 1, "val_loss": val_loss,
                                          "val_perplexity": math.exp(val_loss),
                                          "elapsed_s": time.perf_counter() - started})
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        m.flops = flops
    result.measurement = m
    return result


@torch.no_grad()
def translate(model: EncoderDecoder | DecoderOnlyTranslator, vocabulary: PairVocabulary, sources: list[str], *,
              beam_width: int = 1, max_new_tokens: int | None = None, batch_size: int = 64) -> list[str]:
    """Translate `sources` with greedy decoding (beam_width 1) or beam search, `batch_size` sources at a time;
    each output stops at </s> or after `max_new_tokens` (default: as many as the decoder can read)."""
    if isinstance(sources, str) or not all(isinstance(source, str) for source in sources):
        raise ValueError(f"sources must be a list of texts (one sentence each), got {sources!r}")
    check_whole("beam_width", beam_width)
    check_whole("batch_size", batch_size, why="sources translated at a time")
    if beam_width != 1 and not isinstance(model, EncoderDecoder):
        raise ValueError(f"beam search (beam_width={beam_width!r}) is written for the encoder–decoder; "
                         f"{type(model).__name__} translates greedily (beam_width=1)")
    if max_new_tokens is None:
        max_new_tokens = model.max_target_len
    check_whole("max_new_tokens", max_new_tokens, 1, model.max_target_len, why="as many as the decoder can read")
    dev = next(model.parameters()).device  # greedy and beam_search switch dropout off themselves
    outputs: list[str] = []
    for start in range(0, len(sources), batch_size):
        chunk = sources[start:start + batch_size]
        src, _, _ = vocabulary.batch(chunk, [""] * len(chunk))
        if beam_width == 1:
            ids = model.greedy(src.to(dev), max_new_tokens=max_new_tokens)
        else:
            ids = model.beam_search(src.to(dev), beam_width=beam_width, max_new_tokens=max_new_tokens)
        outputs.extend(vocabulary.decode(row) for row in ids)
    return outputs


def scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU, chrF and exact match (each 0-100) of translations against their references."""
    return {"BLEU": corpus_bleu(hypotheses, references), "chrF": chrf(hypotheses, references),
            "exact match": exact_match(hypotheses, references)}
