"""experiments/parallelism: the size of a step's gradients, what a ring all-reduce sends, and one measured job."""

import json
import subprocess
import sys

import pytest

from greenlab.experiments.parallelism import compare, gradient_bytes, ring_bytes_sent, run_job
from greenlab.training import zoo


def test_gradient_bytes_counts_every_parameter_once_in_float32():
    recipe = zoo.recipe("tiny")
    V, T, C = 300, 16, 16
    assert (recipe.model.vocab_size, recipe.model.block_size, recipe.model.n_layer, recipe.model.n_embd) == (V, T, 1, C)
    tables = V * C + T * C  # tokens (the head shares it: counted once) and positions
    attention = (C * 3 * C + 3 * C) + (C * C + C)  # q, k, v in one product, then the projection; with biases
    mlp = (C * 4 * C + 4 * C) + (4 * C * C + C)
    layer_norms = 3 * 2 * C  # two in the block, one at the end: a scale and a shift each
    assert gradient_bytes(recipe) == 4 * (tables + attention + mlp + layer_norms) == 4 * 8368


def test_gradient_bytes_needs_a_recipe():
    with pytest.raises(TypeError, match=r"needs a zoo.Recipe .*, got 'tiny'"):
        gradient_bytes("tiny")


@pytest.mark.parametrize("world_size, sent", [(1, 0.0), (2, 1000.0), (4, 1500.0), (8, 1750.0)])
def test_each_rank_sends_2_n_minus_1_over_n_of_the_gradients(world_size, sent):
    assert ring_bytes_sent(1000, world_size) == sent


@pytest.mark.parametrize("gradient_size, world_size, message", [
    (1000, 0, "world_size must be a whole number >= 1, got 0"),
    (1000, 2.0, "world_size must be a whole number >= 1, got 2.0"),
    (1000, True, "world_size must be a whole number >= 1, got True"),
    (-1, 2, "gradient_size must be a whole number >= 0, got -1"),
    ("1000", 2, "gradient_size must be a whole number >= 0, got '1000'"),
])
def test_ring_bytes_sent_refuses_what_is_no_size_or_no_world(gradient_size, world_size, message):
    with pytest.raises(ValueError, match=message):
        ring_bytes_sent(gradient_size, world_size)


@pytest.mark.parametrize("arguments, message", [
    (dict(recipe="huge"), "unknown model 'huge'"),
    (dict(steps=0), "steps must be a whole number >= 1, got 0"),
    (dict(processes=1.5), "processes must be a whole number >= 1, got 1.5"),
    (dict(threads=-2), "threads must be a whole number >= 1, got -2"),
])
def test_a_bad_job_is_refused_before_any_process_starts(tmp_path, arguments, message):
    job = dict(recipe="tiny", steps=2, processes=1, threads=1, out=tmp_path / "run") | arguments
    with pytest.raises(ValueError, match=message):
        run_job(**job)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("arguments, message", [
    (dict(cores=1), r"cores must be a whole number >= 2 \(one layout against the other\), got 1"),
    (dict(repeats=0), "repeats must be a whole number >= 1, got 0"),
])
def test_compare_refuses_a_layout_it_cannot_compare(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        compare("tiny", steps=2, folder=tmp_path, **arguments)
    assert list(tmp_path.iterdir()) == []


def test_one_job_trains_in_its_own_process_and_is_measured_once(tmp_path, cache):
    row = run_job("tiny", steps=2, processes=1, threads=1, out=tmp_path / "run")
    assert list(row) == ["job", "world size", "job (s)", "training loop (s)", "job energy (J)", "job dynamic (J)",
                         "last loss", "method"]
    assert row["job"] == "1 process × 1 thread" and row["world size"] == 1
    assert row["job (s)"] > row["training loop (s)"] > 0  # the job also starts Python and trains a tokenizer
    assert {path.name for path in (tmp_path / "run").iterdir()} == {*zoo.CACHED_FILES, "recipe.json"}
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["train_losses"]) == 2 and row["last loss"] == history["train_losses"][-1]
    assert (tmp_path / "run-cache" / "ledger.csv").exists()  # the job's own row, apart from the course's ledger
    assert len((cache / "ledger.csv").read_text().splitlines()) == 2  # a header and the job, measured from outside


def test_the_program_each_job_runs_is_greenlab_train():
    """Below the command line, a job runs `greenlab train`'s own program: the same options, the same help."""
    helps = [subprocess.run([sys.executable, "-m", *program, "--help"], capture_output=True, text=True, timeout=120)
             for program in (["greenlab", "train"], ["greenlab.training.zoo"])]
    assert helps[0].returncode == helps[1].returncode == 0
    assert helps[0].stdout.startswith("usage: greenlab train") and helps[0].stdout == helps[1].stdout
