"""Install the course into the Python that runs this notebook, as every notebook's setup cell does where greenlab is
missing (Colab), without changing a package this Python already has, above all one its kernel has loaded.

Upgrading a package under a running kernel breaks it: the kernel keeps the old modules in memory and later imports
read the new files (pandas 3 against the numpy 2.1 in memory fails in every cell), and after a restart Colab's own
kernel needs the IPython it ships. So pip is given every installed version as a constraint and may only add
packages. One package is let through, because the course cannot run without a newer one: psutil (codecarbon 3
needs psutil 6 or newer, Colab ships 5.9.5, and codecarbon 2 needs an httpx older than Colab's). The kernel has
loaded psutil (ipykernel imports it at start), so when it changes the cell stops and says to restart the session;
run again, the cell finds greenlab installed and goes on.

The setup cell runs this file in its kernel (runpy), so that it sees which modules the kernel has loaded.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import subprocess
import sys
import tempfile
from pathlib import Path

UPGRADES = {"psutil": "codecarbon 3 needs psutil 6 or newer"}  # the only packages pip may change
TOOLS = {"pip", "setuptools", "wheel"}  # the build tools pip brings into its own build environment


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """{distribution: version} of everything installed in this Python."""
    return {canonical(dist.metadata["Name"]): dist.version for dist in importlib.metadata.distributions()}


def loaded() -> set[str]:
    """The distributions whose modules this process has imported."""
    owners = importlib.metadata.packages_distributions()
    top_level = {name.partition(".")[0] for name in list(sys.modules)}
    return {canonical(dist) for name in top_level for dist in owners.get(name, [])}


def pip_install(repo: Path, keep: dict[str, str]) -> bool:
    """pip install -e repo, with every version in `keep` as a constraint; True when it succeeded."""
    with tempfile.TemporaryDirectory() as folder:
        constraints = Path(folder) / "constraints.txt"
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in keep.items()))
        command = [sys.executable, "-m", "pip", "install", "-q", "-e", str(repo), "-c", str(constraints)]
        return subprocess.run(command).returncode == 0


def install(repo: Path) -> None:
    """Install the course from its clone `repo`; stop with what to do when the kernel must restart."""
    before, in_memory = installed(), loaded()
    keep_all = {name: version for name, version in before.items() if name not in TOOLS | set(UPGRADES)}
    keep_loaded = {name: version for name, version in keep_all.items() if name in in_memory}
    if not (pip_install(repo, keep_all) or pip_install(repo, keep_loaded)):
        raise SystemExit("pip could not install greenlab without changing a package this kernel has loaded "
                         "(its message is above). Install the course in an environment of its own: README, "
                         "'Two commands'.")
    sys.path.insert(0, str(repo.resolve()))  # this session; a new one finds the editable install
    importlib.invalidate_caches()
    after = installed()
    changed = {name: f"{before[name]} → {after.get(name)}" for name in sorted(in_memory & before.keys())
               if after.get(name) != before[name]}
    if changed:
        why = "; ".join(f"{name} {versions} ({UPGRADES.get(name, 'a dependency of the course')})"
                        for name, versions in changed.items())
        raise SystemExit(f"greenlab is installed. Now restart the session (Colab: Runtime → Restart session; "
                         f"Jupyter: Kernel → Restart), then run this cell again: it will not install again. pip "
                         f"changed a package this kernel had already loaded: {why}.")
    print(f"greenlab installed from {repo}; no package this kernel had loaded changed")


if __name__ == "__main__":
    install(Path(__file__).resolve().parent.parent)
