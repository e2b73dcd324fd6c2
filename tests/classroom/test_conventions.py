import shutil

import nbformat
import pytest

from greenlab.classroom import conventions
from greenlab.foundations.settings import REPOSITORY

NOTEBOOKS = conventions.course_notebooks()


def test_there_is_a_notebook_and_a_lab():
    folders = {path.parent.name for path in NOTEBOOKS}
    assert folders == {"notebooks", "labs"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_follows_the_conventions(notebook):
    assert conventions.problems(notebook) == []


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_is_committed_executed(notebook):
    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert all(c.execution_count is not None for c in code)


def test_badge_points_at_the_configured_repository():
    badge = conventions.colab_badge(NOTEBOOKS[0])
    assert f"github/{REPOSITORY}/blob/main/notebooks/{NOTEBOOKS[0].name}" in badge
    assert f"https://github.com/{REPOSITORY}" in conventions.SETUP_CELL


@pytest.fixture
def copy(tmp_path, monkeypatch):
    """The first notebook, copied into a repository root of its own."""
    monkeypatch.setattr(conventions, "ROOT", tmp_path)
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / NOTEBOOKS[0].name
    shutil.copy(NOTEBOOKS[0], path)
    return path


def test_fix_restores_a_drifted_header(copy):
    nb = nbformat.read(copy, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace(REPOSITORY, "someone/else")
    next(c for c in nb.cells if c.cell_type == "code").source = "import greenlab"
    nbformat.write(nb, copy)
    assert len(conventions.problems(copy)) == 2
    assert conventions.fix(copy) is True
    assert conventions.problems(copy) == []
    assert conventions.fix(copy) is False


def test_saved_widget_state_is_flagged_and_dropped(copy):
    nb = nbformat.read(copy, as_version=4)
    nb.metadata["widgets"] = {conventions.WIDGET_STATE: {"state": {"a": {"model_module": "@jupyter-widgets/controls",
                                                                          "model_module_version": "2.0.0"}}}}
    nbformat.write(nb, copy)
    assert [p for p in conventions.problems(copy) if "saved widget state" in p]
    assert conventions.fix(copy) is True
    assert conventions.problems(copy) == [] and "widgets" not in nbformat.read(copy, as_version=4).metadata


@pytest.mark.parametrize("text", [
    "At 4,096 tokens a window keeps one pair in eight: 8× fewer FLOPs.",
    "Removing stop words saves 45 % of the tokens.",
    "The window is 4x faster than the dense kernel.",
    "Accelerators spend 50 times less energy per FLOP.",
])
def test_a_figure_without_its_source_is_found(text):
    assert conventions.unsourced_figures(f"Intro.\n\n{text}\n\nOutro without numbers.") == [text]


@pytest.mark.parametrize("text", [
    "DistilBERT kept 97 % of BERT's score (Sanh et al., 2019).",
    "The PUE: 1.10 for Google's fleet (`data/pue.csv`) against 15 times more elsewhere, printed above.",
    "The kernel is 3.9x faster (printed above).",
    "Reach the same loss with at least 30 % less energy.",
    "We compute the same 2,000 × 2,000 matrix, 60 times, as a 4×4 example; bits = loss / ln 2 × tokens.",
])
def test_sourced_figures_requirements_and_shapes_pass(text):
    assert conventions.unsourced_figures(text) == []


def test_an_unsourced_figure_is_a_convention_problem(copy):
    nb = nbformat.read(copy, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("Green training is 10× cheaper."))
    nbformat.write(nb, copy)
    assert [p for p in conventions.problems(copy) if "without its source" in p] == [
        "a figure without its source (a reference, data/..., or the cell that prints it): "
        "'Green training is 10× cheaper.'"]


def test_a_lab_exercise_needs_its_two_collapsed_hints():
    hints = "\n<details><summary>Hint 1 — a nudge</summary>\n\nx\n</details>\n" \
            "<details><summary>Hint 2 — a fuller hint</summary>\n\ny\n</details>"
    cells = ["## Exercise 1 — one" + hints, "## Exercise 2 — two\n<details><summary>Hint 1 — a nudge</summary>",
             "## Exercise 3 — three", "## Exercise 4 — the chapter's quiz", "no exercise here"]
    assert conventions.exercises_without_hints(cells) == ["Exercise 2", "Exercise 3"]
