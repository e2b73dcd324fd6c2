"""Test-wide setup for the unit tests and the notebooks: offline Hugging Face, a socket guard in notebook
kernels (tests/kernel_guard), claims about time and energy made strict (GREENLAB_STRICT_CLAIMS=1 unless set
otherwise, as `make test-busy` does; the claims that did not hold are listed at the end), and a table at the end of
the run with each notebook's runtime and the energy the whole machine drew while it ran (measured with
`greenlab.measurement.energy.measure(scope="machine")`, recorded in the green ledger as "notebook: NAME": the
course's own footprint)."""

import os
import tempfile
from contextlib import ExitStack
from pathlib import Path

import pytest

from greenlab.measurement import claims

ROOT = Path(__file__).resolve().parent
BUDGET_S = {"notebooks": 180, "labs": 60}  # a notebook's and a lab's runtime budget on 2 cores from a cold cache

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ.setdefault(claims.STRICT, "1")  # a claim about time or energy that does not hold fails the test
os.environ.setdefault(claims.LOG, str(Path(tempfile.mkdtemp(prefix="greenlab-claims-")) / "claims.log"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT / "tests" / "kernel_guard"), os.environ.get("PYTHONPATH")]))

_notebooks: dict[str, object] = {}  # path -> its Measurement (filled in when the notebook's last cell has run)
_open = {"path": None, "stack": ExitStack()}


def _close_notebook() -> None:
    _open["stack"].close()
    _open["path"] = None


def pytest_runtest_setup(item: pytest.Item) -> None:
    path = item.nodeid.split("::")[0]
    if path == _open["path"]:
        return
    _close_notebook()
    if path.endswith(".ipynb"):
        from greenlab.measurement.energy import measure

        _open["path"] = path
        _notebooks[path] = _open["stack"].enter_context(measure(f"notebook: {Path(path).name}", scope="machine"))


def pytest_sessionfinish() -> None:
    _close_notebook()


def pytest_terminal_summary(terminalreporter) -> None:
    _close_notebook()
    log = Path(os.environ[claims.LOG])
    if log.exists():
        verdict = "failures: strict claims" if claims.strict() else "warnings: claims not strict"
        terminalreporter.section(f"claims about time or energy that this run did not bear out ({verdict})")
        for line in log.read_text(encoding="utf-8").splitlines():
            terminalreporter.write_line(line)
    if not _notebooks:
        return
    terminalreporter.section("notebooks: runtime and energy (whole machine; static = RAM model, dynamic = CPU + GPU)")
    for path, m in _notebooks.items():
        budget = BUDGET_S.get(Path(path).parts[0], BUDGET_S["notebooks"])
        flag = f"  OVER THE {budget} s BUDGET" if m.duration_s > budget else ""
        terminalreporter.write_line(f"{m.duration_s:7.1f} s {m.energy_j:9.0f} J (static {m.static_j:7.0f} J, dynamic "
                                    f"{m.dynamic_j:7.0f} J) {m.co2eq_kg * 1000:7.3f} g CO2eq  {path}{flag}")
    measurements = list(_notebooks.values())
    seconds, joules = sum(m.duration_s for m in measurements), sum(m.energy_j for m in measurements)
    static, dynamic = sum(m.static_j for m in measurements), sum(m.dynamic_j for m in measurements)
    grams = sum(m.co2eq_kg for m in measurements) * 1000
    terminalreporter.write_line(f"{seconds:7.1f} s {joules:9.0f} J (static {static:7.0f} J, dynamic {dynamic:7.0f} J) "
                                f"{grams:7.3f} g CO2eq  all notebooks and labs "
                                f"({measurements[0].country}; {measurements[0].method})")
