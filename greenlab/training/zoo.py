"""The course's reference models: each recipe (`greenlab.training.recipes`) trained once and kept in the cache.

    reference = zoo.load("reference")   # from the cache, or trained now (with a progress bar) and cached
    reference.model, reference.tokenizer, reference.history

    translator = zoo.load_translator("translator")   # an encoder–decoder trained on a task of pairs
    translator.model, translator.vocabulary, translator.task, translator.history

The same recipe gives the same model on the same machine. A GPT's folder in the cache (`greenlab.training.cache`,
`GREENLAB_CACHE/zoo/<name>-<profile>`) holds `model.safetensors`, `tokenizer.json` and `history.json` (losses,
validation, measured cost); a translator's (`zoo/<name>`) has no tokenizer: its character vocabulary is rebuilt from
its task and checked against the one in its history.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import psutil
import torch

from greenlab.foundations import options
from greenlab.foundations.checkpoints import load_checkpoint
from greenlab.foundations.data import load_corpus
from greenlab.foundations.settings import device, profile
from greenlab.foundations.tasks import PairVocabulary, Task, load_task
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT
from greenlab.measurement.energy import format_energy
from greenlab.models.seq2seq import EncoderDecoder
from greenlab.training import cache, distributed
from greenlab.training.recipes import RECIPES, TRANSLATORS, Recipe, TranslatorRecipe, recipe
from greenlab.training.train import train
from greenlab.training.translate import DecoderOnlyTranslator, train_translator

__all__ = ["RECIPES", "TRANSLATORS", "Recipe", "TranslatorRecipe", "recipe", "Pretrained", "PretrainedTranslator",
           "load", "load_translator", "train_recipe", "folder_of"]


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
    """Where the named GPT of the current profile is kept."""
    return cache.folder_of("zoo", f"{name}-{profile()}")


def _entry(r: Recipe, folder: Path) -> cache.Entry:
    return cache.Entry(folder, r.fingerprint(), CACHED_FILES, repr(r.name), asdict(r))


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


def train_recipe(r: Recipe, folder: str | Path, *, progress: bool = True) -> Pretrained:
    """Train the recipe from scratch and write its files into `folder` (history.json includes the world size).
    Under torchrun, every rank trains its replica together with the others and rank 0 alone writes; the ranks
    must hold the same recipe. The folder is checked first: a run is refused, never trained and then lost."""
    folder = Path(folder)
    if distributed.world().is_main:
        cache.check_writable(folder, (*CACHED_FILES, "recipe.json"))
    trained = _train_gpt(r, folder, progress=progress)
    cache.write_whole(_entry(r, folder), trained.model.cpu(), lambda to: _write_gpt(trained, to))
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


def _write_gpt(trained: Pretrained, folder: Path) -> None:
    trained.tokenizer.save(folder / "tokenizer.json")
    (folder / "history.json").write_text(json.dumps(trained.history))


def _read_gpt(r: Recipe, folder: Path) -> Pretrained:
    model = GPT(r.model)
    load_checkpoint(model, folder / "model.safetensors")  # refuses NaN weights and another config
    tokenizer = BPETokenizer.load(folder / "tokenizer.json")
    history = json.loads((folder / "history.json").read_text())
    return Pretrained(r, model.eval(), tokenizer, history, folder, trained_now=False)


def load(name: str = "reference", *, retrain: bool = False, progress: bool = True) -> Pretrained:
    """The named reference model: from the cache when it is there and current, else trained and cached."""
    r, folder = recipe(name), folder_of(name)
    return cache.kept(_entry(r, folder), lambda at: _read_gpt(r, at),
                      lambda: _train_gpt(r, folder, progress=progress), lambda trained: trained.model.cpu(),
                      _write_gpt, retrain=retrain)


# --- translators: the encoder–decoder of notebook 06, and a decoder-only GPT of about its size -------------

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


def _read_translator(r: TranslatorRecipe, folder: Path) -> PretrainedTranslator:
    history = json.loads((folder / "history.json").read_text())
    task = load_task(r.task)
    vocabulary = PairVocabulary(task.train)
    if history["vocabulary"] != vocabulary.itos:
        raise ValueError(f"its vocabulary differs from the {r.task!r} task's")
    model = r.build()
    load_checkpoint(model, folder / "model.safetensors")  # refuses NaN weights and another config
    return PretrainedTranslator(r, model.eval(), vocabulary, task, history, folder, trained_now=False)


def load_translator(name: str = "translator", *, retrain: bool = False,
                    progress: bool = True) -> PretrainedTranslator:
    """The named translator: from the cache when it is there and current, else trained and cached."""
    if name not in TRANSLATORS:
        raise ValueError(f"unknown translator {name!r}; the zoo has: {', '.join(TRANSLATORS)}")
    r = TRANSLATORS[name]
    folder = cache.folder_of("zoo", name)
    entry = cache.Entry(folder, r.fingerprint(), TRANSLATOR_FILES, repr(name), asdict(r))
    return cache.kept(entry, lambda at: _read_translator(r, at),
                      lambda: _train_translator(r, folder, progress=progress), lambda trained: trained.model.cpu(),
                      lambda trained, to: (to / "history.json").write_text(json.dumps(trained.history)),
                      retrain=retrain)


# --- the program behind `greenlab train`: one recipe trained into a folder, alone or as one rank of a torchrun job

def command_line() -> argparse.ArgumentParser:
    """The options of `greenlab train`, which are this program's."""
    parser = argparse.ArgumentParser(prog="greenlab train")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--recipe", help="a recipe of the zoo (e.g. tiny, reference, sliding-window)")
    source.add_argument("--config", help="a recipe as JSON: the `recipe` of a recipe.json, or a whole recipe.json")
    parser.add_argument("--steps", type=options.positive_int, help="training steps instead of the recipe's (its "
                                                                  "warmup is kept, or a tenth of the steps when "
                                                                  "it is longer)")
    parser.add_argument("--out", required=True, help="folder for model.safetensors, tokenizer.json, history.json "
                                                     "and recipe.json (written by rank 0 only)")
    parser.add_argument("--timeout", type=options.seconds, default=distributed.DEFAULT_TIMEOUT_S,
                        help="seconds a process waits for the others before the job fails (under torchrun)")
    return parser


