"""CI's Colab leg, a learner's first minutes: notebook 00 opened in Colab and run from the top.

The setup cell runs as written, with this clone in place of GitHub's address, in a kernel that has loaded what
Colab's kernel has at start (numpy, pandas, matplotlib, IPython: an IPython startup file set by .ci/colab; psutil:
ipykernel itself), from a Colab-like working folder. It must leave every package of Colab's set as it was, but for
those colab/install.py lets through; where it changed one the kernel had loaded, it must stop and say to restart.
Then the session is restarted (a new kernel) and the whole notebook runs, with no error and no second install.

    python .ci/colab_first_cell.py REPO CONTENT   # REPO: the clone to install from; CONTENT: the working folder
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO, CONTENT = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
INSTALL = runpy.run_path(str(REPO / "colab" / "install.py"))  # its rules: what may change, how names compare
NEVER_CHANGED = {"ipython", "ipykernel", "traitlets", "jupyter-client", "tornado", "pyzmq"}  # the kernel itself


def freeze() -> dict[str, str]:
    """{distribution: version} installed in this Python, as pip freeze lists it."""
    lines = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True)
    return {INSTALL["canonical"](name): version
            for name, _, version in (line.partition("==") for line in lines.stdout.splitlines()) if version}


def colab_set() -> dict[str, str]:
    """Colab's versions of what the course and a kernel need (colab/requirements.txt)."""
    pins = (line.partition("==") for line in (REPO / "colab" / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#"))
    return {INSTALL["canonical"](name): version for name, _, version in pins}


def run(cells: list[str], allow_errors: bool) -> list[dict]:
    """Run `cells` in a new kernel started in CONTENT; the outputs of each cell."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(notebook, timeout=600, allow_errors=allow_errors,
                   resources={"metadata": {"path": str(CONTENT)}}).execute()
    return [cell.outputs for cell in notebook.cells]


def text(outputs: list[dict]) -> str:
    return "\n".join(o.get("text", "") or o.get("evalue", "") or json.dumps(o.get("data", {})) for o in outputs)


def main() -> None:
    notebook = nbformat.read(REPO / "notebooks" / "00_green_ai_intro.ipynb", as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    address = "https://github.com/greenlab-course/greenlab"
    assert address in cells[0], "the setup cell clones the course from GitHub"
    cells[0] = cells[0].replace(address, REPO.as_uri())
    probe = (f"import json, runpy, sys; loaded = runpy.run_path({str(REPO / 'colab' / 'install.py')!r})['loaded']; "
             f"print(json.dumps([sys.executable, sorted(loaded())]))")
    colab, before = colab_set(), freeze()
    assert all(before.get(name) == version for name, version in colab.items() if name != "torch"), \
        "Colab's set is installed before the setup cell runs"

    start = time.perf_counter()
    probed, first = run([probe, cells[0]], allow_errors=True)
    seconds, after = time.perf_counter() - start, freeze()
    print(text(probed))
    executable, loaded = json.loads([o["text"] for o in probed if o.get("name") == "stdout"][0])
    loaded = set(loaded)
    assert executable == sys.executable, f"the kernel runs {executable}, not {sys.executable}"
    assert {"numpy", "pandas", "matplotlib", "ipython", "psutil"} <= loaded, f"kernel had loaded only {loaded}"
    changed = {name: f"{before.get(name)} → {after.get(name)}" for name in colab if before.get(name) != after.get(name)}
    print(f"setup cell, first run: {seconds:.0f} s; the kernel had loaded {len(loaded)} distributions; "
          f"Colab's packages changed: {changed or 'none'}")
    print(text(first))
    assert not changed.keys() & NEVER_CHANGED, f"the install changed the kernel itself: {changed}"
    assert changed.keys() <= INSTALL["UPGRADES"].keys(), f"the install changed Colab's packages: {changed}"
    stopped = [o for o in first if o.get("output_type") == "error"]
    if changed.keys() & loaded:
        assert stopped and stopped[0]["ename"] == "SystemExit", "a changed package the kernel loaded stops the cell"
        assert "restart the session" in stopped[0]["evalue"], stopped[0]["evalue"]
        assert all(name in stopped[0]["evalue"] for name in changed.keys() & loaded), stopped[0]["evalue"]
    else:
        assert not stopped, f"the setup cell failed: {stopped}"

    outputs = run(cells, allow_errors=False)  # after "Restart session": a new kernel, the whole notebook
    assert "installed" not in text(outputs[0]), "the setup cell installed again after the restart"
    assert freeze() == after, "the second run changed packages"
    print(f"after the restart: all {len(cells)} code cells of notebook 00 ran; setup printed: {text(outputs[0])}")


if __name__ == "__main__":
    main()
