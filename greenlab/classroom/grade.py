"""Grade submitted labs with the checks they already carry: `greenlab grade SUBMISSIONS --out grades.csv`.

Every check cell of a lab starts with a marker line that names its exercise and points:

    # check: training_flops (1 point)
    lab00.check_training_flops(training_flops)

Each submission runs in a temporary copy (the submission itself is never modified) in a fresh kernel, with the
teacher's original check cells in place of the learner's, so that a check cannot be passed by editing it. Before
the learner's first cell the kernel is confined (`greenlab.foundations.confinement`): it reads only what a lab
needs, writes only its working copy and the cache, and starts no process, socket or signal; where that is
impossible, grading stops unless the teacher allows it unconfined (docs/teaching.md). Time limits per cell and per
notebook, bounded output, killing what a notebook leaves running, and a probe for replaced checks or formatters
keep one submission from spoiling the others: a notebook that crashes, loops or is not a notebook scores zero for
what did not run. Grades are written after each submission, atomically, so a grader killed midway loses nothing
already graded; the teacher's Ctrl-C leaves the submission being run without a row.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import site
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from tqdm.auto import tqdm
from traitlets.config import Config

from greenlab.classroom.checks import CHECK_MARKER, CHECK_MIME
from greenlab.foundations.confinement import (OUTPUT_LIMIT, become_subreaper, kernel_confinement_problem,
                                              kill_group, kill_left_behind)
from greenlab.foundations.settings import DATA_DIR, ROOT, cache_dir, replaced_whole
from greenlab.presentation import machine


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


def lab_name(notebook: nbformat.NotebookNode, path: Path, exercises: dict[str, list[Exercise]]) -> str | None:
    """Which lab a submission is: the name `greenlab assign` wrote into it, else a lab number (lab00) in its file
    name, else the lab whose exercises its check cells name (a copy of the teacher's lab under any name)."""
    name = notebook.metadata.get("greenlab", {}).get("lab")
    if name in exercises:
        return name
    by_number = next((lab for lab in exercises if lab.split("_")[0] in path.stem), None)
    if by_number is not None:
        return by_number
    checked = {m["exercise"] for c in notebook.cells if c.cell_type == "code" and (m := CHECK_MARKER.search(c.source))}
    return next((lab for lab, found in exercises.items() if checked and checked <= {e.exercise for e in found}), None)


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
                   cell_timeout_s: float, readable: list[str] | None = None) -> list[Grade]:
    """Run one submission in a temporary copy with the original checks appended; its grades per exercise. With
    `readable` (the folders a kernel may read), the kernel is confined before the learner's first cell."""
    with tempfile.TemporaryDirectory(prefix="greenlab-grade-") as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        try:
            notebook = nbformat.read(copy, as_version=4)
        except Exception as error:
            return zero(learner, lab, exercises, f"not a readable notebook ({type(error).__name__})")
        notebook.cells = [_without_check(c) for c in notebook.cells]
        module = lab.split("_")[0]  # the checks' own module, re-imported fresh: a learner's stand-in cannot answer
        fresh = f"import importlib, greenlab.classroom.checks, greenlab.classroom.exercises.{module} as {module}\n" \
                f"importlib.reload(greenlab.classroom.checks); importlib.reload({module})\n"
        checks = [nbformat.v4.new_code_cell(fresh + e.cell.source) for e in exercises]
        probes = [nbformat.v4.new_code_cell(_FINGERPRINT.replace("MODULE", module)) for _ in range(2)]  # before
        # the learner's first cell and after the last check
        notebook.cells = [probes[0], *notebook.cells, *checks, probes[1]]
        if readable is not None:
            notebook.cells.insert(0, _fence_cell(readable, [folder, str(cache_dir()), os.devnull]))
        deadline = time.monotonic() + timeout_s
        out_of_time = f"the notebook ran out of its {timeout_s:g} s"

        def cell_timeout(cell) -> int:  # each cell gets its own limit, within what is left of the notebook's
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(out_of_time)  # no cell starts after the budget
            return max(1, math.ceil(min(cell_timeout_s, left)))

        # IPC sockets in the private folder (POSIX): no network port, no kernel warning about unencrypted TCP
        sockets = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "kernel")}})
        client = BoundedClient(notebook, kernel_name="python3", timeout_func=cell_timeout, interrupt_on_timeout=True,
                               allow_errors=True, resources={"metadata": {"path": folder}},
                               config=sockets if os.name == "posix" else Config())
        already_running = {child.pid for child in psutil.Process().children(recursive=True)}
        killed = threading.Event()

        def kill_after_the_budget() -> None:
            killed.set()
            _kill_kernel(client)

        watchdog = threading.Timer(timeout_s + KILL_GRACE_S, kill_after_the_budget)
        watchdog.start()
        stopped = None
        try:
            client.execute()
        except TimeoutError:
            stopped = out_of_time
        except DeadKernelError:
            stopped = out_of_time if killed.is_set() else "the kernel died"
        except Exception as error:
            stopped = out_of_time if killed.is_set() else f"the notebook could not run: {type(error).__name__}: {error}"
        finally:
            watchdog.cancel()
            kill_left_behind(already_running)
        # On Ctrl-C (SIGINT) or SIGTERM, nbclient's own handler shuts the kernel down and the run fails: that was
        # the teacher, not the learner, so this submission gets no grade and the grading stops.
        if getattr(client, "_async_cleanup_kernel_future", None) is not None:
            raise KeyboardInterrupt
        if readable is not None and FENCE_FAILED in str(notebook.cells[0].get("outputs")):
            raise RuntimeError(f"the kernel grading {path} could not be confined: {notebook.cells[0].outputs}")
        if time.monotonic() > deadline:
            stopped = out_of_time
        grades = _check_results(notebook.cells[-len(checks) - 1:-1], exercises, stopped, learner, lab)
        changed = _tampering(*probes)
        if changed:
            grades.append(Grade(learner, lab, "(tampering)", 0, 0, False, f"the learner's code replaced {changed}: "
                                                                          "read the notebook behind this score"))
        return grades


