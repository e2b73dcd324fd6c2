"""`greenlab.doctor()`: what this machine offers the course, in one printout; `setup()`: what every notebook's
setup cell runs (seeds, the versions in use and whether the test run used them, a warning for a GPU profile
without a GPU)."""

from __future__ import annotations

import platform
import re
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

import torch

from greenlab.foundations import settings
from greenlab.measurement.counters import energy_counters, energy_sensor
from greenlab.measurement.uncertainty import describe

PACKAGES = ("torch", "transformers", "tokenizers", "datasets", "codecarbon", "safetensors", "ipywidgets")
CONSTRAINTS = settings.ROOT / "constraints.txt"  # every package but torch, at the newest version the test run used
COLAB = settings.ROOT / "colab" / "requirements.txt"  # Colab's versions (googlecolab/backend-info), CI's Colab leg
# The sets CI tests (.ci/run): {name: (Python, torch, what overrides constraints.txt)}. Colab's leg installs Colab's
# versions, then the setup cell adds the packages Colab lacks at their newest (constraints.txt's) and upgrades
# COLAB_UPGRADES to their newest too (colab/install.py's UPGRADES: psutil, for codecarbon).
TESTED_SETS = {"the newest versions": ("3.11", "2.13.0", None), "Colab's versions": ("3.13", "2.11.0", COLAB)}
COLAB_UPGRADES = ("psutil",)
TESTED_PYTHONS = tuple(sorted({python for python, _, _ in TESTED_SETS.values()}))
TESTED_TORCH = tuple(sorted({torch for _, torch, _ in TESTED_SETS.values()}))
REFERENCE_CPU_SECONDS = 136  # training the cpu reference model, measured on the course machine's 2 cores


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def read_pins(path: Path) -> dict[str, str]:
    """{name: version} of a pin file (name==version lines; torch aside), names as pip compares them."""
    if not path.exists():
        return {}
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)$", path.read_text(), re.MULTILINE)
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pins if name != "torch"}


def tested_versions(tested_set: str = "the newest versions") -> dict[str, str]:
    """The version of each package in one of the sets the test run used ({name: version}; torch aside)."""
    pins, colab = read_pins(CONSTRAINTS), TESTED_SETS[tested_set][2]
    if colab is not None:
        pins.update({name: version for name, version in read_pins(colab).items() if name not in COLAB_UPGRADES})
    return pins


def _untested_in(tested_set: str) -> dict[str, str]:
    python_tested, torch_tested, _ = TESTED_SETS[tested_set]
    found = {}
    if ".".join(platform.python_version_tuple()[:2]) != python_tested:
        found["python"] = f"{platform.python_version()} (tested: {python_tested})"
    if torch.__version__.split("+")[0] != torch_tested:
        found["torch"] = f"{torch.__version__} (tested: {torch_tested})"
    for package, tested in tested_versions(tested_set).items():
        here = _version(package)
        if here not in (tested, "not installed"):  # a pin for another Python may be absent here
            found[package] = f"{here} (tested: {tested})"
    return found


def closest_tested_set() -> tuple[str, dict[str, str]]:
    """The tested set these versions are closest to, and what differs from it: {name: "this version (tested:
    that one)"}, empty when Python, torch and every pinned package are as that set has them."""
    differences = {name: _untested_in(name) for name in TESTED_SETS}
    name = min(differences, key=lambda name: len(differences[name]))
    return name, differences[name]


def untested_versions() -> dict[str, str]:
    """What differs from the closest tested set (`closest_tested_set`); empty when everything is as tested."""
    return closest_tested_set()[1]


def _listing(untested: dict[str, str], most: int = 6) -> str:
    shown = [f"{name} {what}" for name, what in list(untested.items())[:most]]
    more = f"; and {len(untested) - most} more (greenlab doctor lists them)" if len(untested) > most else ""
    return "; ".join(shown) + more


def versions_line() -> str:
    """One line: Python, torch and the course's packages in use, and whether they are the tested ones."""
    here = [f"Python {platform.python_version()}"] + [f"{p} {_version(p)}" for p in PACKAGES]
    tested_set, untested = closest_tested_set()
    verdict = (f"all as tested ({tested_set})" if not untested
               else f"not the tested version ({tested_set} are the closest): " + _listing(untested))
    return f"{' · '.join(here)} — {verdict}"


def gpu_profile_warning() -> str | None:
    """A warning when GREENLAB_PROFILE=gpu but PyTorch sees no GPU: how long the CPU would take instead."""
    if settings.profile() != "gpu" or torch.cuda.is_available():
        return None
    from greenlab.training.zoo import RECIPES

    reference = RECIPES["reference"]
    ratio = reference["gpu"].training_flops() / reference["cpu"].training_flops()
    return (f"GREENLAB_PROFILE=gpu, but PyTorch sees no GPU here: the gpu-size experiments would run on the CPU. "
            f"The gpu reference model alone is {ratio:,.0f}× the training FLOPs of the cpu one, which takes about "
            f"{REFERENCE_CPU_SECONDS / 60:.0f} minutes on 2 cores: about {ratio * REFERENCE_CPU_SECONDS / 3600:,.0f} "
            f"hours on 2 cores. Unset GREENLAB_PROFILE (or set it to cpu), or choose a GPU runtime.")


def setup(seed: int = 0) -> None:
    """Every notebook's setup: seed Python, NumPy and PyTorch, print the versions in use, warn about the profile."""
    settings.seed_everything(seed)
    print(versions_line())
    warning = gpu_profile_warning()
    if warning:
        warnings.warn(warning, stacklevel=2)


def _fact(compute: Callable[[], str]) -> str:
    """A fact, or the error that a bad setting raises while computing it (the other facts still print)."""
    try:
        return compute()
    except (ValueError, OSError) as error:
        return f"ERROR: {error}"


def machine_facts() -> dict[str, str]:
    """The facts `doctor()` prints, as a dict; a bad setting shows as "ERROR: ..." beside its fact."""
    facts = {"python": platform.python_version(), "platform": platform.platform()}
    facts.update({package: _version(package) for package in PACKAGES})
    tested_set, untested = closest_tested_set()
    facts["tested versions"] = (f"yes: Python, torch and every package are as the test run used them ({tested_set})"
                                if not untested else f"no ({tested_set} are the closest): "
                                + _listing(untested, most=len(untested)))
    facts["device"] = _fact(lambda: str(settings.device()))
    facts["cuda available"] = str(torch.cuda.is_available())
    facts["CPU threads used by torch"] = str(torch.get_num_threads())
    facts["profile"] = _fact(lambda: settings.profile() + (f" — {warning}" if (warning := gpu_profile_warning())
                                                            else ""))
    try:
        facts.update(energy_counters())
    except (ValueError, OSError) as error:
        facts["energy counters"] = f"ERROR: {error}"
    facts["energy"] = _fact(energy_sensor)
    facts["energy range"] = ("unknown: the energy sensor could not be probed" if facts["energy"].startswith("ERROR")
                             else describe(facts["energy"]))
    facts["grid (country)"] = _fact(settings.country)
    facts["offline"] = _fact(lambda: str(settings.is_offline()))
    facts["cache folder"] = _fact(lambda: str(settings.cache_dir()))
    return facts


def doctor(facts: dict[str, str] | None = None) -> None:
    """Print versions, device, energy sensor, offline status and cache folder: `machine_facts()`, or the facts
    given."""
    facts = machine_facts() if facts is None else facts
    width = max(map(len, facts))
    for name, value in facts.items():
        print(f"{name:>{width}}  {value}")
