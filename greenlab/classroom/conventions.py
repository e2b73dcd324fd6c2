"""The header every notebook and lab shares: an "Open in Colab" badge and one setup cell; the ending every chapter
shares (what we measured, takeaways, a self-check quiz, the lab's exercises); and figures in prose that say where
they come from.

The repository address lives in `greenlab.foundations.settings.REPOSITORY` only; `greenlab conventions --fix`
rewrites every badge and setup cell from it, and the tests fail when a notebook drifts.

A figure written in a markdown cell (a percentage, a factor such as "3×") must name its source in the same
paragraph: a publication, a shipped file (`data/...`), or the cell that computes it; a requirement ("at least") is
not a measurement. `unsourced_figures` finds the paragraphs that do neither.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from greenlab.classroom.checks import CHECK_MARKER
from greenlab.foundations.settings import REPOSITORY, REPOSITORY_URL, ROOT

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"  # a notebook's saved widget models (notebook metadata)
CLONE_FOLDER = "greenlab-course"  # where the setup cell clones the course: in Colab, /content/greenlab-course
_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")

SETUP_CELL = f'''# NBVAL_IGNORE_OUTPUT
# Setup: where greenlab is missing (Colab), clone it and install it without changing a package this kernel has
# loaded (colab/install.py); where the course is installed, nothing to install.
import importlib.util, os, runpy, subprocess
if importlib.util.find_spec("greenlab") is None:
    if not os.path.isdir("{CLONE_FOLDER}"):  # a folder not named greenlab, so that it cannot hide the package
        subprocess.run(["git", "clone", "--depth", "1", "{REPOSITORY_URL}", "{CLONE_FOLDER}"], check=True)
    runpy.run_path("{CLONE_FOLDER}/colab/install.py", run_name="__main__")
from greenlab.presentation.machine import setup
setup(seed=0)  # seeds everything; prints the versions in use and whether the test run used them'''

# A chapter ends the same way everywhere: what we measured, the takeaways, a self-check quiz, then the lab's exercises.
REQUIRED_HEADINGS = {"notebooks": ("## Learning goals", "## What we measured", "## Takeaways", "## Self-check quiz",
                                   "## Exercises"),
                     "labs": ("## Exercise",)}


# A lab exercise's hints: a nudge, then a fuller hint, each collapsed until the learner opens it (HTML <details>, which
# JupyterLab, Colab and GitHub fold, and a plain-text reader still reads).
HINTS = ("<details><summary>Hint 1", "<details><summary>Hint 2")
_EXERCISE = re.compile(r"^## Exercise (\d+)", re.MULTILINE)


def exercises_without_hints(markdown_cells: list[str]) -> list[str]:
    """The lab exercises (`## Exercise N` sections of the markdown, up to the next `## ` heading; the chapter's quiz
    aside) that lack the two collapsed hints."""
    sections = re.split(r"^(?=## )", "\n\n".join(markdown_cells), flags=re.MULTILINE)
    return [f"Exercise {match.group(1)}" for section in sections for match in [_EXERCISE.match(section)]
            if match and "the chapter's quiz" not in section and not all(hint in section for hint in HINTS)]


def quiz_cell(notebook: Path) -> str:
    """The code cell that shows a chapter's quiz (its widgets' ids change on every run: nbval ignores the output)."""
    chapter = notebook.name[:2]
    return f'# NBVAL_IGNORE_OUTPUT\nfrom greenlab.presentation.quiz import show_quiz\n\nshow_quiz("{chapter}")'


_FIGURE = re.compile(r"\d(?:[\d,.]*\d)?(?:\s?%|[×x](?![\w\d]))|\b\d[\d,.]*\s?times\s(?:more|less|fewer|faster|slower"
                     r"|larger|smaller|as)\b")
_SOURCED = re.compile(r"\b(?:19|20)\d\d\b|et al\.|data/|\b(?:above|below|printed|asserted|at least|at most|no more than"
                      r"|must|means)\b")


def unsourced_figures(markdown: str) -> list[str]:
    """The paragraphs (and list items) of `markdown` that state a figure without naming where it comes from."""
    paragraphs = re.split(r"\n\s*\n|\n(?=- |\d+\. )", markdown)
    return [" ".join(p.split()) for p in paragraphs if _FIGURE.search(p) and not _SOURCED.search(p)]


def colab_badge(notebook: Path) -> str:
    """The badge that opens `notebook` (a path inside the repository) in Colab."""
    relative = notebook.resolve().relative_to(ROOT).as_posix()
    return f"[![Open In Colab]({BADGE_IMAGE})](https://colab.research.google.com/github/{REPOSITORY}/blob/main/{relative})"


def problems(notebook: Path) -> list[str]:
    """What the notebook lacks of the shared conventions (empty when it follows them)."""
    nb = nbformat.read(notebook, as_version=4)
    cells = nb.cells
    found = []
    if not cells or cells[0].cell_type != "markdown" or not cells[0].source.startswith("# "):
        found.append("the first cell must be a markdown cell starting with the '# ' title")
    elif colab_badge(notebook) not in cells[0].source:
        found.append("the first cell lacks the Colab badge for this notebook (greenlab conventions --fix)")
    if "Estimated CPU runtime" not in (cells[0].source if cells else ""):
        found.append("the first cell must state the 'Estimated CPU runtime'")
    code = [c for c in cells if c.cell_type == "code"]
    if not code or code[0].source != SETUP_CELL:
        found.append("the first code cell must be the shared setup cell (greenlab conventions --fix)")
    if WIDGET_STATE in nb.metadata.get("widgets", {}):
        found.append("saved widget state: ipywidgets 7 (Colab's, the classic Notebook's) cannot load the models that "
                     "ipywidgets 8 saved, and raises errors in the page (greenlab conventions --fix)")
    if notebook.parent.name == "labs":
        unmarked = [i for i, c in enumerate(cells) if c.cell_type == "code" and ".check_" in c.source
                    and not CHECK_MARKER.search(c.source)]
        if unmarked:
            found.append(f"check cells {unmarked} lack the '# check: NAME (N points)' marker line")
    text = "\n\n".join(c.source for c in cells if c.cell_type == "markdown")
    for paragraph in unsourced_figures(text):
        found.append(f"a figure without its source (a reference, data/..., or the cell that prints it): "
                     f"{paragraph[:160]!r}")
    headings = REQUIRED_HEADINGS.get(notebook.parent.name, ())
    for heading in headings:
        if heading not in text:
            found.append(f"no '{heading}' section")
    places = [text.find(heading) for heading in headings if heading in text]
    if places != sorted(places):
        found.append(f"the sections must come in the order {', '.join(repr(h) for h in headings)}")
    if notebook.parent.name == "labs":
        for exercise in exercises_without_hints([c.source for c in cells if c.cell_type == "markdown"]):
            found.append(f"{exercise} lacks its two collapsed hints ({' / '.join(HINTS)})")
    if notebook.parent.name == "notebooks" and not any(c.source == quiz_cell(notebook) for c in code):
        found.append(f"no quiz cell: a code cell that is exactly {quiz_cell(notebook)!r}")
    return found


def fix(notebook: Path) -> bool:
    """Rewrite the badge and setup cell from the settings and drop saved widget state; True when the notebook
    changed."""
    nb = nbformat.read(notebook, as_version=4)
    title, code = nb.cells[0], [c for c in nb.cells if c.cell_type == "code"]
    before = (title.source, code[0].source if code else None, WIDGET_STATE in nb.metadata.get("widgets", {}))
    title.source = _BADGE.sub(colab_badge(notebook), title.source)
    if code:
        code[0].source = SETUP_CELL
    nb.metadata.pop("widgets", None)  # each widget's output keeps its text reading, which every front end shows
    if (title.source, code[0].source if code else None, False) == before:
        return False
    nbformat.write(nb, notebook)
    return True


def course_notebooks() -> list[Path]:
    """Every notebook and lab of the course, in order."""
    return sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "labs").glob("*.ipynb"))
