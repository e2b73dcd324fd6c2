"""`greenlab grade` on fabricated submissions of lab 00 (6 points: 1 + 1 + 1 + 2, and 1 for the quiz)."""

import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from greenlab import cli
from greenlab.classroom.assign import make_student_version
from greenlab.classroom.checks import CHECK_MIME
from greenlab.classroom import grade as grade_module
from greenlab.classroom.grade import (KILL_GRACE_S, OUTPUT_LIMIT, BoundedClient, find_submissions, grade,
                                      kernel_readable, lab_exercises)
from greenlab.foundations.confinement import kernel_confinement_problem

ROOT = Path(__file__).resolve().parents[2]  # the repository, above tests/classroom/
LAB00 = ROOT / "labs" / "lab00_green_ai.ipynb"
LAB01 = ROOT / "labs" / "lab01_tokenization.ipynb"
FAKE_FORMATTER = """from greenlab.classroom.checks import CHECK_MIME
shown = get_ipython().display_formatter.format

def passing(obj, include=None, exclude=None):
    data, metadata = shown(obj, include, exclude)
    if CHECK_MIME in data:
        data[CHECK_MIME] = {**data[CHECK_MIME], "passed": True}
    return data, metadata

get_ipython().display_formatter.format = passing

def training_flops("""
FULL = 6  # lab 00's points (test_lab00_has_six_points_in_five_exercises)
LEFT_BEHIND = "4242.5"  # seconds a submission's stray process would sleep: a name to find it by


def _edit(source: Path, target: Path, old: str, new: str) -> None:
    notebook = nbformat.read(source, as_version=4)
    hits = [c for c in notebook.cells if old in c.source]
    assert hits, old
    hits[0].source = hits[0].source.replace(old, new)
    nbformat.write(notebook, target)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    shutil.copy(LAB00, folder / "full.ipynb")
    make_student_version(LAB00, folder / "blank.ipynb")
    _edit(LAB00, folder / "wrong.ipynb", "return 6 * n_params * n_tokens", "return 2 * n_params * n_tokens")
    _edit(LAB00, folder / "raises.ipynb", "return kwh * grid_gco2_per_kwh / 1000", "raise ValueError('units?')")
    _edit(LAB00, folder / "sleeps.ipynb", "def energy_kwh(", "import time\ntime.sleep(10**6)\n\ndef energy_kwh(")
    _edit(LAB00, folder / "cheats.ipynb", "return 6 * n_params * n_tokens", "return 0")
    _edit(folder / "cheats.ipynb", folder / "cheats.ipynb", "lab00.check_training_flops(training_flops)",
          "print('✓ training_flops: matches the reference on 5 random inputs')")
    _edit(LAB00, folder / "fakes.ipynb", "return 6 * n_params * n_tokens",
          "return 0\n\nfrom types import SimpleNamespace\nfrom greenlab.classroom.checks import CheckResult\n"
          "lab00 = SimpleNamespace(check_training_flops=lambda fn: CheckResult('training_flops', True, 'ok'))")
    (folder / "corrupt_lab00.ipynb").write_text("{ this is not json")
    (folder / "dave").mkdir()
    shutil.copy(LAB00, folder / "dave" / "lab00_first.ipynb")
    shutil.copy(LAB00, folder / "dave" / "lab00_second.ipynb")
    shutil.copy(LAB00, folder / "=cmd.ipynb")
    (folder / "carol").mkdir()
    shutil.copy(LAB01, folder / "carol" / "lab01_tokenization.ipynb")
    (folder / "linked.ipynb").symlink_to(LAB00)  # the teacher's own lab, full marks if it were graded
    (folder / "mallory").symlink_to(LAB00.parent, target_is_directory=True)
    _edit(LAB00, folder / "typed.ipynb", "### BEGIN SOLUTION\n    return 6 * n_params * n_tokens",
          "### BEGIN SOLUTION\n    raise NotImplementedError")  # the function typed again above the check line:
    _edit(folder / "typed.ipynb", folder / "typed.ipynb", "# check: training_flops",
          "def training_flops(n_params, n_tokens):\n    return 6 * n_params * n_tokens\n\n# check: training_flops")
    wrong = ("return 6 * n_params * n_tokens", "return 0")  # each of these learners patches the checks to pass it:
    _edit(LAB00, folder / "formatter.ipynb", *wrong)
    _edit(folder / "formatter.ipynb", folder / "formatter.ipynb", "def training_flops(", FAKE_FORMATTER)
    _edit(LAB00, folder / "transformer.ipynb", *wrong)
    _edit(folder / "transformer.ipynb", folder / "transformer.ipynb", "def training_flops(",
          "get_ipython().input_transformers_post.append(lambda lines: [line.replace('check_training_flops("
          "training_flops)', 'check_training_flops(lambda n, d: 6 * n * d)') for line in lines])\n\n"
          "def training_flops(")
    _edit(LAB00, folder / "reloader.ipynb", *wrong)
    _edit(folder / "reloader.ipynb", folder / "reloader.ipynb", "def training_flops(",
          "import importlib\nimport greenlab.classroom.exercises.lab00 as exercises\n"
          "from greenlab.classroom.checks import CheckResult\nimportlib.reload = lambda module: module\n"
          "exercises.check_training_flops = lambda fn: CheckResult('training_flops', True, 'ok')\n\n"
          "def training_flops(")
    _edit(LAB00, folder / "copier.ipynb", "    return 6 * n_params * n_tokens\n    ### END SOLUTION",
          "    ### END SOLUTION\nfrom greenlab.measurement.footprint import training_flops")
    out = tmp_path_factory.mktemp("grades") / "grades.csv"
    canary = tmp_path_factory.mktemp("elsewhere") / "canary.txt"
    canary.write_text("intact")
    attacks = [f"open({str(LAB00)!r}).read()", f"open({str(folder / 'full.ipynb')!r}).read()",
               f"open({str(canary)!r}, 'w')", f"os.chmod({str(canary)!r}, 0o777)", f"os.remove({str(canary)!r})",
               f"open({str(out.with_name('feedback'))!r} + '/full_lab00_green_ai.md', 'w')",
               f"open({str(out)!r}, 'a')", "subprocess.run(['true'])", "os.fork()", "socket.socket()",
               "os.kill(os.getppid(), 0)"]
    _edit(LAB00, folder / "hostile.ipynb", "def training_flops(",  # full marks only if every attempt is refused
          "import os, socket, subprocess\ndone = []\n" + "".join(
              f"try:\n    {attack}\n    done.append({attack!r})\nexcept OSError:\n    pass\n" for attack in attacks)
          + "assert not done, done\n\ndef training_flops(")
    grades = grade(folder, out, only_lab="lab00_green_ai", timeout_s=120, cell_timeout_s=20, progress=False)
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return folder, out, grades, rows


