"""colab/install.py, what every setup cell runs where greenlab is missing (Colab): pip may only add packages, and
where it had to change one the kernel has loaded, the cell stops and says to restart."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("colab_install", ROOT / "colab" / "install.py")
install = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(install)


@pytest.fixture
def pip(monkeypatch):
    """A stand-in for pip: records each call's constraints; answers from `pip.results`; `pip.after` is what is
    installed once it succeeded."""
    class Pip:
        calls: list[dict[str, str]] = []
        results: list[int] = [0]
        after: dict[str, str] | None = None

    def run(command, **kwargs):
        constraints = Path(command[command.index("-c") + 1]).read_text().split()
        Pip.calls.append(dict(line.split("==") for line in constraints))
        return subprocess.CompletedProcess(command, Pip.results.pop(0))

    before = {"numpy": "2.1.3", "ipython": "7.34.0", "psutil": "5.9.5", "httpx": "0.28.1", "pip": "24.1.2"}
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(install, "installed", lambda: dict(before) if not Pip.calls or Pip.after is None
                        else dict(Pip.after))
    monkeypatch.setattr(install, "loaded", lambda: {"numpy", "ipython", "psutil"})
    monkeypatch.setattr(sys, "path", list(sys.path))
    return Pip


def test_pip_may_only_add_packages_but_psutil(pip, capsys):
    pip.after = {"numpy": "2.1.3", "ipython": "7.34.0", "psutil": "5.9.5", "httpx": "0.28.1", "codecarbon": "3.3.2"}
    install.install(ROOT)
    assert pip.calls == [{"numpy": "2.1.3", "ipython": "7.34.0", "httpx": "0.28.1"}]  # not psutil, not pip
    assert sys.path[0] == str(ROOT) and "no package this kernel had loaded changed" in capsys.readouterr().out


def test_a_changed_package_in_memory_stops_the_cell_with_what_to_do(pip):
    pip.after = {"numpy": "2.1.3", "ipython": "7.34.0", "psutil": "7.2.2", "httpx": "0.28.1"}
    with pytest.raises(SystemExit, match="restart the session") as stop:
        install.install(ROOT)
    assert "psutil 5.9.5 → 7.2.2 (codecarbon 3 needs psutil 6 or newer)" in str(stop.value)


def test_where_everything_cannot_stay_only_what_the_kernel_loaded_is_kept(pip):
    pip.results, pip.after = [1, 0], {"numpy": "2.1.3", "ipython": "7.34.0", "psutil": "5.9.5", "httpx": "0.27.2"}
    install.install(ROOT)
    assert pip.calls[1] == {"numpy": "2.1.3", "ipython": "7.34.0"}  # httpx may move: the kernel has not loaded it


def test_when_pip_cannot_keep_the_kernels_packages_it_says_so(pip):
    pip.results = [1, 1]
    with pytest.raises(SystemExit, match="without changing a package this kernel has loaded"):
        install.install(ROOT)


def test_loaded_names_the_distributions_this_process_imported():
    import numpy  # noqa: F401

    assert {"numpy", "pytest"} <= install.loaded()
    assert install.canonical("Jupyter_Client") == "jupyter-client"
