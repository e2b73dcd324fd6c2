"""The course's reference models: named, deterministic recipes, trained once and kept in the cache folder.

    reference = zoo.load("reference")   # from the cache, or trained now (with a progress bar) and cached
    reference.model, reference.tokenizer, reference.history

    translator = zoo.load_translator("translator")   # an encoder–decoder trained on a task of pairs
    translator.model, translator.vocabulary, translator.task, translator.history

A recipe fixes everything: corpus, tokenizer, architecture, training schedule and seed, so the same recipe gives
the same model on the same machine. Each has a "cpu" version sized for 2 cores and a bigger "gpu" version;
GREENLAB_PROFILE chooses. The cache holds, per recipe, `model.safetensors`, `tokenizer.json` (a translator has
none: its character vocabulary is rebuilt from its task, and checked against the one in its history),
`history.json` (losses, validation, measured cost) and, written last, `recipe.json`: the recipe's fingerprint (a
changed recipe is retrained; another torch or Python is not a change) and the SHA-256 of the other files, checked
before they are used (a damaged file is retrained, and the warning names it), and the weights must be finite. A
cache that cannot be written (read-only, full) still gives the model just trained, with a warning. A run's files
are written whole or not at all: a failure while writing them, Ctrl-C included, leaves none of them behind.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
import warnings
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import psutil
import torch

import greenlab
from greenlab.foundations.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from greenlab.foundations.data import CORPORA, load_corpus
from greenlab.foundations.settings import cache_dir, check_whole, device, profile
from greenlab.foundations.tasks import PairVocabulary, Task, load_task
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.models.seq2seq import EncoderDecoder, Seq2SeqConfig
from greenlab.training import distributed
from greenlab.training.run_cache import file_sha256, matches_sha256, one_trainer_at_a_time
from greenlab.training.train import TrainConfig, train
from greenlab.training.translate import DecoderOnlyTranslator, train_translator


def _fingerprint(recipe: object) -> str:
    """A short hash of a recipe (a dataclass) and of greenlab's version, which holds the code that trains it. The
    torch and Python that trained a model are recorded beside it (`trained_with`), not hashed: another release
    rounds a little differently, which does not make another model, so upgrading torch keeps the cache."""
    content = json.dumps(asdict(recipe), sort_keys=True)
    return hashlib.sha256(f"{content} greenlab={greenlab.__version__}".encode()).hexdigest()[:16]


def _trained_with() -> dict[str, str]:
    """The versions of torch and Python training now, recorded in recipe.json."""
    return {"torch": torch.__version__, "python": ".".join(map(str, sys.version_info[:3]))}


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
        return _fingerprint(self)

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


@dataclass
class Pretrained:
    """A reference model with everything it came from."""

    recipe: Recipe
    model: GPT
    tokenizer: BPETokenizer
    history: dict  # train_losses, learning_rates, validation points, measurement (a ledger row)
    folder: Path
    trained_now: bool


CACHED_FILES = ("model.safetensors", "tokenizer.json", "history.json")


def folder_of(name: str) -> Path:
    return cache_dir() / "zoo" / f"{name}-{profile()}"


def _check_fits_in_memory(r: Recipe) -> None:
    """A ValueError naming the recipe's sizes and its `training_memory_floor` when that exceeds the free memory of
    the device it trains on: refused before anything is allocated, not swapped or killed halfway."""
    needed = r.training_memory_floor()
    on_gpu = device().type == "cuda"
    free = torch.cuda.mem_get_info()[0] if on_gpu else psutil.virtual_memory().available
    if needed > free:
        m, t = r.model, r.training
        where = "this GPU" if on_gpu else "this machine"
        raise ValueError(f"the recipe {r.name!r} (n_layer={m.n_layer}, n_embd={m.n_embd}, vocab_size={m.vocab_size}, "
                         f"batch_size={t.batch_size}, block_size={t.block_size}) needs at least {needed / 1e9:,.1f} GB "
                         f"to train (weights, gradients, optimizer state, activations and logits, in float32) and "
                         f"{where} has {free / 1e9:,.1f} GB free: make the model or the batch smaller")


def _check_writable(folder: Path, names: tuple[str, ...]) -> None:
    """An OSError naming the path unless the files `names` can be written into `folder`: into it, or into the
    nearest folder above it that exists, where it will be created. A nameless probe file is made there and dropped
    (an access check cannot see a confined process's rules); nothing is left."""
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder: choose another folder for the trained files")
    for name in names:
        if (folder / name).exists() and not (folder / name).is_file():
            raise IsADirectoryError(f"{folder / name} is not a file, so the trained {name} cannot replace it: "
                                    f"choose another folder for the trained files")
    existing = next(path for path in (folder, *folder.parents) if path.exists())
    if not existing.is_dir():
        raise NotADirectoryError(f"{existing} is a file, so {folder} cannot be made: choose another folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:  # read-only, not ours, or out of reach of a sandbox
        raise OSError(f"cannot write into {existing}, so not into {folder} ({error.strerror}): choose another "
                      f"folder for the trained files") from None


def train_recipe(r: Recipe, folder: str | Path, *, progress: bool = True) -> Pretrained:
    """Train the recipe from scratch and write its files into `folder` (history.json includes the world size).
    Under torchrun, every rank trains its replica together with the others and rank 0 alone writes; the ranks
    must hold the same recipe. The folder is checked first: a run is refused, never trained and then lost."""
    folder = Path(folder)
    if distributed.world().is_main:
        _check_writable(folder, (*CACHED_FILES, "recipe.json"))
    trained = _train_gpt(r, folder, progress=progress)
    _write_run(r, folder, trained.model, trained.history, trained.tokenizer)
    return trained


def _train_gpt(r: Recipe, folder: Path, *, progress: bool) -> Pretrained:
    """Train the recipe from scratch (under torchrun, every rank with the others), for `folder`; nothing is
    written. Refused first when the ranks hold different recipes or it cannot fit in memory."""
    distributed.check_same_everywhere("the recipe", asdict(r))
    _check_fits_in_memory(r)
    corpus = load_corpus(r.corpus)
    tokenizer = BPETokenizer.train(corpus.train_text, r.vocab_size)
    train_ids = torch.tensor(tokenizer.encode(corpus.train_text), dtype=torch.long)
    val_ids = torch.tensor(tokenizer.encode(corpus.validation_text), dtype=torch.long)
    torch.manual_seed(r.training.seed)
    model = GPT(r.model)
    result = train(model, train_ids, val_ids, r.training, label=f"zoo: train {r.name} ({profile()})",
                   progress=progress)
    history = {"train_losses": result.train_losses, "learning_rates": result.learning_rates,
               "validation": result.validation, "measurement": result.measurement.as_row(),
               "validation_tokens": len(val_ids), "validation_characters": len(corpus.validation_text),
               "world_size": result.world_size, "precision": result.precision}
    return Pretrained(r, model.eval(), tokenizer, history, folder, trained_now=True)


def _write_run(r: Recipe | TranslatorRecipe, folder: Path, model: torch.nn.Module, history: dict,
               tokenizer: BPETokenizer | None) -> None:
    """Write a trained model's files into `folder`, on rank 0 only: the weights, the tokenizer (a translator has
    none), history.json, then recipe.json (the recipe, its fingerprint, the SHA-256 of the other files and the
    versions that trained it), whose presence marks a whole run. A failure on the way, Ctrl-C included, removes the
    run's files: the folder never holds half of a run."""
    if not distributed.world().is_main:
        return
    files = CACHED_FILES if tokenizer is not None else TRANSLATOR_FILES
    folder.mkdir(parents=True, exist_ok=True)
    replaced = False
    try:
        save_checkpoint(model.cpu(), folder / "model.safetensors")
        replaced = True  # the weights replace a file whole or not at all: until here, an older run is intact
        if tokenizer is not None:
            tokenizer.save(folder / "tokenizer.json")
        (folder / "history.json").write_text(json.dumps(history))
        checksums = {name: file_sha256(folder / name) for name in files}
        (folder / "recipe.json").write_text(json.dumps({"fingerprint": r.fingerprint(), "sha256": checksums,
                                                        "trained_with": _trained_with(), "recipe": asdict(r)},
                                                       indent=1))
    except BaseException:
        if replaced:  # new weights beside older files, or half of a file: no run at all
            for name in (*files, "recipe.json"):
                with suppress(OSError):  # a removal that fails must not hide why the writing did
                    (folder / name).unlink(missing_ok=True)
        raise


def _keep(r: Recipe | TranslatorRecipe, folder: Path, model: torch.nn.Module, history: dict,
          tokenizer: BPETokenizer | None) -> None:
    """`_write_run` into the cache. A cache that cannot be written (read-only, full) costs the files, not the model
    just trained: it is used now, a warning says so, and it trains again next time."""
    try:
        _write_run(r, folder, model, history, tokenizer)
    except OSError as error:
        warnings.warn(f"the trained {r.name!r} could not be kept in {folder} ({error}): it is used now, and will "
                      f"train again next time")


def _cache_is_current(r: Recipe | TranslatorRecipe, folder: Path, files: tuple[str, ...]) -> bool:
    """Whether `folder` holds `files` written by this very recipe, unchanged since (a warning says why not, unless
    nothing was cached). A ValueError, KeyError or OSError means an unreadable recipe.json."""
    if not (folder / "recipe.json").exists():
        return False
    stored = json.loads((folder / "recipe.json").read_text())
    if not isinstance(stored, dict) or stored.get("fingerprint") != r.fingerprint():
        warnings.warn(f"the cached {r.name!r} in {folder} was made by another recipe: training it again")
        return False
    checksums = stored.get("sha256")
    if not isinstance(checksums, dict) or sorted(checksums) != sorted(files) \
            or not all(isinstance(digest, str) and re.fullmatch("[0-9a-f]{64}", digest)
                       for digest in checksums.values()):
        warnings.warn(f"{folder / 'recipe.json'} does not hold a SHA-256 for each of {', '.join(files)} (edited by "
                      f"hand, or written before checksums?): training {r.name!r} again")
        return False
    for name, digest in checksums.items():
        if not matches_sha256(folder / name, digest):
            warnings.warn(f"{folder / name} is missing or differs from the file cached with {r.name!r} "
                          f"(damaged?): training {r.name!r} again")
            return False
    return True


def _from_cache(r: Recipe, folder: Path) -> Pretrained | None:
    """The cached model, or None when it is missing, stale or unreadable (with a warning for the last two)."""
    try:
        if not _cache_is_current(r, folder, CACHED_FILES):
            return None
        model = GPT(r.model)
        load_checkpoint(model, folder / "model.safetensors")  # refuses NaN weights and another config
        tokenizer = BPETokenizer.load(folder / "tokenizer.json")
        history = json.loads((folder / "history.json").read_text())
    except (CheckpointError, ValueError, KeyError, TypeError, OSError) as error:
        warnings.warn(f"the cached {r.name!r} in {folder} is unreadable ({error}): training it again")
        return None
    return Pretrained(r, model.eval(), tokenizer, history, folder, trained_now=False)


def load(name: str = "reference", *, retrain: bool = False, progress: bool = True) -> Pretrained:
    """The named reference model: from the cache when it is there and current, else trained and cached."""
    r = recipe(name)
    folder = folder_of(name)
    with one_trainer_at_a_time(folder):
        cached = None if retrain else _from_cache(r, folder)
        if cached is not None:
            return cached
        trained = _train_gpt(r, folder, progress=progress)
        _keep(r, folder, trained.model, trained.history, trained.tokenizer)
        return trained


# --- translators: the encoder–decoder of notebook 06, and a decoder-only GPT of about its size -------------

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
        return _fingerprint(self)

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


@dataclass
class PretrainedTranslator:
    """A reference translator with its task, character vocabulary and training history."""

    recipe: TranslatorRecipe
    model: EncoderDecoder | DecoderOnlyTranslator
    vocabulary: PairVocabulary
    task: Task
    history: dict  # train_losses, learning_rates, validation points, measurement (a ledger row), vocabulary
    folder: Path
    trained_now: bool


TRANSLATOR_FILES = ("model.safetensors", "history.json")


def _train_translator(r: TranslatorRecipe, folder: Path, *, progress: bool) -> PretrainedTranslator:
    """Train the translator recipe from scratch, for `folder`; nothing is written."""
    task = load_task(r.task)
    vocabulary = PairVocabulary(task.train)
    if vocabulary.vocab_size != r.model.vocab_size:
        raise ValueError(f"recipe {r.name!r} has vocab_size={r.model.vocab_size}, but the {r.task!r} task has "
                         f"{vocabulary.vocab_size} tokens")
    model = r.build()
    result = train_translator(model, vocabulary, task.train, task.validation, r.training,
                              label=f"zoo: train {r.name}", progress=progress)
    history = {"train_losses": result.train_losses, "learning_rates": result.learning_rates,
               "validation": result.validation, "measurement": result.measurement.as_row(),
               "vocabulary": vocabulary.itos}
    return PretrainedTranslator(r, model.eval(), vocabulary, task, history, folder, trained_now=True)


def load_translator(name: str = "translator", *, retrain: bool = False,
                    progress: bool = True) -> PretrainedTranslator:
    """The named translator: from the cache when it is there and current, else trained and cached."""
    if name not in TRANSLATORS:
        raise ValueError(f"unknown translator {name!r}; the zoo has: {', '.join(TRANSLATORS)}")
    r = TRANSLATORS[name]
    folder = cache_dir() / "zoo" / name
    with one_trainer_at_a_time(folder):
        try:
            if not retrain and _cache_is_current(r, folder, TRANSLATOR_FILES):
                history = json.loads((folder / "history.json").read_text())
                task = load_task(r.task)
                vocabulary = PairVocabulary(task.train)
                if history["vocabulary"] != vocabulary.itos:
                    raise ValueError(f"its vocabulary differs from the {r.task!r} task's")
                model = r.build()
                load_checkpoint(model, folder / "model.safetensors")  # refuses NaN weights and another config
                return PretrainedTranslator(r, model.eval(), vocabulary, task, history, folder, trained_now=False)
        except (CheckpointError, ValueError, KeyError, TypeError, OSError) as error:
            warnings.warn(f"the cached {name!r} in {folder} is unreadable ({error}): training it again")
        trained = _train_translator(r, folder, progress=progress)
        _keep(r, folder, trained.model, trained.history, None)
        return trained