def _total(rows, learner):
    return next(int(r["score"]) for r in rows if r["learner"] == learner and r["exercise"] == "TOTAL")


def test_lab00_has_six_points_in_five_exercises():
    exercises = lab_exercises(LAB00)
    assert [(e.exercise, e.points) for e in exercises] == [("training_flops", 1), ("energy_kwh", 1),
                                                           ("co2eq_kg", 1), ("squared_distances", 2), ("quiz", 1)]
    assert sum(e.points for e in exercises) == FULL


@pytest.mark.parametrize("learner, score", [
    ("full", FULL), ("blank", 0), ("wrong", FULL - 1), ("raises", FULL - 1), ("sleeps", FULL - 1),
    ("cheats", FULL - 1), ("fakes", FULL - 1), ("corrupt_lab00", 0), ("carol", 0), ("dave", FULL)])
def test_scores(graded, learner, score):
    assert _total(graded[3], learner) == score


def test_a_linked_submission_is_refused(graded):
    _, _, grades, rows = graded
    assert _total(rows, "linked") == 0
    refused = [g for g in grades if g.learner in ("linked", "mallory")]
    assert refused and all("symbolic link; submit the notebook file itself" in g.message for g in refused)


def test_a_function_typed_above_the_check_line_is_graded(graded):
    _, _, grades, rows = graded
    typed = {g.exercise: g for g in grades if g.learner == "typed"}
    assert typed["training_flops"].passed and _total(rows, "typed") == FULL


@pytest.mark.skipif(kernel_confinement_problem() is not None, reason="the kernel cannot be confined here")
def test_a_confined_kernel_reads_writes_and_starts_nothing_outside_its_copy(graded):
    folder, out, grades, rows = graded
    assert _total(rows, "hostile") == FULL, [g.message for g in grades if g.learner == "hostile"]
    assert (out.parent / "feedback" / "full_lab00_green_ai.md").read_text().startswith("# lab00_green_ai")
    assert sum(r["learner"] == "hostile" and r["exercise"] == "TOTAL" for r in rows) == 1


