"""Rewrite colab/requirements.txt from the package list Google publishes for Colab's runtime.

Google lists every package of Colab's runtime in the public repository googlecolab/backend-info (pip-freeze.txt).
The course keeps only what it and a Jupyter kernel need, with what those need in turn, at Colab's versions: pip
resolves the course's dependencies and the kernel's packages against Colab's whole list and keeps the packages
Colab ships. CI installs this set before the setup cell's own install (.ci/colab), as a learner's Colab has it.

    python3.13 colab/refresh.py pip-freeze.txt --commit SHA --date YYYY-MM-DD   # Python 3.13: Colab's
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from install import TOOLS, UPGRADES, canonical  # colab/install.py: what the setup cell keeps and lets through

HERE = Path(__file__).resolve().parent
KERNEL = ("ipykernel", "ipython", "ipywidgets", "jupyter_client", "traitlets")  # what a notebook's kernel runs on
# torch's own requirements (its metadata; pip cannot resolve the registry's torch against Colab's list, whose torch is
# another build), so that torch finds Colab's versions of them too
TORCH_NEEDS = ("filelock", "typing-extensions", "setuptools", "sympy", "networkx", "jinja2", "fsspec")


def colab_pins(freeze: str) -> dict[str, str]:
    """{name: version} from a pip freeze; torch's line is a link to PyTorch's CPU build, read as its release."""
    pins = dict(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_.\-]*)==(\S+)$", freeze, re.M))
    for name, release in re.findall(r"^(torch) @ \S+/torch-([0-9.]+)%2B", freeze, re.M):
        pins[name] = release
    return {canonical(name): version for name, version in pins.items()}


def course_needs(pins: dict[str, str]) -> list[str]:
    """What the course's dependencies and the kernel's packages need of Colab's packages, as pip resolves them
    against Colab's versions (but for those the setup cell lets pip upgrade)."""
    project = tomllib.loads((HERE.parent / "pyproject.toml").read_text())["project"]
    roots = [re.match(r"[A-Za-z0-9_.\-]+", spec).group() for spec in project["dependencies"]] + list(KERNEL)
    roots = [root for root in roots if root != "torch"] + list(TORCH_NEEDS)  # torch: installed first, on its own
    with tempfile.TemporaryDirectory() as folder:
        constraints, report = Path(folder) / "colab.txt", Path(folder) / "report.json"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()
                                       if name not in TOOLS | UPGRADES.keys()))
        subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                        "--report", str(report), "-c", str(constraints), *roots], check=True)
        resolved = [canonical(item["metadata"]["name"]) for item in json.loads(report.read_text())["install"]]
    return sorted(name for name in resolved if name in pins)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("freeze", type=Path, help="googlecolab/backend-info's pip-freeze.txt")
    parser.add_argument("--commit", required=True, help="the commit of googlecolab/backend-info it comes from")
    parser.add_argument("--date", required=True, help="that commit's date")
    args = parser.parse_args()
    pins = colab_pins(args.freeze.read_text())
    header = [f"# Colab's package set: googlecolab/backend-info, pip-freeze.txt at commit {args.commit} "
              f"({args.date}),",
              "# Python 3.13. Only what the course and a Jupyter kernel need, and what those need, at Colab's versions.",
              "# Colab's torch is PyTorch's CPU build of this release; CI installs the registry's build of it first.",
              "# Made by colab/refresh.py; CI's Colab leg (.ci/colab) installs it before the setup cell runs."]
    lines = [f"{name}=={pins[name]}" for name in ["pip", "torch", *course_needs(pins)]]
    (HERE / "requirements.txt").write_text("\n".join(header + lines) + "\n")
    print(f"colab/requirements.txt: {len(lines)} packages")


if __name__ == "__main__":
    main()
