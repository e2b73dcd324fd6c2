import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from greenlab.classroom.assign import STUB, SolutionMarkerError, assign, make_student_version, strip_solutions
from greenlab.classroom.checks import CHECK_MARKER

ROOT = Path(__file__).resolve().parents[2]  # the repository, above tests/classroom/
LAB00 = ROOT / "labs" / "lab00_green_ai.ipynb"
LABS = sorted((ROOT / "labs").glob("lab*.ipynb"))


def test_strip_solutions_keeps_indentation():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n\nprint(f)"
    assert strip_solutions(source) == f"def f(x):\n    {STUB}\n\nprint(f)"


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside an open"),
])
def test_unpaired_markers_are_clear_errors(source, message):
    with pytest.raises(SolutionMarkerError, match=message):
        strip_solutions(source, where="lab.ipynb, cell 3")


def test_student_version_has_no_solutions_and_no_outputs(tmp_path):
    removed = make_student_version(LAB00, tmp_path / "lab00.ipynb")
    student = nbformat.read(tmp_path / "lab00.ipynb", as_version=4)
    teacher = nbformat.read(LAB00, as_version=4)
    assert removed == 5  # four functions and the quiz's replies
    assert len(student.cells) == len(teacher.cells)
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in code and "6 * n_params * n_tokens" not in code
    assert code.count(STUB) == 5
    assert all(not c.outputs and c.execution_count is None for c in student.cells if c.cell_type == "code")


def test_assign_a_folder_and_refuse_bad_sources(tmp_path):
    written = assign(ROOT / "labs", tmp_path / "student")
    assert [p.name for p in written] == sorted(p.name for p in (ROOT / "labs").glob("*.ipynb"))
    with pytest.raises(FileNotFoundError, match="neither a notebook nor a folder"):
        assign(tmp_path / "missing", tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no notebooks"):
        assign(empty, tmp_path / "out")
    with pytest.raises(ValueError, match="holds the teacher's labs"):
        assign(ROOT / "labs", ROOT / "labs")


def test_a_notebook_without_solutions_is_refused_before_anything_is_written(tmp_path):
    notebook = ROOT / "notebooks" / "00_green_ai_intro.ipynb"  # a notebook, not a lab: nothing to strip
    with pytest.raises(SolutionMarkerError, match="00_green_ai_intro.ipynb has no '### BEGIN SOLUTION' block.*"
                                                  "Nothing was written"):
        assign(notebook, tmp_path / "student")
    assert not (tmp_path / "student").exists()
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(ROOT / "labs" / "lab00_green_ai.ipynb", mixed / "a_lab.ipynb")
    shutil.copy(notebook, mixed / "b_notebook.ipynb")
    with pytest.raises(SolutionMarkerError, match="b_notebook.ipynb has no"):
        assign(mixed, tmp_path / "student")
    assert not (tmp_path / "student").exists()  # not even the lab that came first


def _outputs(cell) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)


@pytest.mark.parametrize("lab", LABS, ids=lambda p: p.name)
def test_student_lab_fails_its_checks_with_a_friendly_message(tmp_path, lab):
    removed = make_student_version(lab, tmp_path / lab.name)
    notebook = nbformat.read(tmp_path / lab.name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    checks = [c for c in notebook.cells if c.cell_type == "code" and CHECK_MARKER.search(c.source)]
    assert len(checks) >= removed
    for cell in checks:
        text = _outputs(cell)
        assert text.startswith("✗") and "not implemented yet" in text, text
        assert all(o.output_type != "error" for o in cell.outputs)
