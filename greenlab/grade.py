"""Grade submitted labs with the checks they already carry: `greenlab grade SUBMISSIONS --out grades.csv`.

Every check cell of a lab starts with a marker line that names its exercise and points:

    # check: training_flops (1 point)
    lab00.check_training_flops(training_flops)

For each submitted notebook, the grader
    1. copies it to a temporary folder (the submission itself is never modified, and runs nowhere else),
    2. drops every check cell the learner's copy has (edited or not) and appends the teacher's original check
       cells, so a check cannot be passed by editing it,
    3. runs it top to bottom in a fresh kernel (nbclient), interrupting any cell that exceeds its time, within a
       time budget for the whole notebook,
    4. reads each check's machine-readable result (`application/vnd.greenlab.check+json`).
A notebook that crashes, loops or is not a notebook scores zero for what did not run; the others go on.
Grading runs the learners' code: run it in an account or container that holds nothing else (docs/teaching.md).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from tqdm.auto import tqdm

from greenlab.checks import CHECK_MARKER, CHECK_MIME
from greenlab.settings import ROOT


@dataclass(frozen=True)
class Exercise:
    """One graded exercise of a lab: its name, its points and the teacher's check cell."""

    exercise: str
    points: int
    cell: nbformat.NotebookNode  # the teacher's check cell


@dataclass
class Grade:
    """One learner's result on one exercise."""

    learner: str
    lab: str
    exercise: str
    points: int
    score: int
    passed: bool
    message: str


def lab_exercises(lab: Path) -> list[Exercise]:
    """The exercises of a teacher's lab, from the markers of its check cells."""
    notebook = nbformat.read(lab, as_version=4)
    found = []
    for cell in notebook.cells:
        match = CHECK_MARKER.search(cell.source) if cell.cell_type == "code" else None
        if match:
            found.append(Exercise(match["exercise"], int(match["points"]), cell))
    if not found:
        raise ValueError(f"{lab} has no check cells ('# check: NAME (N points)'): is it a lab?")
    return found


def lab_name(notebook: nbformat.NotebookNode, path: Path, labs: dict[str, Path]) -> str | None:
    """Which lab a submission is: the name `greenlab assign` wrote into it, else a lab number (lab00) in its name."""
    name = notebook.metadata.get("greenlab", {}).get("lab")
    if name in labs:
        return name
    return next((lab for lab in labs if lab.split("_")[0] in path.stem), None)


def _check_results(cells: list[nbformat.NotebookNode], exercises: list[Exercise], stopped: str | None,
                   learner: str, lab: str) -> list[Grade]:
    grades = []
    for exercise, cell in zip(exercises, cells):
        results = [o["data"][CHECK_MIME] for o in cell.get("outputs", [])
                   if o.get("output_type") == "execute_result" and CHECK_MIME in o.get("data", {})]
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if results:
            passed, message = bool(results[0]["passed"]), results[0]["message"]
        elif errors:
            passed, message = False, f"the check could not run: {errors[0]['ename']}: {errors[0]['evalue']}"
        else:
            passed, message = False, f"the check did not run ({stopped or 'no result'})"
        grades.append(Grade(learner, lab, exercise.exercise, exercise.points, exercise.points if passed else 0,
                            passed, message))
    return grades


def zero(learner: str, lab: str, exercises: list[Exercise], message: str) -> list[Grade]:
    """Every exercise of the lab at zero points, with the reason."""
    return [Grade(learner, lab, e.exercise, e.points, 0, False, message) for e in exercises]