def test_no_process_a_submission_started_outlives_its_grading(tmp_path, monkeypatch):
    monkeypatch.setattr(grade_module, "kernel_confinement_problem", lambda: "unconfined, to let it start them")
    folder = tmp_path / "submissions"
    folder.mkdir()
    _edit(LAB00, folder / "spawns.ipynb", "def energy_kwh(",
          f"import os, subprocess\nsubprocess.Popen(['sleep', '{LEFT_BEHIND}'], start_new_session=True)\n"
          f"if os.fork() == 0:  # a double fork: the grandchild outlives its parent\n"
          f"    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '{LEFT_BEHIND}'])\n    os._exit(0)\n\n"
          "def energy_kwh(")
    grades = grade(folder, tmp_path / "grades.csv", only_lab="lab00_green_ai", progress=False, allow_unconfined=True)
    assert sum(g.score for g in grades) == FULL  # its checks ran as usual
    stray = [p for p in psutil.process_iter(["cmdline"]) if LEFT_BEHIND in (p.info["cmdline"] or [])]
    assert not stray, stray


def test_where_kernels_cannot_be_confined_grading_needs_the_opt_in(tmp_path, monkeypatch):
    monkeypatch.setattr(grade_module, "kernel_confinement_problem", lambda: "this is os2")
    (tmp_path / "submissions").mkdir()
    shutil.copy(LAB00, tmp_path / "submissions" / "ann.ipynb")
    with pytest.raises(RuntimeError, match="here it cannot be: this is os2. To grade anyway, unconfined "
                                           r"\(--allow-unconfined\)"):
        grade(tmp_path / "submissions", tmp_path / "grades.csv", progress=False)


def test_the_folders_a_kernel_may_read_must_not_hold_the_submissions():
    with pytest.raises(ValueError, match="lies inside .*which a graded kernel may read"):
        kernel_readable([Path(sys.prefix) / "submissions"])


def test_endless_output_is_cut_and_the_checks_results_kept():
    client = BoundedClient(nbformat.v4.new_notebook())
    client.clear_before_next_output = False  # as executing a cell sets it first
    outs, chunk = [], "x" * 300_000

    def message(content):
        kind = "stream" if "text" in content else "execute_result"
        return {"msg_type": kind, "content": content, "parent_header": {"msg_id": "m"}, "header": {"msg_type": kind}}
    for _ in range(20):
        client.output(outs, message({"name": "stdout", "text": chunk}), None, 0)
    check = {"data": {CHECK_MIME: {"exercise": "e", "passed": True, "message": "ok"}, "text/plain": "✓"},
             "metadata": {}, "execution_count": 1}
    client.output(outs, message(check), None, 0)
    assert sum(len(o.get("text", "")) for o in outs) <= OUTPUT_LIMIT + 100
    assert "[output cut at 1,048,576 characters by the grader]" in outs[-2]["text"]
    assert CHECK_MIME in outs[-1]["data"]


@pytest.mark.parametrize("learner, replaced", [("formatter", "display formatters"),
                                               ("transformer", "input transformers"),
                                               ("reloader", "importlib.reload, check functions")])
def test_patching_the_checks_from_the_kernel_is_flagged(graded, learner, replaced):
    _, _, grades, _ = graded
    flags = [g.message for g in grades if g.learner == learner and g.exercise == "(tampering)"]
    assert flags == [f"the learner's code replaced {replaced}: read the notebook behind this score"], flags
    assert not [g for g in grades if g.learner in ("full", "hostile", "typed") and g.exercise == "(tampering)"]


def test_the_courses_own_reference_is_not_a_solution(graded):
    _, _, grades, _ = graded
    copied = next(g for g in grades if g.learner == "copier" and g.exercise == "training_flops")
    assert not copied.passed and "the course's own reference function" in copied.message


def test_messages_explain_each_score(graded):
    by = {(r["learner"], r["exercise"]): r for r in graded[3]}
    assert "not implemented yet" in by[("blank", "training_flops")]["message"]
    assert "expected" in by[("wrong", "training_flops")]["message"]
    assert "raised ValueError: units?" in by[("raises", "co2eq_kg")]["message"]
    assert "energy_kwh" in by[("sleeps", "energy_kwh")]["message"]  # NameError: the cell was interrupted
    assert by[("cheats", "training_flops")]["passed"] == "False"
    assert "not a readable notebook" in by[("corrupt_lab00", "training_flops")]["message"]
    assert "is lab01_tokenization, not lab00_green_ai" in by[("carol", "training_flops")]["message"]


