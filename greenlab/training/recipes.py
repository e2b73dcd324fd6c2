"""The course's recipes: named, deterministic descriptions of a model and how to train it, as plain data.

A recipe fixes everything that decides the trained weights: corpus, tokenizer size, architecture, training schedule
and seed. Each GPT recipe has a "cpu" version sized for 2 cores and a bigger "gpu" version; GREENLAB_PROFILE
chooses. The zoo (`greenlab.training.zoo`) trains a recipe once and keeps the result in the cache.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from greenlab.foundations.data import CORPORA
from greenlab.foundations.settings import profile
from greenlab.foundations.validation import check_whole
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.models.seq2seq import EncoderDecoder, Seq2SeqConfig
from greenlab.training.cache import fingerprint
from greenlab.training.train import TrainConfig
from greenlab.training.translate import DecoderOnlyTranslator


@dataclass(frozen=True)
class Recipe:
    """A reference model's corpus, tokenizer size, architecture and training schedule."""

    name: str
    description: str
    model: GPTConfig
    training: TrainConfig
    vocab_size: int = 4096  # byte-level BPE trained on the corpus's training split
    corpus: str = "pydoc"

    def __post_init__(self) -> None:
        """A ValueError naming the field when a value cannot make a model (checked now, not after the tokenizer's
        training: a recipe may come from a hand-edited JSON file)."""
        for name in ("name", "description", "corpus"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"Recipe.{name} must be a string, got {getattr(self, name)!r}")
        if self.corpus not in CORPORA:
            raise ValueError(f"Recipe.corpus={self.corpus!r} is unknown; available: {', '.join(CORPORA)}")
        check_whole("Recipe.vocab_size", self.vocab_size, minimum=257, why="the 256 bytes and the end-of-text token")
        if self.vocab_size != self.model.vocab_size:
            raise ValueError(f"Recipe.vocab_size={self.vocab_size} (the tokenizer's) differs from "
                             f"model.vocab_size={self.model.vocab_size}: the model needs one embedding per token")

    def fingerprint(self) -> str:
        """A short hash of everything that determines the trained weights."""
        return fingerprint(self)

    @classmethod
    def from_dict(cls, content: dict) -> "Recipe":
        """A recipe from its `dataclasses.asdict` form (as in a cached `recipe.json`); a ValueError names what is
        wrong."""
        if not isinstance(content, dict):
            raise ValueError(f"not a recipe: expected a JSON object, got {type(content).__name__}")
        try:
            return cls(**{**content, "model": GPTConfig(**content["model"]),
                          "training": TrainConfig(**content["training"])})
        except (KeyError, TypeError) as error:
            raise ValueError(f"not a recipe ({type(error).__name__}: {error}); expected the fields "
                             f"{', '.join(cls.__dataclass_fields__)}, with model and training as dicts") from None

    @classmethod
    def from_file(cls, path: str | Path) -> "Recipe":
        """A recipe from a JSON file: its `dataclasses.asdict` form, or a whole `recipe.json` as training writes it;
        a ValueError starts with the file's path and says what is wrong."""
        try:
            content = json.loads(Path(path).read_text(encoding="utf-8"))
            if isinstance(content, dict) and "recipe" in content:  # a whole recipe.json
                content = content["recipe"]
            return cls.from_dict(content)
        except (ValueError, RecursionError) as error:
            raise ValueError(f"{path}: {error}") from None

    def training_flops(self) -> int:
        """The matrix-multiply FLOPs of the whole training run: forward and backward, every token of every step."""
        t = self.training
        with torch.device("meta"):  # the shapes alone: no memory, no time
            model = GPT(self.model)
        return model.flops_per_token(t.block_size, training=True) * t.steps * t.batch_size * t.block_size

    def training_memory_floor(self) -> int:
        """A lower bound on the bytes that training holds at once, in float32: the weights, their gradients and the
        optimizer's state (AdamW keeps two numbers per weight, Muon at least one); per token of a batch, the 16
        activations of width n_embd that each layer keeps for the backward pass (its input and two norms, q, k and
        v, the attention's output and its copy, the residual, the MLP's 4 × n_embd before and after GELU); and the
        batch's logits with their gradient. Attention's scratch space and the allocator's slack come on top, so a
        recipe above the free memory cannot train at all."""
        t, m = self.training, self.model
        with torch.device("meta"):
            parameters = GPT(m).num_parameters()
        states = 2 if t.optimizer == "adamw" else 1
        tokens = t.batch_size * t.block_size
        return 4 * ((2 + states) * parameters + tokens * (16 * m.n_embd * m.n_layer + 2 * m.vocab_size))


_REFERENCE_TRAINING = TrainConfig(steps=700, batch_size=16, block_size=128, learning_rate=3e-3,
                                  min_learning_rate=3e-4, warmup_steps=30, eval_interval=50, eval_batches=4)
