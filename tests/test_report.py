import warnings

import pytest

from greenlab.cli import main
from greenlab.foundations import ledger
from greenlab.presentation import report


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
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 1000
    assert {"teacher (reference)", "student: scratch", "teacher int8"} <= set(ledger.models()["model"])


def test_the_report_command_is_registered(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "--quick" in capsys.readouterr().out
