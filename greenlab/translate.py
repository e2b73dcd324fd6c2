"""Training an encoder–decoder on a task of pairs, and using it: teacher forcing, then greedy or beam-search
translation scored with BLEU.

Training is *teacher forcing*: the decoder reads the right target shifted by one (<s> + target) and learns to
predict each next character (target + </s>), all positions at once, with the loss ignoring padding. Translating
is different: the model reads its own previous outputs, one step at a time (`EncoderDecoder.greedy` or
`beam_search`), so a mistake early in an output can carry on; the scores below are of real translations.

The loop shares `greenlab.train`'s schedule and optimizer (`TrainConfig`: warmup then cosine decay, AdamW,
clipping, seeds; its `block_size` is not used, since pairs come with their own lengths) and is measured into the
green ledger like every training run.
"""

from __future__ import annotations

import math
import random
import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from greenlab.energy import measure
from greenlab.metrics import chrf, corpus_bleu, exact_match
from greenlab.model import evaluating
from greenlab.seq2seq import EncoderDecoder
from greenlab.settings import device
from greenlab.tasks import PairVocabulary, Pairs
from greenlab.train import TrainConfig, TrainResult, learning_rate_at, make_optimizer


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


def train_translator(model: EncoderDecoder, vocabulary: PairVocabulary, train_pairs: Pairs,
                     validation_pairs: Pairs, config: TrainConfig, *, label: str = "seq2seq training",
                     progress: bool = True) -> TrainResult:
    """Train `model` in place on random batches of `train_pairs` (teacher forcing), validating on
    `validation_pairs`; measured (time, energy) and recorded in the ledger, with the FLOPs of every step counted
    from the model's formula at the batch's padded shapes (`EncoderDecoder.flops_per_token`)."""
    torch.manual_seed(config.seed)
    draw = random.Random(config.seed)
    dev = device()
    model.to(dev).train()
    optimizer = make_optimizer(model, config)
    result = TrainResult(config)
    eval_steps = {s for s in range(config.steps) if (s + 1) % config.eval_interval == 0} | {config.steps - 1}
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
            if step in eval_steps:
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
def translate(model: EncoderDecoder, vocabulary: PairVocabulary, sources: list[str], *, beam_width: int = 1,
              max_new_tokens: int | None = None, batch_size: int = 64) -> list[str]:
    """Translate `sources` with greedy decoding (beam_width 1) or beam search, `batch_size` sources at a time;
    each output stops at </s> or after `max_new_tokens` (default: as many as the decoder can read)."""
    max_new_tokens = max_new_tokens or model.config.max_target_len
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
