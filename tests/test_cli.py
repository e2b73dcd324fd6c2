import subprocess
import sys

import pytest

from greenlab import cli


def test_doctor_prints_the_machine(capsys, cache, recwarn):
    assert cli.main(["doctor"]) == 0
    assert not [w for w in recwarn if "resolution" in str(w.message)]
    out = capsys.readouterr().out
    for fact in ("torch", "codecarbon", "energy", "offline  True", "cache folder"):
        assert fact in out
    assert "estimated" in out or "measured" in out


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


def test_conventions_pass(capsys):
    assert cli.main(["conventions"]) == 0
