import hashlib
import json
import math
import re
from dataclasses import asdict, replace

import pytest
import torch

from greenlab import cli
from greenlab.experiments import speedrun as sr
from greenlab.foundations import settings
from greenlab.foundations.checkpoints import load_checkpoint
from greenlab.foundations.data import load_corpus
from greenlab.foundations.tokenizer import BPETokenizer
from greenlab.models.gpt import GPT, GPTConfig
from greenlab.training import zoo
from greenlab.training.recipes import Recipe, recipe
from greenlab.training.train import TrainConfig, bits_per_character, text_bits_per_character

TINY = Recipe("speedrun-test", "two layers of width 16, 30 steps: a test-size speedrun",
              GPTConfig(vocab_size=300, block_size=16, n_layer=2, n_head=2, n_embd=16),
              TrainConfig(steps=30, batch_size=8, block_size=16, warmup_steps=3, eval_interval=5, eval_batches=2),
              vocab_size=300)
LOOSE, MIDDLE, IMPOSSIBLE = 6.5, 5.6, 0.01  # an untrained model estimates about 6.1 bits/char, 30 steps about 5.2


@pytest.fixture(scope="module", autouse=True)
def tiny_models_on_one_thread():
    with settings.one_thread():
        yield


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One speedrun of the tiny recipe (a few seconds), its files kept for the checks."""
    folder = tmp_path_factory.mktemp("speedrun")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GREENLAB_CACHE", str(folder / "cache"))
        result = sr.speedrun(TINY, (LOOSE, MIDDLE, IMPOSSIBLE), folder / "model", progress=False)
    return result, folder / "model"


def test_a_speedrun_reaches_a_loose_target_and_not_an_impossible_one(run):
    result, folder = run
    loose, middle, impossible = result.targets
    assert [t.bits_per_char for t in result.targets] == [LOOSE, MIDDLE, IMPOSSIBLE]
    assert loose.reached and middle.reached and not impossible.reached
    assert (impossible.step, impossible.seconds, impossible.energy_j, impossible.flops) == (None,) * 4
    history = json.loads((folder / "history.json").read_text())
    estimates = {p["step"]: bits_per_character(p["val_loss"], history["validation_tokens"],
                                               history["validation_characters"]) for p in history["validation"]}
    scale = result.bits_per_char / estimates[TINY.training.steps]  # the last point ends at the whole text's figure
    for target in (loose, middle):  # the first validation point at or below the target
        assert target.step == min(step for step, bits in estimates.items() if bits * scale <= target.bits_per_char)


def test_a_target_is_judged_on_estimates_scaled_to_end_at_the_whole_texts_figure():
    history = {"measurement": {"duration_s": 10.0, "energy_j": 100.0, "flops": 1000},
               "validation_tokens": 100, "validation_characters": 100,
               "validation": [{"step": s, "val_loss": loss * math.log(2), "elapsed_s": s / 10}
                              for s, loss in ((50, 2.4), (100, 2.1), (150, 2.0))]}  # 2.4, 2.1, 2.0 bits/char
    # the batches' estimates end at 2.0, the whole text's figure is 1.8: each point counts at 0.9 of its estimate
    reached = sr._cost_to(1.9, history, 150, final=1.8)
    assert (reached.step, reached.seconds, reached.energy_j, reached.flops) == (100, 10.0, 100.0, 667)
    assert not sr._cost_to(1.9, history, 150, final=2.0).reached  # unscaled, 1.9 is never reached


def test_the_cost_to_a_target_is_the_runs_prorated_and_grows_with_the_target(run):
    result, folder = run
    loose, middle, _ = result.targets
    run_row = json.loads((folder / "history.json").read_text())["measurement"]
    assert (result.duration_s, result.energy_j, result.flops) == (run_row["duration_s"], run_row["energy_j"],
                                                                  run_row["flops"])
    assert loose.step < middle.step <= TINY.training.steps
    assert loose.seconds < middle.seconds <= result.duration_s
    assert loose.energy_j < middle.energy_j <= result.energy_j
    assert loose.flops < middle.flops <= result.flops
    for target in (loose, middle):
        assert target.energy_j == pytest.approx(result.energy_j * target.seconds / result.duration_s)
        assert target.flops == round(result.flops * target.step / TINY.training.steps)


def test_the_result_names_its_model_recipe_and_machine(run):
    result, folder = run
    assert result.checksum == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    model = GPT(TINY.model)
    load_checkpoint(model, folder / "model.safetensors")
    tokenizer, corpus = BPETokenizer.load(folder / "tokenizer.json"), load_corpus(TINY.corpus)
    ids = torch.tensor(tokenizer.encode(corpus.validation_text))
    assert result.bits_per_char == text_bits_per_character(model.eval(), ids, len(corpus.validation_text), 16)
    row = result.as_row()
    assert row["fingerprint"] == TINY.fingerprint() and row["torch"] == torch.__version__
    assert row["method"] == result.method and ("estimated" in row["method"] or "measured" in row["method"])
    assert "logical cores" in row["machine"]
    assert ["entry", *row] == sr.leaderboard_columns((LOOSE, MIDDLE, IMPOSSIBLE))
    assert row[f"energy_j_to_{LOOSE}"] == result.targets[0].energy_j and row[f"step_to_{IMPOSSIBLE}"] is None


def test_the_report_has_a_line_per_target_and_says_how_to_compare(run):
    result, _ = run
    text = str(result)
    assert f"{LOOSE:g} bits/char: reached at step {result.targets[0].step}, after" in text
    assert f"{IMPOSSIBLE:g} bits/char: not reached in 30 steps" in text
    assert f"final: {result.bits_per_char:.3f} bits/char" in text and result.method in text
    assert "the tracker reads the energy once per run" in text
    assert "compare in FLOPs; times and energy only on the same machine" in text


def test_a_recipe_is_given_as_itself_a_name_a_json_file_or_a_function(tmp_path):
    (tmp_path / "bare.json").write_text(json.dumps(asdict(TINY)))
    (tmp_path / "recipe.json").write_text(json.dumps({"fingerprint": "x", "recipe": asdict(TINY)}))
    assert sr.resolve_recipe(TINY) is TINY
    assert sr.resolve_recipe("greener") == recipe("greener")
    assert sr.resolve_recipe(tmp_path / "bare.json") == TINY
    assert sr.resolve_recipe(str(tmp_path / "recipe.json")) == TINY
    assert sr.resolve_recipe(lambda: TINY) is TINY


@pytest.fixture
def no_training(monkeypatch):
    def trains(*args, **kwargs):
        raise AssertionError("trained instead of refusing")
    monkeypatch.setattr(zoo, "train_recipe", trains)


@pytest.mark.parametrize("targets, message", [
    ((2.0, 0), "a target must be a finite number > 0 (bits per character), got 0"),
    ((-1.5,), "got -1.5"), ((math.nan,), "got nan"), ((math.inf,), "got inf"), ((True,), "got True"),
    (("2",), "got '2'"), ((), "at least one"), ((2.0, 2), "must differ from each other, got [2.0, 2]"),
    ("2.0", "targets must be a list of numbers"),
])
def test_bad_targets_are_refused_by_value_before_training(no_training, targets, message):
    with pytest.raises(ValueError) as refused:
        sr.speedrun(TINY, targets)
    assert message in str(refused.value)


def test_bad_recipes_are_refused_by_name_before_training(no_training, tmp_path):
    with pytest.raises(ValueError, match="unknown recipe 'huge': neither one of the course's \\(reference, "):
        sr.speedrun("huge")
    with pytest.raises(ValueError, match="unknown recipe '.*missing.json'"):
        sr.speedrun(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match=re.escape(f"recipe file {tmp_path / 'broken.json'}: Expecting")):
        sr.speedrun(tmp_path / "broken.json")
    (tmp_path / "other.json").write_text('{"name": "x"}')
    with pytest.raises(ValueError, match="other.json: not a recipe"):
        sr.speedrun(tmp_path / "other.json")
    with pytest.raises(TypeError, match="returned a str, not a Recipe"):
        sr.speedrun(lambda: "reference")
    with pytest.raises(TypeError, match="recipe must be a Recipe, a name, a JSON file or a function, got int"):
        sr.speedrun(3)


def _entry(bits: float, energy_to: tuple[float | None, float | None]) -> sr.SpeedrunResult:
    """A result made by hand: final bits/char, and the energy to LOOSE and MIDDLE (None: not reached)."""
    targets = tuple(sr.Target(t) if energy is None else sr.Target(t, 10, 1.0, energy, 1000)
                    for t, energy in zip((LOOSE, MIDDLE), energy_to))
    return sr.SpeedrunResult(TINY, targets, bits, 2.0, 50.0, 2000, "CPU: estimated", "a CPU, 2 logical cores",
                             "2.13.0", "3.11.7", "ab" * 32)


def test_entries_gathered_from_leaderboards_and_their_pareto_front(tmp_path):
    first, second = tmp_path / "ada.csv", tmp_path / "grace.csv"
    sr.append_entry(_entry(5.0, (1.0, 8.0)), first, "ada, first try")  # a comma in a name is quoted
    sr.append_entry(_entry(5.3, (1.0, 9.0)), first, "ada")  # beaten by the first on both
    sr.append_entry(_entry(4.9, (2.0, 12.0)), second, "grace")  # better bits/char, more energy
    sr.append_entry(_entry(4.0, (3.0, None)), second, "slow")  # never reached the middle target
    assert first.read_text().count("entry,recipe,fingerprint") == 1  # the header once
    table = sr.leaderboard([first, second])
    assert list(table.columns) == sr.leaderboard_columns((LOOSE, MIDDLE))
    assert list(table["entry"]) == ["ada, first try", "ada", "grace", "slow"]
    assert table["checksum"][0] == "ab" * 32 and table[f"energy_j_to_{MIDDLE}"][1] == 9.0
    assert math.isnan(table[f"energy_j_to_{MIDDLE}"][3]) and math.isnan(table[f"step_to_{MIDDLE}"][3])
    assert sr.hardest_target_energy(table) == f"energy_j_to_{MIDDLE}"
    assert list(sr.pareto(table)["pareto"]) == [True, False, True, False]
    assert list(sr.pareto(table, f"energy_j_to_{LOOSE}")["pareto"]) == [True, False, True, True]
    with pytest.raises(ValueError, match="no column 'joules'"):
        sr.pareto(table, "joules")
    assert sr.plot_leaderboard(table).axes[0].get_title().endswith("3 of 4 entries have both values")


def test_a_file_of_other_targets_or_not_a_leaderboard_is_refused_by_name(tmp_path):
    entries = tmp_path / "entries.csv"
    sr.append_entry(_entry(5.0, (1.0, 8.0)), entries, "ada")
    other = replace(_entry(5.0, (1.0, 8.0)), targets=(sr.Target(2.0),))
    with pytest.raises(ValueError, match=re.escape(f"{entries} is a leaderboard of the targets 6.5, 5.6, not of "
                                                   f"2.0")):
        sr.append_entry(other, entries, "grace")
    sr.append_entry(other, tmp_path / "two.csv", "grace")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'two.csv'} holds the targets 2.0 but {entries} "
                                                   f"holds 6.5, 5.6")):
        sr.leaderboard([entries, tmp_path / "two.csv"])
    (tmp_path / "grades.csv").write_text("name,grade\nada,10\n")
    for refused in (lambda: sr.leaderboard([entries, tmp_path / "grades.csv"]),
                    lambda: sr.append_entry(_entry(5.0, (1.0, 8.0)), tmp_path / "grades.csv", "ada")):
        with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'grades.csv'} is not a speedrun leaderboard: "
                                                       f"its first line is 'name,grade'")):
            refused()
    (tmp_path / "renamed.csv").write_text(entries.read_text().replace(",python,", ",python_version,", 1))
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path / 'renamed.csv'} is not a speedrun leaderboard")):
        sr.leaderboard([tmp_path / "renamed.csv"])
    with pytest.raises(FileNotFoundError, match=re.escape(f"no leaderboard file {tmp_path / 'absent.csv'}")):
        sr.leaderboard([entries, tmp_path / "absent.csv"])
    entries.write_text(entries.read_text().replace("CPU: estimated", "CPU: estimated,extra"))
    with pytest.raises(ValueError, match=re.escape(f"{entries} is not a readable leaderboard: an entry has 22 "
                                                   f"values where its header has 21 columns (row 2)")):
        sr.leaderboard([entries])
    entries.write_text(entries.read_text().replace("estimated,extra", "estimated").replace(",2000,", ",many,"))
    with pytest.raises(ValueError, match=re.escape(f"{entries} is not a readable leaderboard: flops: ") + ".*many"):
        sr.leaderboard([entries])
    for name in ("", " ", "two\nlines"):
        with pytest.raises(ValueError, match="an entry's name must be a non-empty line of text"):
            sr.append_entry(_entry(5.0, (1.0, 8.0)), tmp_path / "new.csv", name)
    assert not (tmp_path / "new.csv").exists()


def test_the_command_runs_a_speedrun_adds_the_entry_and_gathers_a_class(tmp_path, cache, capsys):
    (tmp_path / "tiny.json").write_text(json.dumps(asdict(TINY)))
    entries, model = tmp_path / "ada.csv", tmp_path / "model"
    assert cli.main(["speedrun", str(tmp_path / "tiny.json"), "--target", str(LOOSE), "--target", str(MIDDLE),
                     "--entry", "ada", "--leaderboard", str(entries), "--folder", str(model)]) == 0
    out = capsys.readouterr().out
    assert "speedrun of 'speedrun-test'" in out and f"{LOOSE:g} bits/char: reached at step 5" in out
    assert "compare in FLOPs" in out and f"added the entry 'ada' to {entries}" in out
    sr.append_entry(_entry(9.0, (1e9, 1e9)), tmp_path / "grace.csv", "grace")  # beaten on both
    table, plot = tmp_path / "class.csv", tmp_path / "pareto.png"
    assert cli.main(["speedrun", "--collect", str(entries), str(tmp_path / "grace.csv"), "--out", str(table),
                     "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert f"gathered 2 entries from 2 file(s) into {table}" in out
    assert f"Pareto front (energy_j_to_{MIDDLE} against bits_per_char): ada\n" in out
    gathered = sr.leaderboard([table])  # the gathered table is itself a leaderboard
    assert list(gathered["entry"]) == ["ada", "grace"]
    assert gathered["checksum"][0] == hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("arguments, message", [
    (["huge"], "unknown recipe 'huge': neither one of the course's"),
    (["{dir}/broken.json"], "recipe file {dir}/broken.json: Expecting"),
    (["reference", "--target", "-1"], "a target must be a finite number > 0 (bits per character), got -1.0"),
    (["reference", "--target", "0", "--entry", "ada", "--leaderboard", "{dir}/ada.csv"], "got 0.0"),
    (["reference", "--entry", "ada"], "--entry NAME and --leaderboard FILE go together"),
    (["reference", "--entry", "", "--leaderboard", "{dir}/ada.csv"], "an entry's name must be a non-empty line"),
    (["reference", "--entry", "ada", "--leaderboard", "{dir}/broken.json"], "{dir}/broken.json is not a speedrun"),
    ([], "give a RECIPE to train, or --collect FILE ... --out TABLE"),
    (["reference", "--out", "{dir}/table.csv"], "give a RECIPE to train, or --collect"),
    (["--collect", "{dir}/absent.csv", "--out", "{dir}/table.csv"], "no leaderboard file {dir}/absent.csv"),
    (["--collect", "{dir}/broken.json", "--out", "{dir}/table.csv"], "{dir}/broken.json is not a speedrun"),
    (["--collect", "{dir}/ada.csv"], "--collect needs --out TABLE.csv"),
    (["reference", "--collect", "{dir}/ada.csv", "--out", "{dir}/t.csv"], "--collect gathers leaderboards: it takes"),
])
def test_bad_input_to_the_command_is_one_line_naming_it(tmp_path, capsys, no_training, arguments, message):
    (tmp_path / "broken.json").write_text("{not json")
    arguments = [a.format(dir=tmp_path) for a in arguments]
    assert cli.main(["speedrun", *arguments]) == 2
    err = capsys.readouterr().err
    assert err.startswith("greenlab speedrun: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message.format(dir=tmp_path) in err
    assert not (tmp_path / "table.csv").exists()


def test_the_course_leaderboard_holds_the_three_course_recipes_from_one_machine():
    table = sr.leaderboard([settings.DATA_DIR / "speedrun.csv"])
    assert table["recipe"].tolist() == ["reference", "greener", "modern"]
    assert table["entry"].tolist() == [f"course: {name}" for name in table["recipe"]]
    assert table["machine"].nunique() == 1  # their times and energies compare
    assert all(len(checksum) == 64 for checksum in table["checksum"])
    assert sr.pareto(table, "flops_to_1.8")["pareto"].tolist() == [False, True, False]  # as notebook 05 says