def grade_notebook(path: Path, learner: str, lab: str, exercises: list[Exercise], timeout_s: float,
                   cell_timeout_s: float) -> list[Grade]:
    """Run one submission in a temporary copy with the original checks appended; its grades per exercise."""
    with tempfile.TemporaryDirectory(prefix="greenlab-grade-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        try:
            notebook = nbformat.read(copy, as_version=4)
        except Exception as error:
            return zero(learner, lab, exercises, f"not a readable notebook ({type(error).__name__})")
        notebook.cells = [c for c in notebook.cells if not (c.cell_type == "code" and CHECK_MARKER.search(c.source))]
        module = lab.split("_")[0]  # the checks' own module, re-imported fresh: a learner's stand-in cannot answer
        fresh = f"import importlib, greenlab.checks, greenlab.exercises.{module} as {module}\n" \
                f"importlib.reload(greenlab.checks); importlib.reload({module})\n"
        checks = [nbformat.v4.new_code_cell(fresh + e.cell.source) for e in exercises]
        notebook.cells.extend(checks)
        deadline = time.monotonic() + timeout_s

        def cell_timeout(cell) -> int:  # each cell gets its own limit, within what is left of the notebook's
            return max(1, int(min(cell_timeout_s, deadline - time.monotonic())))

        client = NotebookClient(notebook, timeout_func=cell_timeout, interrupt_on_timeout=True, allow_errors=True,
                                kernel_name="python3", resources={"metadata": {"path": folder}})
        stopped = None
        try:
            client.execute()
        except DeadKernelError:
            stopped = "the kernel died"
        except Exception as error:
            stopped = f"the notebook could not run: {type(error).__name__}: {error}"
        if time.monotonic() > deadline:
            stopped = f"the notebook ran out of its {timeout_s:g} s"
        return _check_results(notebook.cells[-len(checks):], exercises, stopped, learner, lab)


def find_submissions(folder: Path) -> list[tuple[str, Path]]:
    """(learner, notebook) pairs: `folder/NAME.ipynb` is learner NAME; `folder/NAME/*.ipynb` too."""
    if not folder.is_dir():
        raise FileNotFoundError(f"no submissions folder at {folder}")
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        relative = path.relative_to(folder)
        found.append((relative.parts[0] if len(relative.parts) > 1 else path.stem, path))
    if not found:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {folder}")
    return found


def grade(submissions: str | Path, out: str | Path, *, labs_dir: str | Path = ROOT / "labs",
          only_lab: str | None = None, feedback_dir: str | Path | None = None, timeout_s: float = 600,
          cell_timeout_s: float = 120, progress: bool = True) -> list[Grade]:
    """Grade every notebook under `submissions`; write the CSV `out` and one Markdown feedback file per learner."""
    labs = {p.stem: p for p in sorted(Path(labs_dir).glob("lab*.ipynb"))}
    if only_lab is not None and only_lab not in labs:
        raise ValueError(f"unknown lab {only_lab!r}; the labs are: {', '.join(labs)}")
    exercises = {name: lab_exercises(path) for name, path in labs.items()}
    grades: list[Grade] = []
    graded: dict[tuple[str, str], Path] = {}
    for learner, path in tqdm(find_submissions(Path(submissions)), desc="grading", disable=not progress):
        try:
            lab = lab_name(nbformat.read(path, as_version=4), path, labs)
        except Exception:
            lab = lab_name(nbformat.v4.new_notebook(), path, labs)
        if only_lab is not None and lab not in (None, only_lab):
            grades.extend(zero(learner, only_lab, exercises[only_lab], f"{path.name} is {lab}, not {only_lab}"))
            continue
        lab = lab or only_lab  # grading one lab: a submission with no lab name is taken to be that lab
        if (learner, lab) in graded:
            grades.append(Grade(learner, lab, "(none)", 0, 0, False, f"{path.name} is a second notebook for {lab}: "
                                                              f"only {graded[(learner, lab)].name} is graded"))
        elif lab is None:
            grades.append(Grade(learner, "?", "(none)", 0, 0, False, f"{path.name} is not one of the labs "
                                                                f"({', '.join(labs)}): name the lab with --lab"))
        else:
            graded[(learner, lab)] = path
            grades.extend(grade_notebook(path, learner, lab, exercises[lab], timeout_s, cell_timeout_s))
    write_csv(grades, Path(out))
    write_feedback(grades, Path(feedback_dir) if feedback_dir else Path(out).with_name("feedback"))
    return grades


def totals(grades: list[Grade]) -> dict[tuple[str, str], tuple[int, int]]:
    """(learner, lab) -> (score, out of)."""
    result: dict[tuple[str, str], tuple[int, int]] = {}
    for g in grades:
        score, points = result.get((g.learner, g.lab), (0, 0))
        result[(g.learner, g.lab)] = (score + g.score, points + g.points)
    return result


def _cell(value: object) -> object:
    """A spreadsheet shows text starting with = + - @ as a formula: quote it."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def write_csv(grades: list[Grade], path: Path) -> None:
    """One row per learner and exercise, then a TOTAL row per learner and lab."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["learner", "lab", "exercise", "points", "score", "passed", "message"])
        for g in grades:
            writer.writerow(map(_cell, [g.learner, g.lab, g.exercise, g.points, g.score, g.passed, g.message]))
        for (learner, lab), (score, points) in totals(grades).items():
            writer.writerow(map(_cell, [learner, lab, "TOTAL", points, score, score == points, ""]))


def write_feedback(grades: list[Grade], folder: Path) -> None:
    """One Markdown file per learner and lab: the score and every check's message."""
    folder.mkdir(parents=True, exist_ok=True)
    for (learner, lab), (score, points) in totals(grades).items():
        lines = [f"# {lab}: feedback for {learner}", "", f"**Score: {score} / {points}**", "",
                 "| exercise | score | result |", "| --- | --- | --- |"]
        for g in grades:
            if (g.learner, g.lab) == (learner, lab):
                lines.append(f"| {g.exercise} | {g.score} / {g.points} | {'✓' if g.passed else '✗'} "
                             f"{g.message.replace('|', '/')} |")
        (folder / f"{learner}_{lab}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def summary(grades: list[Grade]) -> str:
    """A table of totals, one line per learner and lab."""
    rows = [f"{'learner':<20}{'lab':<24}{'score':>9}"]
    rows += [f"{learner:<20}{lab:<24}{score:>4} / {points:<3}" for (learner, lab), (score, points)
             in totals(grades).items()]
    return "\n".join(rows)