KILL_GRACE_S = 5  # after the notebook's budget, a kernel still running this long is killed


FENCE_FAILED = "greenlab grade: the kernel could not be confined"


def _fence_cell(readable: list[str], writable: list[str]) -> nbformat.NotebookNode:
    """The cell the grader runs before the learner's first: it confines the kernel (foundations/confinement), or
    ends it, so that no learner's line ever runs unconfined. First it lets codecarbon probe the hardware, which it
    does once per process in a subprocess, while the kernel may still start one: `measure` then works inside."""
    return nbformat.v4.new_code_cell(
        f"import os, tempfile, warnings\nfrom greenlab.foundations.confinement import confine_kernel\n"
        f"from greenlab.measurement.energy import measure\ntry:\n"
        f"    with warnings.catch_warnings(action='ignore'), measure('hardware probe', record=False):\n"
        f"        pass\n"
        f"    confine_kernel({readable!r}, {writable!r})\nexcept BaseException as error:\n"
        f"    print({FENCE_FAILED!r}, repr(error), flush=True)\n    os._exit(70)\n"
        f"tempfile.tempdir = os.getcwd()  # the working copy: the one folder it may write, with the cache\n"
        f"del confine_kernel, measure")


# A probe the grader runs before the learner's first cell and after the last check: what decides how a check's
# result reaches the grader (IPython's display formatters and hooks, input transformers, importlib.reload) and the
# checks' own code. A difference between the two is flagged in grades.csv: evidence, not proof against a learner
# who sets out to hide a change (docs/teaching.md).
_FINGERPRINT = """def __greenlab_fingerprint():
    import hashlib, importlib, json, sys
    ip = get_ipython()
    def name(thing):
        thing = getattr(thing, "__func__", thing)
        qualname = getattr(thing, "__qualname__", type(thing).__qualname__)
        return f"{getattr(thing, '__module__', None)}.{qualname}:{id(thing)}"
    def on_instance(obj):  # callables set on the object itself, hiding its class's methods
        return sorted(key for key, value in vars(obj).items() if callable(value) and hasattr(type(obj), key))
    def greenlab_printers(formatter):
        return sorted(f"{kind.__module__}.{kind.__qualname__}" for kind in getattr(formatter, "type_printers", {})
                      if isinstance(kind, type) and kind.__module__.startswith("greenlab"))
    def digest(code):  # the instructions, names and constants, nested functions included
        parts = [code.co_code, code.co_names] + [digest(c) if hasattr(c, "co_code") else c for c in code.co_consts]
        return hashlib.sha256(repr(parts).encode()).hexdigest()
    def functions(module):
        return sorted((key, digest(value.__code__)) for key, value in
                      vars(importlib.import_module(module)).items() if hasattr(value, "__code__"))
    formatter = ip.display_formatter
    print("greenlab-fingerprint", json.dumps({
        "display formatters": [name(formatter), on_instance(formatter)] + [
            [mime, name(each), on_instance(each), greenlab_printers(each)]
            for mime, each in sorted(formatter.formatters.items())],
        "display hooks": [name(ip.display_pub), on_instance(ip.display_pub), name(ip.displayhook),
                          name(sys.displayhook)],
        "input transformers": [name(each) for each in
                               ip.input_transformers_cleanup + ip.input_transformers_post + ip.ast_transformers],
        "importlib.reload": name(importlib.reload),
        "check functions": [functions("greenlab.classroom.checks"), functions("greenlab.classroom.exercises.MODULE")]}))
__greenlab_fingerprint()
del __greenlab_fingerprint"""


