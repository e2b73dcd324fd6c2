"""A program for torchrun, run by test_distributed: trains the zoo's tiny recipe as one rank of a job and leaves,
per rank, what the test compares (its weights and losses), or crashes rank 1 on purpose."""

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_model

from greenlab.foundations.data import load_corpus
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT
from greenlab.training import distributed, zoo
from greenlab.training.train import language_model_loss, train

out, mode = Path(sys.argv[1]), sys.argv[2]
world = distributed.init_from_env(timeout_s=30)
recipe = zoo.recipe("tiny")
if mode == "train":
    trained = zoo.train_recipe(recipe, out / f"written-by-rank-{world.rank}", progress=False)
    save_model(trained.model, str(out / f"rank{world.rank}.safetensors"))
    (out / f"rank{world.rank}.json").write_text(json.dumps(trained.history))
elif mode == "crash":
    corpus = load_corpus(recipe.corpus)
    tokenizer = BPETokenizer.train(corpus.train_text, recipe.vocab_size)
    ids = torch.tensor(tokenizer.encode(corpus.train_text))

    def crash_on_rank_1(model, inputs, targets):
        if world.rank == 1:
            raise RuntimeError("rank 1 crashed on purpose")
        return language_model_loss(model, inputs, targets)

    train(GPT(recipe.model), ids, ids, recipe.training, progress=False, loss_fn=crash_on_rank_1)
distributed.shutdown()