def test_a_second_notebook_is_reported_not_added(graded):
    rows = [r for r in graded[3] if r["learner"] == "dave" and r["exercise"] == "(none)"]
    assert len(rows) == 1 and "second notebook" in rows[0]["message"]


def test_spreadsheet_formulas_are_quoted(graded):
    assert any(r["learner"] == "'=cmd" for r in graded[3])


def test_submissions_are_never_modified(graded):
    folder = graded[0]
    assert nbformat.read(folder / "full.ipynb", as_version=4) == nbformat.read(LAB00, as_version=4)


def test_feedback_files(graded):
    feedback = graded[1].with_name("feedback") / "wrong_lab00_green_ai.md"
    text = feedback.read_text(encoding="utf-8")
    assert f"**Score: {FULL - 1} / {FULL}**" in text and "| training_flops | 0 / 1 | ✗" in text


def test_cli_prints_a_summary(graded, tmp_path, capsys):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(LAB00, folder / "dana_lab00.ipynb")
    assert cli.main(["grade", str(folder), "--out", str(tmp_path / "g.csv"), "--cell-timeout", "30"]) == 0
    out = capsys.readouterr().out
    assert "dana_lab00" in out and f"{FULL} / {FULL}" in out


def test_bad_input_is_a_clear_message(tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "missing"), "--out", str(tmp_path / "g.csv")]) == 2
    assert "no submissions folder" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        find_submissions(tmp_path)
    with pytest.raises(ValueError, match="unknown lab 'lab99'"):
        grade(tmp_path, tmp_path / "g.csv", only_lab="lab99")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no lab .lab\\*.ipynb. in .*empty: --labs names the folder"):
        grade(tmp_path, tmp_path / "g.csv", labs_dir=tmp_path / "empty")
    (tmp_path / "a folder").mkdir()
    with pytest.raises(IsADirectoryError, match="--out .*a folder is a folder: name the grades file"):
        grade(tmp_path, tmp_path / "a folder")
    assert not list(tmp_path.rglob("*.partial"))


def _grader(folder: Path, out: Path, *options: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "greenlab", "grade", str(folder), "--out", str(out),
                             "--lab", "lab00_green_ai", *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_as_in_a_terminal)


def _as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a job started in the background ignores Ctrl-C; a teacher's doesn't