def _tampering(before: nbformat.NotebookNode, after: nbformat.NotebookNode) -> str:
    """What differs between the probe run before the learner's code and the one after the checks ("" when
    nothing, or when a probe did not print: a kernel that died is scored by its checks)."""
    def fingerprint(cell: nbformat.NotebookNode) -> dict | None:
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        line = next((line for line in text.splitlines() if line.startswith("greenlab-fingerprint ")), None)
        try:
            return json.loads(line.split(" ", 1)[1]) if line else None
        except json.JSONDecodeError:
            return None
    first, last = fingerprint(before), fingerprint(after)
    if first is None or last is None:
        return ""
    return ", ".join(key for key in first if first[key] != last.get(key))


def kernel_readable(keep_out: list[Path]) -> list[str]:
    """The folders a graded kernel may read: the system's, Python's and its libraries', the course's package and
    data, the caches of greenlab, Hugging Face and matplotlib. A ValueError when one of them holds a folder of
    `keep_out` (the teacher's labs, the submissions, the grades), which the kernel must not read."""
    import greenlab
    import matplotlib
    from huggingface_hub import constants
    roots = ["/usr", "/lib", "/lib32", "/lib64", "/etc", "/proc", "/sys", "/dev", sys.prefix, sys.base_prefix,
             *sysconfig.get_paths().values(), *site.getsitepackages(), site.getusersitepackages(),
             str(Path(greenlab.__file__).parent), str(DATA_DIR), str(machine.CONSTRAINTS), str(machine.COLAB),
             str(cache_dir()), constants.HF_HOME, matplotlib.get_cachedir(), matplotlib.get_configdir()]
    roots = list(dict.fromkeys(str(Path(root).resolve()) for root in roots if Path(root).exists()))
    for secret in keep_out:
        inside = [root for root in roots if secret.resolve().is_relative_to(root)]
        if inside:
            raise ValueError(f"{secret} lies inside {inside[0]}, which a graded kernel may read: keep the labs, "
                             f"the submissions and the grades in folders of their own")
    return roots


