"""Small GPTs trained on the default corpus with extra documents mixed in, to see what the extra text teaches.

    run = probe_models.train_mixed(sentences, tokenizer, label="skew 0.9")   # trained now, or from the cache
    run.model, run.measurement, run.trained_now

Bias in, bias out and memorisation are measured the same way: mix some text (skewed sentences, planted secrets)
into the training data of a small model, train it, and probe what it learned. Each run trains a 2-layer GPT (width
64, context 32) for 300 steps on the training split of the default corpus followed by the extra documents, about
ten seconds on 2 cores. The tokenizer is the reference model's, so every probe model reads text the same way.

A run is cached (`greenlab.training.cache`) under `GREENLAB_CACHE/probes/`, named by a hash of everything that
decides its weights (the documents, the tokenizer, the architecture and schedule, greenlab's version), with its
measured cost and the checksum of its weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from greenlab.foundations.data import load_corpus
from greenlab.measurement.energy import Measurement
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training import cache
from greenlab.training.train import TrainConfig, TrainResult, train

PROBE_TRAINING = TrainConfig(steps=300, batch_size=32, block_size=32, learning_rate=3e-3, min_learning_rate=3e-4,
                             warmup_steps=20, eval_interval=100, eval_batches=4)


BASE_EVERY = 4  # every 4th training document of the default corpus (a quarter of it) is the base text


def probe_config(tokenizer: BPETokenizer) -> GPTConfig:
    """The probe models' architecture: 2 layers, 2 heads, width 64, context 32, over the tokenizer's vocabulary."""
    return GPTConfig(vocab_size=tokenizer.vocab_size, block_size=PROBE_TRAINING.block_size, n_layer=2, n_head=2,
                     n_embd=64)


@dataclass
class ProbeRun:
    """A trained probe model, the measured cost of its training, and whether it was trained now."""

    model: GPT
    measurement: Measurement
    trained_now: bool


def _run_key(documents: list[str], tokenizer: BPETokenizer, config: GPTConfig, training: TrainConfig) -> dict:
    """Everything that decides a probe model's weights: as for the zoo's models, another torch or Python rounds a
    little differently but does not make another model."""
    return {"documents": documents, "merges": tokenizer.merges, "special_tokens": tokenizer.special_tokens,
            "model": config, "training": training}


def training_documents(extra_documents: list[str]) -> list[str]:
    """What a probe model trains on: a share of the default corpus's training documents, then `extra_documents`.
    Its batches are windows drawn at random from all of it, so a document is drawn in proportion to its share of
    the tokens."""
    if (isinstance(extra_documents, str) or not extra_documents
            or not all(isinstance(d, str) and d for d in extra_documents)):
        raise ValueError("extra_documents must be a non-empty list of non-empty strings")
    return load_corpus("pydoc").train_documents[::BASE_EVERY] + list(extra_documents)


def train_mixed(extra_documents: list[str], tokenizer: BPETokenizer, *, label: str,
                training: TrainConfig = PROBE_TRAINING, progress: bool = False) -> ProbeRun:
    """A probe model trained on the default corpus's training split plus `extra_documents` (from the cache when
    this very run was made before), in eval mode, ready to be probed. Validation is the default corpus's validation
    split, untouched."""
    documents = training_documents(extra_documents)
    config = probe_config(tokenizer)
    torch.manual_seed(training.seed)
    model = GPT(config)

    def train_now() -> TrainResult:
        train_ids = torch.tensor(tokenizer.encode("\n\n".join(documents)), dtype=torch.long)
        val_ids = torch.tensor(tokenizer.encode(load_corpus("pydoc").validation_text), dtype=torch.long)
        return train(model, train_ids, val_ids, training, label=f"probe model: {label}", progress=progress)

    result = cache.cached("probes", _run_key(documents, tokenizer, config, training), model, train_now)
    return ProbeRun(model.eval(), result.measurement, trained_now=not result.from_cache)
