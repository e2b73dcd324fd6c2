import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import asdict
from types import SimpleNamespace

import pytest

from greenlab import cli
from greenlab.training import zoo


def test_doctor_prints_the_machine(capsys, cache, recwarn):
    assert cli.main(["doctor"]) == 0
    assert not [w for w in recwarn if "resolution" in str(w.message)]
    out = capsys.readouterr().out
    for fact in ("torch", "codecarbon", "energy", "offline  True", "cache folder"):
        assert fact in out
    assert "estimated" in out or "measured" in out
    assert "energy range  CPU " in out and "data/energy_uncertainty.csv" in out  # which range applies here, and why


def test_doctor_with_a_bad_setting_prints_every_other_fact_and_fails(capsys, cache, monkeypatch):
    monkeypatch.setenv("GREENLAB_PROFILE", "tpu")
    assert cli.main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "profile  ERROR: GREENLAB_PROFILE='tpu' is not a profile" in out
    assert "device  ERROR: GREENLAB_PROFILE='tpu'" in out
    for fact in ("torch", "energy", "offline  True", "cache folder"):
        assert fact in out


@pytest.mark.parametrize("option, value", [("--timeout", "-5"), ("--cell-timeout", "0"), ("--timeout", "inf"),
                                           ("--timeout", "soon")])
def test_grade_refuses_a_timeout_that_is_no_positive_number_of_seconds(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["grade", str(tmp_path), option, value])
    assert stopped.value.code == 2
    assert f"{value!r} is not a number of seconds above zero" in capsys.readouterr().err