def _train_command(args: argparse.Namespace) -> int:
    """Train the recipe the options name into --out, as this process's part of the job; 130 on Ctrl-C."""
    if args.config:
        try:
            chosen = Recipe.from_file(args.config)
        except ValueError as error:
            raise ValueError(f"--config {error}") from None
    else:
        chosen = recipe(args.recipe)
    if args.steps is not None:  # the recipe's warmup, or a tenth of the steps when that is too long
        t = chosen.training
        warmup = t.warmup_steps if t.warmup_steps < args.steps else args.steps // 10
        chosen = replace(chosen, training=replace(t, steps=args.steps, warmup_steps=warmup))
    joined = distributed.World()  # a lone process until it has joined its job
    try:
        joined = distributed.init_from_env(args.timeout)  # under torchrun, a wait for the other processes
        trained = train_recipe(chosen, args.out, progress=joined.is_main)
    except KeyboardInterrupt:  # Ctrl-C: the files are written after the last step, and removed if interrupted then
        print(f"greenlab train: interrupted; nothing was written to {args.out}", file=sys.stderr)
        return 130
    except ValueError as error:
        if joined.size == 1:
            raise
        raise ValueError(f"rank {joined.rank} of {joined.size}: {error}") from None
    finally:
        distributed.shutdown()
    if joined.is_main:
        history, m = trained.history, trained.history["measurement"]
        print(f"trained {chosen.name!r} on {joined.size} process(es): {chosen.training.steps} steps, validation "
              f"loss {history['validation'][-1]['val_loss']:.3f}, {m['duration_s']:.1f} s, "
              f"{format_energy(m['energy_j'])} [{m['method']}]")
        print(f"wrote {', '.join(CACHED_FILES)} and recipe.json in {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`greenlab train [OPTIONS]`: train a zoo recipe (or a recipe.json) into a folder, alone or as one rank of a
    torchrun job. 0 when trained; 2 with one line for bad input; 130 on Ctrl-C, never a traceback."""
    args = command_line().parse_args(argv)
    return options.run_command("greenlab train", lambda: _train_command(args))


if __name__ == "__main__":
    sys.exit(main())
