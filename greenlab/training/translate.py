"""Training an encoder–decoder on a task of pairs, and using it: teacher forcing, then greedy or beam-search
translation scored with BLEU.

Training is *teacher forcing*: the decoder reads the right target shifted by one (<s> + target) and learns to
predict each next character (target + </s>), all positions at once, with the loss ignoring padding. Translating
is different: the model reads its own previous outputs, one step at a time (`EncoderDecoder.greedy` or
`beam_search`), so a mistake early in an output can carry on; the scores below are of real translations.

A translator trains in `greenlab.training.train`'s loop (`training_loop`), as the GPTs do: the same schedule and
optimizer (`TrainConfig`: warmup then cosine decay, AdamW or Muon, clipping, seeds, bfloat16 autocast; its `block_size`
is not used, since pairs come with their own lengths), data parallelism under torchrun, and the same measurement
into the green ledger. Its own are the batches (random pairs), the loss and validation below, and the FLOPs, counted
by the model's formula at each batch's padded shapes.

For comparison, `DecoderOnlyTranslator` turns a GPT into a translator that reads source and target as one sequence;
the same loop trains it and `translate` uses it (greedy decoding only).

The ids of padding, <s> and </s> are the model's (`special_ids`): the loss ignores the model's padding and decoding
starts and stops at its tokens. The vocabulary writes them too, so the entry points refuse a vocabulary that places
them elsewhere (`check_vocabulary`) rather than train on a loss that counts the wrong token.
"""

from __future__ import annotations

import random
from functools import partial

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from greenlab.foundations.metrics import chrf, corpus_bleu, exact_match
from greenlab.foundations.validation import check_whole
from greenlab.foundations.tasks import PairVocabulary, Pairs
from greenlab.models.gpt import GPT, GPTConfig, KVCache, evaluating
from greenlab.models.seq2seq import SPECIAL_IDS, EncoderDecoder, check_special_ids, until_eos
from greenlab.training.train import Batch, TrainConfig, TrainResult, training_loop


class DecoderOnlyTranslator(torch.nn.Module):
    """A decoder-only GPT used as a translator, for comparing it with the encoder–decoder on the same pairs.

    It reads each pair as one sequence: the source, left-padded to `source_len` characters so that <s> always sits
    at the same position, then <s> + target. Its logits at the target positions predict the target (+ </s>) as
    the encoder–decoder's do, so the same batches, loss (`seq2seq_loss`), training loop and `translate` serve
    both. The source is read by causal self-attention in every layer, and its positions are not trained on.

    A `GPTConfig` has no special tokens, so the translator holds the ids of padding, <s> and </s> (`pad_id`,
    `bos_id`, `eos_id`), by default `Seq2SeqConfig`'s: those of `PairVocabulary`'s default layout.
    """

    def __init__(self, gpt: GPT, source_len: int, *, pad_id: int = 0, bos_id: int = 1, eos_id: int = 2):
        super().__init__()
        block_size = gpt.config.block_size
        check_whole("source_len", source_len, 1, block_size - 1, why="the GPT's block_size - 1")
        self.gpt, self.source_len = gpt, source_len
        ids = check_special_ids("DecoderOnlyTranslator", gpt.config.vocab_size, pad_id, bos_id, eos_id)
        self.pad_id, self.bos_id, self.eos_id = ids["pad_id"], ids["bos_id"], ids["eos_id"]

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
        lengths = (src_ids != self.pad_id).sum(dim=1).tolist()
        if max(lengths, default=0) > self.source_len:
            raise ValueError(f"a source of {max(lengths)} tokens is longer than source_len={self.source_len}")
        prompt = torch.full((src_ids.shape[0], self.source_len), self.pad_id, device=src_ids.device)
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
        bos = torch.full((src_ids.shape[0], 1), self.bos_id, device=src_ids.device)
        tokens = torch.cat([self.prompt(src_ids), bos], dim=1)
        finished = torch.zeros(src_ids.shape[0], dtype=torch.bool, device=src_ids.device)
        cache = KVCache(self.gpt.config.n_layer)
        with evaluating(self):
            logits = self.gpt(tokens, cache)
            for step in range(max_new_tokens):
                next_token = logits[:, -1].argmax(dim=-1)
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)
                finished |= next_token == self.eos_id
                if finished.all() or step == max_new_tokens - 1:
                    break
                logits = self.gpt(next_token[:, None], cache)
        return until_eos(tokens[:, self.source_len:], self.eos_id)