def test_python_dash_m_greenlab_is_the_greenlab_command():
    run = subprocess.run([sys.executable, "-m", "greenlab", "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "doctor" in run.stdout and run.stdout.startswith("usage: greenlab")


def test_assign_writes_student_labs(tmp_path, capsys):
    assert cli.main(["assign", "labs", str(tmp_path / "student")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert list((tmp_path / "student").glob("lab00_*.ipynb"))


def test_assign_bad_source_is_a_message_not_a_traceback(tmp_path, capsys):
    assert cli.main(["assign", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("greenlab assign:") and "Traceback" not in err


def test_a_lab_that_is_not_json_or_a_bad_config_is_a_message_naming_the_file(tmp_path, capsys):
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "lab99.ipynb").write_text("{not json")
    assert cli.main(["assign", str(tmp_path / "labs"), str(tmp_path / "out")]) == 2
    assert f"greenlab assign: {tmp_path / 'labs' / 'lab99.ipynb'} is not a readable notebook" in capsys.readouterr().err
    (tmp_path / "config.json").write_text("{not json")
    assert cli.main(["train", "--config", str(tmp_path / "config.json"), "--out", str(tmp_path / "run")]) == 2
    assert f"greenlab train: --config {tmp_path / 'config.json'}: Expecting" in capsys.readouterr().err


def test_conventions_pass(capsys):
    assert cli.main(["conventions"]) == 0


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
def test_train_refuses_steps_that_are_no_whole_number_above_zero(capsys, value):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--recipe", "tiny", "--steps", value, "--out", "unused"])
    assert stopped.value.code == 2
    assert f"{value!r} is not a whole number above zero" in capsys.readouterr().err


def test_train_writes_a_run_that_its_recipe_json_trains_again(tmp_path, cache, capsys):
    assert cli.main(["train", "--recipe", "tiny", "--steps", "8", "--out", str(tmp_path / "first")]) == 0
    assert "trained 'tiny' on 1 process(es): 8 steps" in capsys.readouterr().out
    assert cli.main(["train", "--config", str(tmp_path / "first" / "recipe.json"), "--out", str(tmp_path / "again")]) == 0
    first, again = (json.loads((tmp_path / run / "history.json").read_text()) for run in ("first", "again"))
    assert first["world_size"] == 1 and len(again["train_losses"]) == 8
    assert first["train_losses"] == again["train_losses"]  # same recipe, same machine: the same run


def test_train_with_an_unknown_recipe_or_a_bad_config_is_a_message(tmp_path, capsys):
    assert cli.main(["train", "--recipe", "huge", "--out", str(tmp_path)]) == 2
    assert "greenlab train: unknown model 'huge'; the zoo has: reference, code, tiny, greener, modern, sliding-window" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"name": "x"}')
    assert cli.main(["train", "--config", str(tmp_path / "bad.json"), "--out", str(tmp_path)]) == 2
    assert f"greenlab train: --config {tmp_path / 'bad.json'}: not a recipe" in capsys.readouterr().err


def test_train_refuses_an_output_that_is_a_file_before_training(tmp_path, cache, capsys):
    (tmp_path / "taken").write_text("not a folder")
    assert cli.main(["train", "--recipe", "tiny", "--out", str(tmp_path / "taken")]) == 2
    assert f"greenlab train: {tmp_path / 'taken'} is a file, not a folder" in capsys.readouterr().err
    assert not (cache / "ledger.csv").exists()  # nothing was trained


def _no_training(monkeypatch) -> None:
    """Make a test fail at once, not train for hours or allocate terabytes, when the command does not refuse."""
    def trains(*args, **kwargs):
        raise AssertionError("the command trained instead of refusing")

    monkeypatch.setattr(zoo, "train", trains)


@pytest.mark.parametrize("change, sizes", [
    ({"model": {"n_layer": 64, "n_embd": 8192, "n_head": 64}}, "n_layer=64, n_embd=8192, vocab_size=300"),
    ({"training": {"batch_size": 10**9}}, "batch_size=1000000000, block_size=16"),
    ({"model": {"n_layer": 64}, "training": {"batch_size": 100_000}}, "n_layer=64, n_embd=16"),  # activations
])
def test_train_refuses_a_recipe_too_big_for_memory_before_allocating(tmp_path, cache, capsys, monkeypatch, change,
                                                                     sizes):
    _no_training(monkeypatch)
    monkeypatch.setattr(zoo.psutil, "virtual_memory", lambda: SimpleNamespace(available=64 * 10**9))
    recipe = json.loads(json.dumps(asdict(zoo.recipe("tiny"))))
    for part, fields in change.items():
        recipe[part].update(fields)
    (tmp_path / "big.json").write_text(json.dumps(recipe))
    assert cli.main(["train", "--config", str(tmp_path / "big.json"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(f"greenlab train: the recipe 'tiny' \\(.*{sizes}.*\\) needs at least [0-9,.]+ GB to train "
                        f".* and this machine has 64.0 GB free: make the model or the batch smaller\n", err)
    assert not (tmp_path / "out").exists() and not (cache / "ledger.csv").exists()


def test_train_refuses_an_absurd_step_count_before_any_work(tmp_path, cache, capsys, monkeypatch):
    _no_training(monkeypatch)
    assert cli.main(["train", "--recipe", "tiny", "--steps", str(10**12), "--out", str(tmp_path / "big")]) == 2
    assert capsys.readouterr().err.startswith("greenlab train: TrainConfig.steps must be a whole number from 1 to "
                                              "1000000 (a run keeps a loss per step")
    assert not (tmp_path / "big").exists()


def test_train_refuses_an_output_folder_that_holds_a_folder_where_a_file_goes(tmp_path, cache, capsys, monkeypatch):
    _no_training(monkeypatch)
    (tmp_path / "out" / "model.safetensors").mkdir(parents=True)
    assert cli.main(["train", "--recipe", "tiny", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"greenlab train: {tmp_path / 'out' / 'model.safetensors'} is not a file, so "
                                       f"the trained model.safetensors cannot replace it: choose another folder for "
                                       f"the trained files\n")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["model.safetensors"]  # no .partial file either


@pytest.mark.parametrize("change, message", [({"vocab_size": 400}, "Recipe.vocab_size=400 .the tokenizer's. differs"),
                                             ({"corpus": "poems"}, "Recipe.corpus='poems' is unknown")])
def test_a_config_whose_fields_cannot_make_a_model_is_a_message_naming_the_file(tmp_path, capsys, change, message):
    (tmp_path / "bad.json").write_text(json.dumps({**asdict(zoo.recipe("tiny")), **change}))
    assert cli.main(["train", "--config", str(tmp_path / "bad.json"), "--out", str(tmp_path / "out")]) == 2
    assert re.match(f"greenlab train: --config {re.escape(str(tmp_path / 'bad.json'))}: {message}",
                    capsys.readouterr().err)


def test_ctrl_c_in_train_is_one_line_and_exit_130_with_nothing_written(tmp_path, cache, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(zoo, "train", interrupted)
    assert cli.main(["train", "--recipe", "tiny", "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err == f"greenlab train: interrupted; nothing was written to {tmp_path / 'run'}\n"
    assert not any((tmp_path / "run").glob("*"))


def test_ctrl_c_while_the_run_is_written_leaves_nothing_in_the_folder(tmp_path, cache, capsys, monkeypatch):
    def interrupted(*args, **kwargs):  # after the weights, before the tokenizer
        raise KeyboardInterrupt

    monkeypatch.setattr(zoo.BPETokenizer, "save", interrupted)
    assert cli.main(["train", "--recipe", "tiny", "--steps", "2", "--out", str(tmp_path / "run")]) == 130
    assert capsys.readouterr().err.endswith(f"greenlab train: interrupted; nothing was written to {tmp_path / 'run'}\n")
    assert not any((tmp_path / "run").iterdir())


ANNOUNCED_TRAIN = """import sys
from greenlab import cli
train = cli._train
def announced(args):  # says when the command has started, for the test to interrupt it then
    print("started", flush=True)
    return train(args)
cli._train = announced
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigint_as_train_starts_is_one_line_and_exit_130(tmp_path, cache):
    """A real Ctrl-C, sent as soon as the command starts: PyTorch is still being imported (for some seconds)."""
    command = [sys.executable, "-c", ANNOUNCED_TRAIN, "train", "--recipe", "tiny", "--steps", "100000", "--out",
               str(tmp_path / "run")]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"},
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal
    assert run.stdout.readline() == "started\n"
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130 and "Traceback" not in err
    assert err.splitlines()[-1] in ("greenlab train: interrupted",
                                    f"greenlab train: interrupted; nothing was written to {tmp_path / 'run'}")
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