def _rows(out: Path) -> list[dict]:
    with out.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_grader_killed_midway_loses_no_earlier_grade(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(LAB00, folder / "ann.ipynb")
    _edit(LAB00, folder / "zed.ipynb", "def energy_kwh(", "import time\ntime.sleep(600)\n\ndef energy_kwh(")
    grader = _grader(folder, tmp_path / "grades.csv")  # killed while zed runs: a crash, a power cut, an OOM kill
    deadline = time.monotonic() + 240
    out = tmp_path / "grades.csv"
    while time.monotonic() < deadline and not (out.exists() and any(r["learner"] == "ann" for r in _rows(out))):
        time.sleep(0.5)
    grader.kill()
    assert grader.wait(timeout=60) == -signal.SIGKILL
    rows = _rows(tmp_path / "grades.csv")
    assert _total(rows, "ann") == FULL and not [r for r in rows if r["learner"] == "zed"]
    assert f"**Score: {FULL} / {FULL}**" in (tmp_path / "feedback" / "ann_lab00_green_ai.md").read_text(encoding="utf-8")


def test_the_teachers_ctrl_c_is_not_the_learners_failure(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(LAB00, folder / "ann.ipynb")
    _edit(LAB00, folder / "bob.ipynb", "def energy_kwh(", "import time\ntime.sleep(10**6)\n\ndef energy_kwh(")
    out = tmp_path / "grades.csv"
    grader = _grader(folder, out)
    started = time.monotonic()
    while not (out.exists() and _rows(out)) and time.monotonic() - started < 180:
        time.sleep(0.5)  # ann is graded; bob's notebook now sleeps
    time.sleep(3)
    grader.send_signal(signal.SIGINT)
    assert grader.wait(timeout=60) == 130
    assert "interrupted; the submission being run was not graded" in grader.stderr.read()
    rows = _rows(out)
    assert _total(rows, "ann") == FULL and not [r for r in rows if r["learner"] == "bob"]


def test_a_loop_that_catches_interrupts_is_killed_at_the_budget(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    _edit(LAB00, folder / "eve.ipynb", "def energy_kwh(",
          "import time\nwhile True:\n    try:\n        time.sleep(1)\n    except KeyboardInterrupt:\n        pass\n\n"
          "def energy_kwh(")
    started = time.monotonic()
    grades = grade(folder, tmp_path / "grades.csv", only_lab="lab00_green_ai", timeout_s=20, cell_timeout_s=5,
                   progress=False)
    assert time.monotonic() - started < 20 + KILL_GRACE_S + 30  # the budget, the grace, and starting a kernel
    assert all(g.score == 0 and "ran out of its 20 s" in g.message for g in grades)


def test_no_cell_starts_after_the_budget(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    notebook = nbformat.read(LAB00, as_version=4)
    notebook.cells[1:1] = [nbformat.v4.new_code_cell("import time\ntime.sleep(0.9)") for _ in range(40)]
    nbformat.write(notebook, folder / "slow.ipynb")
    started = time.monotonic()
    grades = grade(folder, tmp_path / "grades.csv", only_lab="lab00_green_ai", timeout_s=10, progress=False)
    assert time.monotonic() - started < 10 + 30
    assert all(g.score == 0 and "ran out of its 10 s" in g.message for g in grades)


def test_a_notebook_of_no_known_lab_does_not_pass(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), folder / "notes.ipynb")
    grade(folder, tmp_path / "grades.csv", progress=False)
    total = next(r for r in _rows(tmp_path / "grades.csv") if r["exercise"] == "TOTAL")
    assert (total["lab"], total["points"], total["passed"]) == ("?", "0", "False")


def test_a_copy_of_the_teachers_lab_is_recognised_by_its_checks(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(LAB00, folder / "ann.ipynb")  # no lab name inside, no lab number in the file name
    grades = grade(folder, tmp_path / "grades.csv", progress=False)
    assert {g.lab for g in grades} == {"lab00_green_ai"} and sum(g.score for g in grades) == FULL


@pytest.mark.parametrize("name", ["=1+2", "\t=1+2", "  @SUM(A1)", "\r-1", "\n+1"])
def test_a_formula_after_leading_whitespace_is_quoted_too(tmp_path, name):
    from greenlab.classroom.grade import Grade, write_csv

    write_csv([Grade(name, "lab00", "ex1", 1, 1, True, "ok")], tmp_path / "grades.csv")
    rows = list(csv.reader((tmp_path / "grades.csv").open(newline="", encoding="utf-8")))
    assert {row[0] for row in rows[1:]} == {f"'{name}"}


def test_text_behind_a_nul_character_is_quoted_and_numbers_stay_numbers(tmp_path):
    from greenlab.classroom.grade import Grade, write_csv

    write_csv([Grade("\0=1+2", "lab00", "ex1", -1, 0, False, "\0@SUM(A1)")], tmp_path / "grades.csv")
    rows = list(csv.reader((tmp_path / "grades.csv").open(newline="", encoding="utf-8")))
    assert rows[1] == ["'\0=1+2", "lab00", "ex1", "-1", "0", "False", "'\0@SUM(A1)"]


def test_ctrl_c_while_a_kernel_starts_is_the_documented_message(tmp_path, capsys, monkeypatch):
    import asyncio

    from greenlab.classroom import grade as grade_module

    def cancelled(*args, **kwargs):
        raise asyncio.CancelledError  # what asyncio makes of SIGINT while nbclient starts a kernel

    monkeypatch.setattr(grade_module, "grade", cancelled)
    assert cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv")]) == 130
    assert "greenlab grade: interrupted" in capsys.readouterr().err


def test_the_summary_keeps_long_names_apart():
    grades = [grade_module.Grade("teacher_lab00_green_ai", "lab06_encoder_decoder", "x", 1, 1, True, "")]
    header, row = grade_module.summary(grades).splitlines()
    assert row.split() == ["teacher_lab00_green_ai", "lab06_encoder_decoder", "1", "/", "1"]
    assert header.index("lab") == row.index("lab06")  # each column starts where its heading does
