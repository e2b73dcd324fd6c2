"""Data parallelism: the checks in-process, and real jobs of 2 CPU processes (gloo, loopback) started by torchrun."""

import json
import os
import re
import socket
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from greenlab.measurement import ledger
from greenlab.training import distributed, zoo

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
WORKER = Path(__file__).with_name("ddp_worker.py")
JOB_TIMEOUT_S = 120  # a job that hangs fails the test instead of the test run
# Loss of one process against two at the same global batch: the same arithmetic but for the order of one sum (the
# mean over the batch). Measured: at most 7e-7 over 30 steps on a loss near 5; the bound leaves 100 times that.
LOSS_TOLERANCE = 1e-4


def _run(command: list[str], cache: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=JOB_TIMEOUT_S,
                          env={**os.environ, "GREENLAB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", **env})


def test_a_lone_process_is_rank_0_of_1():
    assert distributed.world() == distributed.World(rank=0, local_rank=0, size=1)
    assert distributed.world().is_main and distributed.world().is_machine_main
    assert distributed.rows_per_rank(16, 1) == 16 and distributed.rows_per_rank(16, 4) == 4


@pytest.mark.parametrize("value", ["abc", "-1", "2.5"])
def test_a_world_size_that_is_not_a_number_is_named(monkeypatch, value):
    monkeypatch.setenv("WORLD_SIZE", value)
    with pytest.raises(distributed.DistributedError, match=f"WORLD_SIZE='{re.escape(value)}' is not a whole number"):
        distributed.init_from_env()


