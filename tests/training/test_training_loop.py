"""The one training loop (`training_loop`): what it does with the batches, loss and validation it is given."""

import json
import math
import os
import socket
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from torch import nn

from greenlab.foundations import settings
from greenlab.measurement import ledger
from greenlab.training.train import TrainConfig, learning_rate_at, training_loop

pytestmark = pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")  # short on purpose

ROWS = 8
CONFIG = TrainConfig(steps=7, batch_size=ROWS, learning_rate=1e-2, min_learning_rate=1e-3, warmup_steps=2,
                     weight_decay=0.0, grad_clip=0.0, eval_interval=3, eval_batches=1)


@pytest.fixture
def one_thread():
    with settings.one_thread():  # seconds, whatever the other core is doing
        yield


def linear() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(4, 3)


def ones(step: int) -> tuple[torch.Tensor]:
    """Every step's batch: 8 rows of ones, so that the gradient of `summed` is the same at every step."""
    return (torch.ones(ROWS, 4),)


def summed(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return model(x).sum()


def run(config: TrainConfig = CONFIG, *, batch_at=ones, loss_fn=summed, validate=lambda: 1.0, **options):
    model = linear()
    return model, training_loop(model, config, batch_at=batch_at, loss_fn=loss_fn, validate=validate,
                                label="the loop", progress=False, **options)


def test_every_step_moves_the_weights_by_the_schedules_learning_rate(cache, one_thread):
    seen = []

    def loss_fn(model, x):
        seen.append(model.weight.detach().clone())  # before this step's update: the previous steps' result
        return summed(model, x)

    model, result = run(loss_fn=loss_fn)
    seen.append(model.weight.detach().clone())
    schedule = [learning_rate_at(step, CONFIG) for step in range(CONFIG.steps)]
    assert result.learning_rates == schedule
    # a constant gradient: AdamW's every step is the learning rate itself, against the gradient (which is +8)
    for step, rate in enumerate(schedule):
        torch.testing.assert_close(seen[step] - seen[step + 1], torch.full((3, 4), rate), rtol=1e-4, atol=0)


@pytest.mark.parametrize("grad_clip, norm", [(0.5, 0.5), (0.0, 100 * ROWS * math.sqrt(15))])
def test_the_gradient_is_clipped_to_grad_clip_before_the_step(grad_clip, norm, cache, one_thread):
    norms = []

    def loss_fn(model, x):
        if model.weight.grad is not None:  # the previous step's gradient, as the optimizer stepped with it
            norms.append(torch.cat([p.grad.flatten() for p in model.parameters()]).norm().item())
        return 100 * summed(model, x)  # every one of the 15 gradients is 100 × 8

    run(replace(CONFIG, grad_clip=grad_clip), loss_fn=loss_fn)
    assert norms == pytest.approx([norm] * (CONFIG.steps - 1), rel=1e-5)


def test_validation_runs_every_eval_interval_steps_and_after_the_last_in_float32(cache, one_thread):
    losses = iter([3.0, 2.0, 1.0])
    in_bfloat16 = {"steps": [], "validation": []}

    def loss_fn(model, x):
        in_bfloat16["steps"].append(torch.is_autocast_enabled("cpu"))
        return summed(model, x)

    def validate():
        in_bfloat16["validation"].append(torch.is_autocast_enabled("cpu"))
        return next(losses)

    _, result = run(replace(CONFIG, precision="bfloat16"), loss_fn=loss_fn,
                    validate=validate)
    assert [(v["step"], v["val_loss"], v["val_perplexity"]) for v in result.validation] == [
        (3, 3.0, math.exp(3.0)), (6, 2.0, math.exp(2.0)), (7, 1.0, math.exp(1.0))]
    assert result.final_val_loss == 1.0 and result.precision == "bfloat16"
    assert in_bfloat16 == {"steps": [True] * CONFIG.steps, "validation": [False] * 3}


def test_the_batches_are_drawn_in_step_order_after_seeding_and_given_whole_on_one_process(cache, one_thread):
    drawn, given, first_draw = [], [], []

    def batch_at(step):
        drawn.append(step)
        return torch.full((ROWS, 4), float(step)), torch.arange(ROWS)

    def loss_fn(model, x, rows):
        given.append(rows.tolist())
        if not first_draw:
            first_draw.append(torch.rand(1))  # the model's own randomness (dropout) starts from the seed
        return summed(model, x)

    run(replace(CONFIG, seed=7), batch_at=batch_at, loss_fn=loss_fn)
    assert drawn == list(range(CONFIG.steps)) and given == [list(range(ROWS))] * CONFIG.steps
    torch.manual_seed(7)
    assert torch.equal(first_draw[0], torch.rand(1))


def test_without_a_formula_pytorch_counts_the_first_step_and_the_first_validation(cache, one_thread):
    def validate():
        return (torch.ones(2, 3) @ torch.ones(3, 5)).mean().item()  # 2 · 2 · 3 · 5 = 60 FLOPs

    _, result = run(validate=validate)
    # a step: the forward product (8 × 4 by 4 × 3) and the weight's gradient (3 × 8 by 8 × 4), 2 · 96 FLOPs each
    assert result.measurement.flops == 7 * 384 + 3 * 60
    row = ledger.load().iloc[-1]
    assert (row["label"], row["flops"]) == ("the loop", 7 * 384 + 3 * 60)


def test_a_formula_counts_each_whole_batch_and_the_counter_is_not_used(cache, one_thread):
    def batch_at(step):
        return torch.ones(ROWS, 4), torch.zeros(ROWS, step + 1)  # a second tensor of another width at every step

    def batch_flops(batch):
        return 10.0 * batch[1].shape[1]

    _, result = run(batch_at=batch_at, loss_fn=lambda model, x, widths: summed(model, x), batch_flops=batch_flops,
                    validate=lambda: (torch.ones(2, 3) @ torch.ones(3, 5)).mean().item())
    assert result.measurement.flops == 10.0 * sum(range(1, CONFIG.steps + 1))  # the validation's 60: not counted
    rows = ledger.load()
    assert len(rows) == 1 and rows["flops"].iloc[0] == 280.0 and rows["label"].iloc[0] == "the loop"


@pytest.mark.parametrize("options, error, message", [
    ({"batch_at": lambda step: [torch.ones(ROWS, 4)]}, TypeError,
     "batch_at.0. must return a non-empty tuple of tensors, got list"),
    ({"batch_at": lambda step: (torch.ones(ROWS, 4), torch.ones(ROWS - 1))}, ValueError,
     "batch_at.0. returned tensors of shapes \\[\\(8, 4\\), \\(7,\\)\\]; each must have TrainConfig.batch_size=8 rows"),
    ({"batch_at": lambda step: (torch.tensor(1.0),)}, ValueError, "shapes \\[\\(\\)\\]"),
    ({"loss_fn": lambda model, x: 1.5}, TypeError, "loss_fn must return a tensor with one value, got 1.5"),
    ({"loss_fn": lambda model, x: model(x)}, TypeError, "loss_fn must return a tensor with one value, got tensor"),
    ({"validate": 2.0}, TypeError, "validate must be a function, got float"),
    ({"batch_at": None}, TypeError, "batch_at must be a function, got NoneType"),
    ({"config": {"steps": 7}}, TypeError, "config must be a TrainConfig, got dict"),
])
def test_bad_input_is_named_and_records_nothing(options, error, message, cache, one_thread):
    with pytest.raises(error, match=message):
        run(**options)
    assert ledger.load().empty


RANK_PROGRAM = """
import json, sys
import torch
from greenlab.foundations.tasks import PairVocabulary, Pairs
from greenlab.models.seq2seq import EncoderDecoder, Seq2SeqConfig
from greenlab.training import distributed
from greenlab.training.train import TrainConfig, training_loop
from greenlab.training.translate import train_translator

world = distributed.init_from_env(timeout_s=60)
pairs = Pairs(["ab", "ba", "aa", "bb"], ["xy", "yx", "xx", "yy"])  # no padding: every rank's mean is over 3 tokens
vocabulary = PairVocabulary(pairs)
torch.manual_seed(0)
model = EncoderDecoder(Seq2SeqConfig(vocab_size=vocabulary.vocab_size, d_model=16, n_head=2, n_encoder_layer=1,
                                     n_decoder_layer=1, d_ff=32, max_source_len=4, max_target_len=4, dropout=0.0))
config = TrainConfig(steps=4, batch_size=8, learning_rate=1e-2, warmup_steps=1, eval_interval=2, eval_batches=1)
result = train_translator(model, vocabulary, pairs, pairs, config, label="translator", progress=False)
rows_seen = []

def first_column(model, x):
    rows_seen.append(x[:, 0].tolist())
    return model(x).sum()

training_loop(torch.nn.Linear(2, 1), TrainConfig(steps=2, batch_size=8, warmup_steps=1), progress=False,
              batch_at=lambda step: (torch.arange(8.0)[:, None].expand(8, 2) + 8 * step,), loss_fn=first_column,
              validate=lambda: 0.0, label="rows")
with open(f"{sys.argv[1]}-rank{world.rank}.json", "w") as out:
    json.dump({"train_losses": result.train_losses, "validation": [v["val_loss"] for v in result.validation],
               "flops": result.measurement.flops, "label": result.measurement.label,
               "world_size": result.world_size, "weights": distributed.weights_digest(model),
               "rows": rows_seen}, out)
distributed.shutdown()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_translator_trains_with_data_parallelism_as_on_one_process(tmp_path, cache):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}  # GREENLAB_CACHE: the test's own
    alone = subprocess.run([sys.executable, "-c", RANK_PROGRAM, str(tmp_path / "one")], capture_output=True,
                           text=True, timeout=120, env=environment)
    assert alone.returncode == 0, alone.stderr
    port = str(_free_port())
    ranks = [subprocess.Popen([sys.executable, "-c", RANK_PROGRAM, str(tmp_path / "two")], stderr=subprocess.PIPE,
                              text=True, env={**environment, "RANK": str(rank), "LOCAL_RANK": str(rank),
                                              "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port})
             for rank in (0, 1)]
    errors = [rank.communicate(timeout=120)[1] for rank in ranks]
    assert [rank.returncode for rank in ranks] == [0, 0], errors
    one, *two = (json.loads((tmp_path / name).read_text()) for name in ("one-rank0.json", "two-rank0.json",
                                                                      "two-rank1.json"))
    assert [rank["rows"] for rank in (one, *two)] == [  # each rank its slice of every batch's rows
        [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]], [[0, 1, 2, 3], [8, 9, 10, 11]],
        [[4, 5, 6, 7], [12, 13, 14, 15]]]
    shared = ["train_losses", "validation", "flops", "label", "world_size", "weights"]
    assert [two[0][key] for key in shared] == [two[1][key] for key in shared]  # validation: rank 0's, sent
    assert (one["world_size"], two[0]["world_size"]) == (1, 2)
    # each rank steps on 4 of the 8 rows: the same arithmetic as one process but for the order of the sums
    assert two[0]["train_losses"] == pytest.approx(one["train_losses"], abs=1e-4)
    assert two[0]["validation"] == pytest.approx(one["validation"], abs=1e-4)
    assert two[0]["flops"] == one["flops"]  # the whole batches' formula, on every rank
    assert (one["label"], two[0]["label"]) == ("translator", "translator (2 processes)")
    assert list(ledger.load()["label"]) == ["translator", "rows", "translator (2 processes)",
                                            "rows (2 processes)"]  # one row for each job, not one per rank