RECIPES: dict[str, dict[str, Recipe]] = {
    "reference": {
        "cpu": Recipe("reference", "the course's teacher GPT: 4 layers, 4 heads, width 128, context 128",
                      GPTConfig(vocab_size=4096, block_size=128, n_layer=4, n_head=4, n_embd=128),
                      _REFERENCE_TRAINING),
        "gpu": Recipe("reference", "the teacher GPT, GPU size: 6 layers, 6 heads, width 384, context 256",
                      GPTConfig(vocab_size=4096, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
                      TrainConfig(steps=3000, batch_size=32, block_size=256, learning_rate=1e-3,
                                  min_learning_rate=1e-4, warmup_steps=100, eval_interval=250, eval_batches=4)),
    },
}
RECIPES["code"] = {
    "cpu": Recipe("code", "a GPT for Python code, trained on 62 modules of the standard library: 4 layers, width 128",
                  GPTConfig(vocab_size=2048, block_size=128, n_layer=4, n_head=4, n_embd=128),
                  TrainConfig(steps=600, batch_size=16, block_size=128, learning_rate=3e-3, min_learning_rate=3e-4,
                              warmup_steps=30, eval_interval=100, eval_batches=4),
                  vocab_size=2048, corpus="stdlib"),
    "gpu": Recipe("code", "a GPT for Python code, GPU size: 6 layers, 6 heads, width 384, context 256",
                  GPTConfig(vocab_size=2048, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
                  TrainConfig(steps=3000, batch_size=32, block_size=256, learning_rate=1e-3, min_learning_rate=1e-4,
                              warmup_steps=100, eval_interval=250, eval_batches=4),
                  vocab_size=2048, corpus="stdlib"),
}
_TINY = Recipe("tiny", "a test-size GPT that trains in seconds, for checking a setup (e.g. a torchrun job)",
               GPTConfig(vocab_size=300, block_size=16, n_layer=1, n_head=2, n_embd=16),
               TrainConfig(steps=6, batch_size=4, block_size=16, warmup_steps=1, eval_interval=3, eval_batches=1),
               vocab_size=300)
RECIPES["tiny"] = {"cpu": _TINY, "gpu": _TINY}
_GREENER = replace(  # notebook 05: the reference recipe with what lowered bits/char per joule (benchmarks/bench_recipe.py)
    RECIPES["reference"]["cpu"], name="greener",
    description="the reference recipe made greener: bfloat16 autocast where the CPU has it, Muon on the linear layers at learning rate "
                "2e-3, a 2,048-token vocabulary, weight decay 1.0, 900 steps",
    model=replace(RECIPES["reference"]["cpu"].model, vocab_size=2048), vocab_size=2048,
    training=replace(_REFERENCE_TRAINING, precision="auto", optimizer="muon", learning_rate=2e-3,
                     min_learning_rate=2e-4, weight_decay=1.0, steps=900))
RECIPES["greener"] = {"cpu": _GREENER, "gpu": _GREENER}  # sized for 2 CPU cores, like the lesson it belongs to
_MODERN = replace(  # notebook 05, section 9: the greener recipe with Llama's block instead of GPT-2's
    _GREENER, name="modern", description=f"{_GREENER.description}; Llama's block: RMSNorm, rotary positions, a "
                                         f"SwiGLU MLP, no biases",
    model=replace(_GREENER.model, norm="rmsnorm", positions="rope", mlp="swiglu", bias=False))
RECIPES["modern"] = {"cpu": _MODERN, "gpu": _MODERN}
RECIPES["sliding-window"] = {  # the same recipe, but each token sees only the last quarter of the context
    size: replace(r, name="sliding-window", description=f"{r.description}; sliding-window attention over "
                                                        f"{r.model.block_size // 4} tokens (blocked kernel)",
                  model=replace(r.model, attention="blocked", window=r.model.block_size // 4))
    for size, r in RECIPES["reference"].items()}


def recipe(name: str) -> Recipe:
    """The recipe of that name for the current profile (GREENLAB_PROFILE)."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; the zoo has: {', '.join(RECIPES)}")
    return RECIPES[name][profile()]


@dataclass(frozen=True)
class TranslatorRecipe:
    """A reference translator: its task (`greenlab.foundations.tasks`), architecture and training schedule. A
    `GPTConfig` as the model means a decoder-only GPT reading the source, left-padded to `source_len` characters,
    and the target as one sequence (`greenlab.training.translate.DecoderOnlyTranslator`)."""

    name: str
    description: str
    task: str
    model: Seq2SeqConfig | GPTConfig
    training: TrainConfig
    source_len: int = 8  # decoder-only: the width the source is left-padded to (at least the longest source)

    def fingerprint(self) -> str:
        """A short hash of everything that determines the trained weights."""
        return fingerprint(self)

    def build(self) -> EncoderDecoder | DecoderOnlyTranslator:
        """The untrained model, initialised from the training seed."""
        torch.manual_seed(self.training.seed)
        if isinstance(self.model, GPTConfig):
            return DecoderOnlyTranslator(GPT(self.model), self.source_len)
        return EncoderDecoder(self.model)


# Numbers → English words: 34 characters (4 special tokens, digits, 18 letters, space and hyphen); sources have
# at most 6 characters, targets at most 64 (+ <s>). 400 steps of 64 pairs: about a minute for the encoder–decoder
# on 2 cores. At the reference GPT's learning rate, 3e-3, the encoder–decoder learned to ignore the source and write
# the most frequent words; at 2e-3 it learns the task.
_NUMBERS_TRAINING = TrainConfig(steps=400, batch_size=64, learning_rate=2e-3, min_learning_rate=2e-4,
                                warmup_steps=40, eval_interval=100, eval_batches=2)
TRANSLATORS: dict[str, TranslatorRecipe] = {
    "translator": TranslatorRecipe(
        "translator", "numbers to English words: an encoder–decoder, 2 + 2 layers, width 128", "numbers",
        Seq2SeqConfig(vocab_size=34, max_source_len=6, max_target_len=72), _NUMBERS_TRAINING),
    "decoder-only-translator": TranslatorRecipe(
        "decoder-only-translator", "numbers to English words: a decoder-only GPT, 4 layers, width 136 (about the "
        "encoder–decoder's parameters), reading source and target as one sequence", "numbers",
        GPTConfig(vocab_size=34, block_size=6 + 72, n_layer=4, n_head=4, n_embd=136, dropout=0.1),
        _NUMBERS_TRAINING, source_len=6),
}
