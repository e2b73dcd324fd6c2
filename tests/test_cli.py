from greenlab import cli


def test_doctor_prints_the_machine(capsys, cache, recwarn):
    assert cli.main(["doctor"]) == 0
    assert not [w for w in recwarn if "resolution" in str(w.message)]
    out = capsys.readouterr().out
    for fact in ("torch", "codecarbon", "energy", "offline  True", "cache folder"):
        assert fact in out
    assert "estimated" in out or "measured" in out


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
