"""The set-up files agree with each other, and README's two commands are what Makefile and CI run."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"torch": "pytorch"}


def _pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    parsed = {}
    for requirement in requirements:
        name, spec = re.match(r"([A-Za-z0-9_.\-]+)(.*)", requirement).groups()
        parsed[CONDA_NAMES.get(name.lower(), name.lower())] = spec.strip()
    return parsed


def _conda_requirements() -> dict[str, str]:
    parsed, in_pip = {}, False
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        if line.strip().startswith("- pip:"):
            in_pip = True
        match = re.match(r"\s+- ([A-Za-z0-9_.\-]+)(.*)$", line)
        if match and not in_pip and match.group(1) not in ("python", "pip"):
            parsed[match.group(1).lower()] = match.group(2).strip()
    return parsed


def test_environment_yml_lists_the_same_packages_as_pyproject():
    assert _conda_requirements() == _pip_requirements()


def test_readme_commands_are_what_make_and_ci_run():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "make lab" in readme and "make test" in readme
    assert re.search(r"^lab:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "--allow-root" in makefile  # the lab command works when run as root


def test_torch_is_installed_first_as_the_cpu_build():
    makefile = (ROOT / "Makefile").read_text()
    assert "TORCH  ?= torch==2.13.0" in makefile
    assert makefile.index('pip install -q "$(TORCH)"') < makefile.index('pip install -q -e ".[lab,test]"')


def test_no_pickled_checkpoints_anywhere():
    sources = list((ROOT / "greenlab").rglob("*.py")) + list(ROOT.glob("notebooks/*.ipynb")) + \
        list(ROOT.glob("labs/*.ipynb")) + list((ROOT / "benchmarks").glob("*.py"))
    for path in sources:
        for call in re.findall(r"torch\.load\([^)]*\)", path.read_text()):
            assert "weights_only=True" in call, f"{path}: {call}"