def _without_check(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A learner's cell without its check: the lines above a `# check:` line are the learner's and stay (a function
    typed into the check cell is graded); the check itself is replaced by the teacher's."""
    match = CHECK_MARKER.search(cell.source) if cell.cell_type == "code" else None
    if match is None:
        return cell
    return nbformat.v4.new_code_cell(cell.source[:match.start()])


class BoundedClient(NotebookClient):
    """nbclient's client keeping at most OUTPUT_LIMIT characters of a notebook's outputs (a cell printing without
    end cannot grow the grader's memory); the checks' results are always kept."""

    kept = 0

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + len(str(content.get("data", "")))
        if CHECK_MIME in content.get("data", {}) or self.kept + size <= OUTPUT_LIMIT:
            self.kept += size
            return super().output(outs, msg, display_id, cell_index)
        if self.kept <= OUTPUT_LIMIT:  # once: say where the output was cut
            self.kept = OUTPUT_LIMIT + 1
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=f"[output cut at {OUTPUT_LIMIT:,} "
                                                                            "characters by the grader]\n"))
        return None


def _kill_kernel(client: NotebookClient) -> None:
    """Kill the client's kernel and every process it started (its own process group), whatever it catches."""
    group = getattr(getattr(client.km, "provisioner", None), "pgid", None)
    if group and hasattr(os, "killpg"):
        kill_group(group)  # nothing to do when it had ended


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


def _not_a_plain_file(folder: Path, path: Path) -> str | None:
    """Why a submission is not graded when it is a symbolic link (to the teacher's lab, say), sits in a linked
    folder, or is not a regular file; None for a plain notebook file."""
    relative = path.relative_to(folder)
    for part in [folder / Path(*relative.parts[:i]) for i in range(1, len(relative.parts) + 1)]:
        if part.is_symlink():
            return f"{part.relative_to(folder)} is a symbolic link; submit the notebook file itself"
    if not path.is_file():
        return "it is not a regular file"
    return None


def grade(submissions: str | Path, out: str | Path, *, labs_dir: str | Path = ROOT / "labs",
          only_lab: str | None = None, feedback_dir: str | Path | None = None, timeout_s: float = 600,
          cell_timeout_s: float = 120, progress: bool = True, allow_unconfined: bool = False) -> list[Grade]:
    """Grade every notebook under `submissions`; write the CSV `out` and one Markdown feedback file per learner.
    Each kernel is confined (foundations/confinement); where it cannot be, grading stops unless `allow_unconfined`."""
    labs = {p.stem: p for p in sorted(Path(labs_dir).glob("lab*.ipynb"))}
    if not labs:
        raise ValueError(f"no lab (lab*.ipynb) in {labs_dir}: --labs names the folder of the teacher's labs")
    if only_lab is not None and only_lab not in labs:
        raise ValueError(f"unknown lab {only_lab!r}; the labs are: {', '.join(labs)}")
    exercises = {name: lab_exercises(path) for name, path in labs.items()}
    become_subreaper()  # so that kill_left_behind finds what a submission left in a session of its own
    out, feedback = Path(out), Path(feedback_dir) if feedback_dir else Path(out).with_name("feedback")
    problem = kernel_confinement_problem()
    if problem and not allow_unconfined:
        raise RuntimeError(f"graded notebooks run only in a kernel the operating system confines, and here it "
                           f"cannot be: {problem}. To grade anyway, unconfined (--allow-unconfined), use an "
                           f"account or container that holds nothing else (docs/teaching.md)")
    readable = None if problem else kernel_readable([Path(labs_dir), Path(submissions), out.parent, feedback])
    grades: list[Grade] = []
    write_csv(grades, out)  # a table from an earlier grading is never mistaken for this one's
    graded: dict[tuple[str, str], Path] = {}
    for learner, path in tqdm(find_submissions(Path(submissions)), desc="grading", disable=not progress):
        try:
            lab = lab_name(nbformat.read(path, as_version=4), path, exercises)
        except Exception:
            lab = lab_name(nbformat.v4.new_notebook(), path, exercises)
        refused = _not_a_plain_file(Path(submissions), path)
        if refused and (lab or only_lab) in exercises:
            new = zero(learner, lab or only_lab, exercises[lab or only_lab], f"{path.name} is refused: {refused}")
        elif refused:
            new = [Grade(learner, "?", "(none)", 0, 0, False, f"{path.name} is refused: {refused}")]
        elif only_lab is not None and lab not in (None, only_lab):
            new = zero(learner, only_lab, exercises[only_lab], f"{path.name} is {lab}, not {only_lab}")
        elif (learner, lab or only_lab) in graded:
            lab = lab or only_lab
            new = [Grade(learner, lab, "(none)", 0, 0, False, f"{path.name} is a second notebook for {lab}: "
                                                           f"only {graded[(learner, lab)].name} is graded")]
        elif lab is None and only_lab is None:
            new = [Grade(learner, "?", "(none)", 0, 0, False, f"{path.name} is not one of the labs "
                                                            f"({', '.join(labs)}): name the lab with --lab")]
        else:
            lab = lab or only_lab  # grading one lab: a submission with no lab name is taken to be that lab
            graded[(learner, lab)] = path
            new = grade_notebook(path, learner, lab, exercises[lab], timeout_s, cell_timeout_s, readable)
        grades.extend(new)
        write_csv(grades, out)  # after every submission: a submission that kills the grader loses nothing before it
        learner_labs = {(g.learner, g.lab) for g in new}
        write_feedback([g for g in grades if (g.learner, g.lab) in learner_labs], feedback)
    return grades


