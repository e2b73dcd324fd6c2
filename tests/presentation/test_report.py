import warnings
from dataclasses import replace

import pytest

from greenlab.cli import main
from greenlab.measurement import ledger
from greenlab.models.gpt import GPT
from greenlab.presentation import report
from greenlab.training import zoo
from greenlab.training.distill import half_size


def table_after(heading: str, text: str) -> dict[str, dict[str, str]]:
    """The first Markdown table after `heading` in `text`: {row name: {column: cell}}."""
    rows = []
    for line in text.split(f"{heading}\n", 1)[1].splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    header, _, *body = rows  # the second line is the alignment row
    return {row[0]: dict(zip(header[1:], row[1:])) for row in body}


def shows(cell: str, value: float) -> bool:
    """Whether a table cell is `value` as the report prints it (3 significant digits)."""
    return float(cell) == float(f"{value:.3g}")


def test_the_report_runs_every_experiment_and_writes_markdown(tiny, tmp_path):
    ledger.record({"label": "notebook: 00_intro.ipynb", "duration_s": 10.0, "energy_j": 100.0, "co2eq_kg": 1e-5,
                   "method": "CPU: estimated"})
    scale = report.Scale(vocab_size=300, attention_lengths=(256,), sliding_window_model=False, student_steps=4,
                         reference=tiny)
    with warnings.catch_warnings():  # tiny runs may be shorter than the energy tracker's resolution
        warnings.filterwarnings("ignore", message=".*below the energy tracker's resolution")
        path = report.run(tmp_path / "out", scale, progress=False)
    text = path.read_text()
    for heading in ("## Tokenization", "## The reference model", "## Dense against sparse attention",
                    "## Distillation", "## Quantization", "## This run in the green ledger",
                    "## The course's own footprint"):
        assert heading in text
    assert "**How energy was obtained here:**" in text and "0.1 kJ" in text
    notebook = ledger.load().query("label == 'notebook: 00_intro.ipynb'").iloc[-1]
    footprint = table_after("## The course's own footprint", text)
    assert footprint["notebook: 00_intro.ipynb"]["range (J)"] == ledger.energy_range(notebook)  # a method it does not know: half to twice
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 1000
    assert {"teacher (reference)", "student: scratch", "teacher int8"} <= set(ledger.models()["model"])

    # the figures in the text are the ledger's rows and the models' own counts
    runs, models = ledger.load().set_index("label"), ledger.models().set_index("model")
    tokenization = table_after("## Tokenization", text)
    for row, label in (("greenlab BPE", "report: train BPE 300"),
                       ("Hugging Face tokenizers", "report: train HF BPE 300")):
        assert shows(tokenization[row]["train (s)"], runs.loc[label, "duration_s"])
        assert shows(tokenization[row]["energy (J)"], runs.loc[label, "energy_j"])
    teacher_training = runs.loc[runs.index.str.startswith(f"zoo: train {tiny} (")].iloc[-1]
    teacher, student = GPT(zoo.recipe(tiny).model), GPT(half_size(zoo.recipe(tiny).model))
    reference = table_after("## The reference model", text)[tiny]
    assert int(reference["parameters"]) == teacher.num_parameters()
    assert shows(reference["training (s)"], teacher_training["duration_s"])
    assert shows(reference["training energy (J)"], teacher_training["energy_j"])
    assert shows(reference["bits/char"], models.loc["teacher (reference)", "bits_per_char"])

    timings = table_after("## Dense against sparse attention", text)["L=256"]
    assert float(timings["speedup"]) == pytest.approx(
        float(timings["causal SDPA (ms)"]) / float(timings["blocked window 256 (ms)"]), rel=0.01)

    assert "4 steps each, batch 16" in text
    distilled = table_after("## Distillation", text)
    assert set(distilled) == {"teacher (reference)", "student: scratch", "student: distilled, teacher init"}
    for name, row in distilled.items():
        model = teacher if name == "teacher (reference)" else student
        assert shows(row["parameters"], model.num_parameters())
        assert shows(row["MFLOP/token"], model.flops_per_token() / 1e6)
        assert shows(row["bits/char"], models.loc[name, "bits_per_char"])
        assert shows(row["J per 1k tokens"], models.loc[name, "joules_per_1k_tokens"])
        assert float(row["perplexity ÷ teacher (reference)"]) == pytest.approx(
            float(row["perplexity"]) / float(distilled["teacher (reference)"]["perplexity"]), rel=0.01)
    for name, label in (("student: scratch", "report: student from scratch"),
                        ("student: distilled, teacher init", "report: student distilled from teacher init")):
        assert shows(distilled[name]["training energy (J)"], runs.loc[label, "energy_j"])
    assert shows(distilled["teacher (reference)"]["training energy (J)"], teacher_training["energy_j"])

    quantized = table_after("## Quantization", text)
    assert quantized["teacher (reference)"]["bits/char"] == reference["bits/char"]
    assert shows(quantized["teacher int8"]["bits/char"], models.loc["teacher int8", "bits_per_char"])
    assert shows(quantized["teacher int8"]["J per 1k tokens"], models.loc["teacher int8", "joules_per_1k_tokens"])


def test_the_sliding_window_result_names_the_recipes_window(tiny, monkeypatch):
    recipe = zoo.recipe(tiny)  # trains in a second; its window, 5, is not the course's
    windowed = replace(recipe, name="sliding-window", model=replace(recipe.model, attention="blocked", window=5))
    monkeypatch.setitem(zoo.RECIPES, "sliding-window", {"cpu": windowed, "gpu": windowed})

    class Teacher:  # the report's quality measure, fixed: this test is about the text
        bits_per_char = 2.0

        def quality(self, model):
            return 2.5

    scale = report.Scale(vocab_size=300, attention_lengths=(256,), sliding_window_model=True, reference=tiny)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*below the energy tracker's resolution")
        text = report.sparse_attention(Teacher(), scale, progress=False)
    assert "The reference recipe with a 5-token window: 2.500 bits/char against 2.000 dense." in text
    assert "sliding-window (notebook 03)" in set(ledger.models()["model"])


def test_the_report_command_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--quick" in capsys.readouterr().out
