"""Test-wide setup for the unit tests and the notebooks: offline Hugging Face, a socket guard in notebook
kernels (tests/kernel_guard), and a per-notebook runtime table at the end of the run."""

import os
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
NOTEBOOK_BUDGET_S = 180

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT / "tests" / "kernel_guard"), os.environ.get("PYTHONPATH")]))

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if not _notebook_seconds:
        return
    terminalreporter.section("notebook runtimes")
    for path, seconds in _notebook_seconds.items():
        flag = f"  OVER THE {NOTEBOOK_BUDGET_S} s BUDGET" if seconds > NOTEBOOK_BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:7.1f} s  {path}{flag}")
    terminalreporter.write_line(f"{sum(_notebook_seconds.values()):7.1f} s  all notebooks and labs")