def totals(grades: list[Grade]) -> dict[tuple[str, str], tuple[int, int]]:
    """(learner, lab) -> (score, out of)."""
    result: dict[tuple[str, str], tuple[int, int]] = {}
    for g in grades:
        score, points = result.get((g.learner, g.lab), (0, 0))
        result[(g.learner, g.lab)] = (score + g.score, points + g.points)
    return result


def _cell(value: object) -> object:
    """A spreadsheet reads text starting with = + - @ as a formula, also after leading spaces, tabs or line breaks;
    a tab, a carriage return or a NUL character may start one themselves (OWASP ASVS 1.2.10): such text gets a
    leading ' that makes it text again. Numbers (points, score) stay numbers."""
    formula = isinstance(value, str) and (value.lstrip()[:1] in ("=", "+", "-", "@")
                                          or value[:1] in ("\t", "\r", "\0"))
    return f"'{value}" if formula else value


def write_csv(grades: list[Grade], path: Path) -> None:
    """One row per learner and exercise, then a TOTAL row per learner and lab; written whole or not at all."""
    check_grades_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_whole(path) as partial, partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["learner", "lab", "exercise", "points", "score", "passed", "message"])
        for g in grades:
            writer.writerow(map(_cell, [g.learner, g.lab, g.exercise, g.points, g.score, g.passed, g.message]))
        for (learner, lab), (score, points) in totals(grades).items():
            writer.writerow(map(_cell, [learner, lab, "TOTAL", points, score, points > 0 and score == points, ""]))


def check_grades_path(path: Path) -> Path:
    """`path` when a grades table can be written there; an IsADirectoryError naming it when it is a folder."""
    if path.is_dir():
        raise IsADirectoryError(f"--out {path} is a folder: name the grades file, e.g. {path / 'grades.csv'}")
    return path


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
    """A table of totals, one line per learner and lab, its columns as wide as their longest entry."""
    table = totals(grades)
    learners = max([len("learner"), *(len(learner) for learner, _ in table)]) + 2
    labs = max([len("lab"), *(len(lab) for _, lab in table)]) + 2
    rows = [f"{'learner':<{learners}}{'lab':<{labs}}{'score':>9}"]
    rows += [f"{learner:<{learners}}{lab:<{labs}}{score:>4} / {points:<3}" for (learner, lab), (score, points)
             in table.items()]
    return "\n".join(rows)
