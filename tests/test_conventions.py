import shutil

import nbformat
import pytest

from greenlab import conventions
from greenlab.settings import REPOSITORY

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


def test_fix_restores_a_drifted_header(tmp_path, monkeypatch):
    monkeypatch.setattr(conventions, "ROOT", tmp_path)
    (tmp_path / "notebooks").mkdir()
    copy = tmp_path / "notebooks" / NOTEBOOKS[0].name
    shutil.copy(NOTEBOOKS[0], copy)
    nb = nbformat.read(copy, as_version=4)
    nb.cells[0].source = nb.cells[0].source.replace(REPOSITORY, "someone/else")
    next(c for c in nb.cells if c.cell_type == "code").source = "import greenlab"
    nbformat.write(nb, copy)
    assert len(conventions.problems(copy)) == 2
    assert conventions.fix(copy) is True
    assert conventions.problems(copy) == []
    assert conventions.fix(copy) is False