def special_ids(model: EncoderDecoder | DecoderOnlyTranslator) -> dict[str, int]:
    """The ids the model uses for padding, <s> and </s>, by name (`pad_id`, `bos_id`, `eos_id`): an
    encoder–decoder's config holds them, a decoder-only translator holds them beside its GPT."""
    if isinstance(model, EncoderDecoder):
        return {name: getattr(model.config, name) for name in SPECIAL_IDS}
    if isinstance(model, DecoderOnlyTranslator):
        return {name: getattr(model, name) for name in SPECIAL_IDS}
    raise TypeError(f"expected an EncoderDecoder or a DecoderOnlyTranslator, got {type(model).__name__}")


def check_vocabulary(model: EncoderDecoder | DecoderOnlyTranslator, vocabulary: PairVocabulary) -> None:
    """A ValueError unless `vocabulary` writes padding, <s> and </s> with the model's ids: otherwise the loss would
    count padding and skip a real token, and decoding would start and stop at the wrong ones."""
    if not isinstance(vocabulary, PairVocabulary):
        raise TypeError(f"expected a PairVocabulary, got {type(vocabulary).__name__}")
    model_ids = special_ids(model)
    vocabulary_ids = {name: getattr(vocabulary, name) for name in SPECIAL_IDS}
    if vocabulary_ids != model_ids:
        in_vocabulary, in_model = (", ".join(f"{name}={value}" for name, value in ids.items())
                                   for ids in (vocabulary_ids, model_ids))
        raise ValueError(f"the vocabulary's special ids ({in_vocabulary}) differ from the model's ({in_model}): "
                         f"build the vocabulary with the model's, PairVocabulary(pairs, {in_model})")


def seq2seq_loss(model: EncoderDecoder | DecoderOnlyTranslator | DistributedDataParallel, src: torch.Tensor,
                 decoder_input: torch.Tensor, labels: torch.Tensor, *, pad_id: int | None = None) -> torch.Tensor:
    """Mean cross-entropy of each next target character under teacher forcing; the model's padding is not
    counted. `pad_id` is the translator's: given where `model` is its DistributedDataParallel wrapper."""
    logits = model(src, decoder_input)
    if pad_id is None:
        pad_id = special_ids(model)["pad_id"]
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=pad_id)


@torch.no_grad()
def validation_loss(model: EncoderDecoder | DecoderOnlyTranslator, vocabulary: PairVocabulary, pairs: Pairs,
                    batch_size: int, batches: int) -> float:
    """Mean teacher-forced loss over the first `batches` batches of `pairs`."""
    check_vocabulary(model, vocabulary)
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
    `validation_pairs`, in `training_loop`; measured (time, energy) and recorded in the ledger, with the FLOPs of
    every step counted from the model's formula at the batch's padded shapes (`EncoderDecoder.flops_per_token`).

    Under torchrun, each rank's loss is the mean over the target tokens of its slice of the batch, and the ranks'
    gradients are averaged: where the slices hold different numbers of tokens, a token of the smaller slice weighs
    a little more than on one process."""
    check_vocabulary(model, vocabulary)
    draw = random.Random(config.seed)  # the same on every rank: the same batches

    def batch_at(step: int) -> Batch:
        rows = [int(draw.random() * len(train_pairs)) for _ in range(config.batch_size)]
        return vocabulary.batch([train_pairs.sources[i] for i in rows], [train_pairs.targets[i] for i in rows])

    def batch_flops(batch: Batch) -> float:
        src, decoder_input, _ = batch
        pairs, target_len = decoder_input.shape  # padded shapes: the work done, padding included
        return model.flops_per_token(src.shape[1], target_len, training=True) * target_len * pairs

    return training_loop(
        model, config, label=label, progress=progress, batch_at=batch_at, batch_flops=batch_flops,
        loss_fn=partial(seq2seq_loss, pad_id=special_ids(model)["pad_id"]),
        validate=lambda: validation_loss(model, vocabulary, validation_pairs, config.batch_size, config.eval_batches))


@torch.no_grad()
def translate(model: EncoderDecoder | DecoderOnlyTranslator, vocabulary: PairVocabulary, sources: list[str], *,
              beam_width: int = 1, max_new_tokens: int | None = None, batch_size: int = 64) -> list[str]:
    """Translate `sources` with greedy decoding (beam_width 1) or beam search, `batch_size` sources at a time;
    each output stops at </s> or after `max_new_tokens` (default: as many as the decoder can read)."""
    if isinstance(sources, str) or not all(isinstance(source, str) for source in sources):
        raise ValueError(f"sources must be a list of texts (one sentence each), got {sources!r}")
    check_vocabulary(model, vocabulary)
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