@pytest.mark.parametrize("variables, message", [
    ({"WORLD_SIZE": "2", "RANK": "abc"}, "RANK='abc' is not a whole number: torchrun sets it"),
    ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK must be a whole number from 0 to 1 .torchrun sets it.*., got 2$"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE must be a whole number >= 1 .torchrun sets it.*., got 0$"),
])
def test_a_rank_or_world_size_out_of_place_is_named_before_joining(monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(distributed.DistributedError, match=message):
        distributed.init_from_env(timeout_s=1)


@pytest.mark.parametrize("batch_size, world_size, message", [
    (5, 2, "batch_size 5 is not divisible by the world size 2: use a multiple of 2"),
    (1, 2, "batch_size 1 is smaller than the world size 2: 1 rank\\(s\\) would get no data"),
])
def test_a_batch_that_does_not_split_is_refused_naming_the_values(batch_size, world_size, message):
    with pytest.raises(distributed.DistributedError, match=message):
        distributed.rows_per_rank(batch_size, world_size)


def test_disagreement_names_the_rank_and_the_differing_fields():
    assert distributed.disagreement("the recipe", [{"a": 1}, {"a": 1}]) is None
    assert (distributed.disagreement("the recipe", [{"a": 1, "t": {"b": 2}}, {"a": 1, "t": {"b": 3}}, {"a": 1, "t": {"b": 2}}])
            == "the ranks disagree on the recipe: rank 1 has t.b=3 (rank 0: 2)")
    assert distributed.disagreement("x", ["p", "q"]) == "the ranks disagree on x: rank 1 has 'q' (rank 0: 'p')"


def test_weights_digest_tells_one_changed_weight():
    model = torch.nn.Linear(3, 2)
    before = distributed.weights_digest(model)
    with torch.no_grad():
        model.weight[0, 0] += 1e-7
    assert distributed.weights_digest(model) != before


def test_torchrun_trains_the_same_model_as_one_process_and_writes_once(tmp_path, monkeypatch):
    one = _run([sys.executable, "-m", "greenlab", "train", "--recipe", "tiny", "--steps", "30",
                "--out", str(tmp_path / "one")], tmp_path / "cache-one")
    two = _run(TORCHRUN + ["-m", "greenlab", "train", "--recipe", "tiny", "--steps", "30",
                           "--out", str(tmp_path / "two")], tmp_path / "cache-two")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert "trained 'tiny' on 2 process(es): 30 steps" in two.stdout
    assert two.stdout.count("trained 'tiny'") == 1  # rank 0 alone reports
    single, job = (json.loads((tmp_path / run / "history.json").read_text()) for run in ("one", "two"))
    assert (single["world_size"], job["world_size"]) == (1, 2)
    assert len(job["train_losses"]) == 30
    assert max(abs(a - b) for a, b in zip(single["train_losses"], job["train_losses"])) < LOSS_TOLERANCE
    assert abs(single["validation"][-1]["val_loss"] - job["validation"][-1]["val_loss"]) < LOSS_TOLERANCE
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == sorted([*zoo.CACHED_FILES, "recipe.json"])
    monkeypatch.setenv("GREENLAB_CACHE", str(tmp_path / "cache-two"))
    rows = ledger.load()
    assert list(rows["label"]) == ["zoo: train tiny (cpu) (2 processes)"]  # one row for the job, not one per rank
    assert rows["method"].iloc[0].endswith("one tracker per machine, on the whole machine; 1 machine(s)")
    assert job["measurement"]["flops"] == single["measurement"]["flops"]  # the same work, split in two


def test_every_rank_ends_with_the_same_weights_and_only_rank_0_writes(tmp_path):
    job = _run(TORCHRUN + [str(WORKER), str(tmp_path), "train"], tmp_path / "cache")
    assert job.returncode == 0, job.stderr
    rank0, rank1 = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert rank0.keys() == rank1.keys() and all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    histories = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    val_losses = [[point["val_loss"] for point in h["validation"]] for h in histories]
    assert val_losses[0] == val_losses[1] and len(val_losses[0]) == 2  # rank 0 evaluated, rank 1 received it
    assert histories[0]["train_losses"] == histories[1]["train_losses"]
    assert (tmp_path / "written-by-rank-0" / "model.safetensors").is_file()
    assert not (tmp_path / "written-by-rank-1").exists()


def test_a_rank_that_crashes_ends_the_job_with_its_error(tmp_path):
    job = _run(TORCHRUN + [str(WORKER), str(tmp_path), "crash"], tmp_path / "cache")  # a hang: TimeoutExpired
    assert job.returncode != 0
    assert "rank 1 crashed on purpose" in job.stderr


def test_a_batch_that_does_not_split_over_the_ranks_is_a_clear_error(tmp_path):
    recipe = zoo.recipe("tiny")
    config = tmp_path / "odd.json"
    config.write_text(json.dumps(asdict(replace(recipe, training=replace(recipe.training, batch_size=5)))))
    job = _run(TORCHRUN + ["-m", "greenlab", "train", "--config", str(config), "--out", str(tmp_path / "run")],
               tmp_path / "cache")
    assert job.returncode != 0
    assert ("greenlab train: rank 0 of 2: batch_size 5 is not divisible by the world size 2" in job.stderr)
    assert "[rank0]: Traceback" not in job.stderr and "[rank1]: Traceback" not in job.stderr  # torchrun's own stays
    assert not (tmp_path / "run").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_rank(rank: int, port: int, tmp_path: Path, *options: str) -> subprocess.Popen:
    """`greenlab train` as rank `rank` of 2, started by hand with the variables torchrun would set."""
    return subprocess.Popen([sys.executable, "-m", "greenlab", "train", "--recipe", "tiny", "--out",
                             str(tmp_path / "run"), *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "GREENLAB_CACHE": str(tmp_path / "cache"), "RANK": str(rank),
                                            "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
                                            "MASTER_PORT": str(port)})


def test_ranks_with_different_recipes_stop_before_training(tmp_path):
    port = _free_port()  # another --steps on each rank
    ranks = [_start_rank(rank, port, tmp_path, "--steps", steps) for rank, steps in enumerate(("10", "12"))]
    results = [rank.communicate(timeout=JOB_TIMEOUT_S) for rank in ranks]
    assert [rank.returncode for rank in ranks] == [2, 2]
    assert ("greenlab train: rank 0 of 2: the ranks disagree on the recipe: rank 1 has "
            "training.steps=12 (rank 0: 10)" in results[0][1])
    assert not (tmp_path / "run").exists()


def test_a_rank_that_never_comes_is_a_clear_error_after_the_timeout(tmp_path):
    alone = _start_rank(0, _free_port(), tmp_path, "--timeout", "3")
    _, stderr = alone.communicate(timeout=JOB_TIMEOUT_S)
    assert alone.returncode == 2 and "Traceback" not in stderr
    assert stderr.startswith("greenlab train: the job's 2 processes did not all join within 3 s at 127.0.0.1:")
