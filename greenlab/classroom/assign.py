"""Make the student version of a lab: solutions out, outputs cleared.

In a teacher's lab, solution code sits between nbgrader's markers; `make_student_version` replaces each marked
block by a stub at the same indentation:

    def training_flops(n_params, n_tokens):     def training_flops(n_params, n_tokens):
        ### BEGIN SOLUTION                  ─►      raise NotImplementedError("Exercise: write your code here")
        return 6 * n_params * n_tokens
        ### END SOLUTION

The check cells, and their `# check: NAME (N points)` markers that `greenlab grade` reads, are kept as they are.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("Exercise: write your code here")'


class SolutionMarkerError(ValueError):
    """A lab whose solution markers do not pair up; the message names the notebook and cell."""


def strip_solutions(source: str, where: str = "cell") -> str:
    """The cell source with every BEGIN/END SOLUTION block replaced by a NotImplementedError stub."""
    out, inside = [], False
    for number, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise SolutionMarkerError(f"{where}, line {number}: '{BEGIN}' inside an open solution block")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == END:
            if not inside:
                raise SolutionMarkerError(f"{where}, line {number}: '{END}' without '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    return "\n".join(out)


def student_version(source: str | Path) -> tuple[nbformat.NotebookNode, int]:
    """The student version of the lab `source`, in memory, and how many solutions it lost. A notebook without any
    solution block is refused: its copy would hand out the lab as it is."""
    source = Path(source)
    try:
        notebook = nbformat.read(source, as_version=4)
    except Exception as error:  # nbformat raises JSON, validation and encoding errors of its own kinds
        raise ValueError(f"{source} is not a readable notebook ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else 'no detail'})") from None
    notebook.metadata["greenlab"] = {"lab": source.stem}  # so that `greenlab grade` knows which lab this is
    removed = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            removed += sum(line.strip() == BEGIN for line in cell.source.splitlines())
            cell.source = strip_solutions(cell.source, where=f"{source.name}, cell {index}")
            cell.outputs, cell.execution_count = [], None
    if removed == 0:
        raise SolutionMarkerError(f"{source} has no '{BEGIN}' block: is it a lab? Nothing was written")
    return notebook, removed


def make_student_version(source: str | Path, target: str | Path) -> int:
    """Write the student version of the lab `source` to `target`; return how many solutions were removed."""
    notebook, removed = student_version(source)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return removed


def assign(source: str | Path, out_dir: str | Path) -> list[Path]:
    """Student versions of a lab notebook, or of every lab*.ipynb in a folder, written into `out_dir`."""
    source, out_dir = Path(source), Path(out_dir)
    if source.is_dir():
        labs = sorted(source.glob("*.ipynb"))
    elif source.suffix == ".ipynb" and source.is_file():
        labs = [source]
    else:
        raise FileNotFoundError(f"{source} is neither a notebook nor a folder of notebooks")
    if not labs:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {source}")
    if out_dir.resolve() in {lab.parent.resolve() for lab in labs}:
        raise ValueError(f"{out_dir} holds the teacher's labs: write the student versions to another folder")
    versions = {out_dir / lab.name: student_version(lab)[0] for lab in labs}  # every lab checked before any is written
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, notebook in versions.items():
        nbformat.write(notebook, target)
    return list(versions)
