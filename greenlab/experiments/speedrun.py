"""A green speedrun: a learner's recipe trained from scratch, and what it cost to reach each quality target.

    result = speedrun("greener", targets=(2.0, 1.8))   # a course recipe, a recipe JSON file, or a Recipe
    print(result)                                      # one line per target, the final bits/char, how it was measured
    append_entry(result, "entries.csv", "ada")         # one row of a leaderboard CSV
    table = leaderboard(["ada.csv", "grace.csv"])      # a class's entries in one table
    pareto(table)                                      # marks the entries no other beats on energy and quality

A target is a number of bits per character on the course's validation text: lower is better, and it compares
across tokenizers. Energy, time and FLOPs to a target are counted from the start of training to the first
validation point that reached it. Times and energies compare only between runs on the same machine; FLOPs compare
everywhere.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd
import psutil
import torch
from matplotlib.figure import Figure

from greenlab.foundations.data import load_corpus
from greenlab.foundations.settings import device
from greenlab.foundations.validation import check_number
from greenlab.measurement.energy import format_energy, format_flops
from greenlab.training import zoo
from greenlab.training.recipes import RECIPES, Recipe, recipe
from greenlab.training.train import bits_per_character, text_bits_per_character

DEFAULT_TARGETS = (2.0, 1.8)  # bits per character; notebook 05 measured 1.85 for the reference, 1.77 for greener
RUN_COLUMNS = ["entry", "recipe", "fingerprint", "steps", "bits_per_char", "duration_s", "energy_j", "flops", "method",
               "machine", "torch", "python", "checksum"]
TARGET_COLUMNS = ("step_to_{}", "seconds_to_{}", "energy_j_to_{}", "flops_to_{}")  # per target, after RUN_COLUMNS
NUMERIC_COLUMNS = ("steps", "bits_per_char", "duration_s", "energy_j", "flops")


@dataclass(frozen=True)
class Target:
    """One quality target and what reaching it took: all None when the run never reached it."""

    bits_per_char: float
    step: int | None = None  # the first validation point at or below the target
    seconds: float | None = None  # since training began
    energy_j: float | None = None  # the run's energy prorated by time
    flops: int | None = None  # the run's FLOPs prorated by steps

    @property
    def reached(self) -> bool:
        return self.step is not None


@dataclass(frozen=True)
class SpeedrunResult:
    """A trained recipe's speedrun: each target's cost, the run's totals and final quality, and what it ran on."""

    recipe: Recipe
    targets: tuple[Target, ...]
    bits_per_char: float  # the whole validation text, measured exactly after training
    duration_s: float
    energy_j: float
    flops: int
    method: str  # how the energy was obtained (measured or estimated, and from what)
    machine: str
    torch: str
    python: str
    checksum: str  # SHA-256 of the trained model.safetensors

    def as_row(self) -> dict:
        """The result as one flat row of a leaderboard (every column but `entry`)."""
        row = {"recipe": self.recipe.name, "fingerprint": self.recipe.fingerprint(),
               "steps": self.recipe.training.steps, "bits_per_char": self.bits_per_char,
               "duration_s": self.duration_s, "energy_j": self.energy_j, "flops": self.flops, "method": self.method,
               "machine": self.machine, "torch": self.torch, "python": self.python, "checksum": self.checksum}
        for target in self.targets:
            values = (target.step, target.seconds, target.energy_j, target.flops)
            row.update({column.format(_label(target.bits_per_char)): value
                        for column, value in zip(TARGET_COLUMNS, values)})
        return row

    def __str__(self) -> str:
        lines = [f"speedrun of {self.recipe.name!r} ({self.recipe.fingerprint()}): {self.recipe.training.steps} "
                 f"steps, {self.duration_s:.1f} s, {_joules(self.energy_j)}, {format_flops(self.flops)} "
                 f"[{self.method}]"]
        for t in self.targets:
            lines.append(f"  {t.bits_per_char:g} bits/char: reached at step {t.step}, after {t.seconds:.1f} s, "
                         f"{_joules(t.energy_j)}, {format_flops(t.flops)}" if t.reached else
                         f"  {t.bits_per_char:g} bits/char: not reached in {self.recipe.training.steps} steps")
        lines += [f"final: {self.bits_per_char:.3f} bits/char on the whole validation text; model SHA-256 "
                  f"{self.checksum[:16]}…",
                  "A target is checked at each validation point on the evaluation batches' estimate, scaled to "
                  "end at the final figure. Energy and "
                  "FLOPs to a target are the run's totals prorated (energy by time, FLOPs by steps): the tracker "
                  "reads the energy once per run. Entries from different machines compare in FLOPs; times and "
                  f"energy only on the same machine (this one: {self.machine})."]
        return "\n".join(lines)


def _joules(energy_j: float) -> str:
    return "energy unavailable" if math.isnan(energy_j) else format_energy(energy_j)


def _label(target: float) -> str:
    """A target as its columns name it: the float's shortest exact form (2 and 2.0 are both "2.0")."""
    return repr(float(target))


def _labels(targets: Iterable[float]) -> str:
    return ", ".join(map(_label, targets))


def checked_targets(targets: Iterable[float]) -> tuple[float, ...]:
    """The targets as floats; a ValueError naming the value unless each is a finite number above zero, once."""
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Iterable):
        raise ValueError(f"targets must be a list of numbers of bits per character, got {targets!r}")
    checked = tuple(float(check_number("a target", t, above=0, why="bits per character")) for t in targets)
    if not checked:
        raise ValueError("targets must hold at least one number of bits per character, got none")
    if len(set(checked)) < len(checked):
        raise ValueError(f"targets must differ from each other, got {list(targets)!r}")
    return checked


def resolve_recipe(value: Recipe | str | Path | Callable[[], Recipe]) -> Recipe:
    """The recipe a speedrun trains: a Recipe, a course recipe's name ("reference", "greener", ...), a JSON file (a
    recipe's `dataclasses.asdict` form, or a whole trained recipe.json), or a function that returns a Recipe."""
    if isinstance(value, Recipe):
        return value
    if isinstance(value, str) and value in RECIPES:
        return recipe(value)
    if isinstance(value, (str, Path)):
        path = Path(value)
        if not path.is_file():
            raise ValueError(f"unknown recipe {str(value)!r}: neither one of the course's ({', '.join(RECIPES)}) "
                             f"nor a JSON file")
        try:
            return Recipe.from_file(path)
        except ValueError as error:
            raise ValueError(f"recipe file {error}") from None
    if callable(value):
        made = value()
        if not isinstance(made, Recipe):
            raise TypeError(f"the recipe function {value!r} returned a {type(made).__name__}, not a Recipe")
        return made
    raise TypeError(f"recipe must be a Recipe, a name, a JSON file or a function, got {type(value).__name__}")


def machine() -> str:
    """This machine in one line: the CPU's model and logical cores, and the GPU where training runs on one."""
    described = f"{_cpu_model()}, {psutil.cpu_count()} logical cores"
    if device().type == "cuda":
        described += f", {torch.cuda.get_device_name(device())}"
    return described


def _cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def speedrun(recipe: Recipe | str | Path | Callable[[], Recipe], targets: Iterable[float] = DEFAULT_TARGETS,
             folder: str | Path | None = None, *, progress: bool = True) -> SpeedrunResult:
    """Train the recipe from scratch (`zoo.train_recipe`) into `folder` (a temporary one, removed after, when None)
    and say what reaching each target (bits per character) cost.

    A target is reached at the first validation point whose estimate is at or below it: the evaluation batches'
    loss, val_loss / ln 2 × validation tokens / validation characters, scaled so that the last point's estimate is
    the final bits/char, measured exactly on the whole validation text (the batches are a sample of the text, read
    with shorter contexts on average, so their estimate is off by a few hundredths either way; the scale assumes
    that the gap keeps its proportion through training). The energy to a target is the run's prorated by time, its
    FLOPs by steps: the tracker reads the energy once per run. Bad targets or recipes are refused before training."""
    chosen, checked = resolve_recipe(recipe), checked_targets(targets)
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="greenlab-speedrun-") as scratch:
            return _run(chosen, checked, Path(scratch), progress)
    return _run(chosen, checked, Path(folder), progress)


def _run(r: Recipe, targets: tuple[float, ...], folder: Path, progress: bool) -> SpeedrunResult:
    trained = zoo.train_recipe(r, folder, progress=progress)
    history, run = trained.history, trained.history["measurement"]
    corpus = load_corpus(r.corpus)
    validation_ids = torch.tensor(trained.tokenizer.encode(corpus.validation_text), dtype=torch.long)
    final = text_bits_per_character(trained.model, validation_ids, len(corpus.validation_text), r.model.block_size)
    return SpeedrunResult(
        r, tuple(_cost_to(target, history, r.training.steps, final) for target in targets), final,
        duration_s=run["duration_s"], energy_j=run["energy_j"], flops=run["flops"], method=run["method"],
        machine=machine(), torch=torch.__version__, python=platform.python_version(),
        checksum=hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest())


def _cost_to(target: float, history: dict, steps: int, final: float) -> Target:
    """What the run of `history` had spent at its first validation point at or below `target`, each point's
    estimate scaled so that the last one is `final`, the whole text's bits/char."""
    run = history["measurement"]
    estimates = [bits_per_character(point["val_loss"], history["validation_tokens"], history["validation_characters"])
                 for point in history["validation"]]
    for point, estimate in zip(history["validation"], estimates):
        if estimate * final / estimates[-1] <= target:
            share_of_time = min(1.0, point["elapsed_s"] / run["duration_s"])
            return Target(target, point["step"], point["elapsed_s"], run["energy_j"] * share_of_time,
                          round(run["flops"] * point["step"] / steps))
    return Target(target)


# --- the leaderboard: one CSV row per entry, a class's files gathered into one table --------------------------

def leaderboard_columns(targets: Iterable[float]) -> list[str]:
    """A leaderboard's header for these targets: the run's columns, then four per target."""
    return RUN_COLUMNS + [column.format(_label(t)) for t in checked_targets(targets) for column in TARGET_COLUMNS]


def _targets_of(header: list[str], path: Path) -> tuple[float, ...]:
    """The targets a leaderboard's header names; a ValueError naming the file when it is not a leaderboard's."""
    steps_to = [column.removeprefix("step_to_") for column in header[len(RUN_COLUMNS)::len(TARGET_COLUMNS)]]
    try:
        targets = tuple(float(label) for label in steps_to)
        if header == leaderboard_columns(targets):
            return targets
    except ValueError:
        pass
    raise ValueError(f"{path} is not a speedrun leaderboard: its first line is {','.join(header)[:120]!r}, where a "
                     f"leaderboard's begins {','.join(RUN_COLUMNS[:4])}")


def _header(path: Path) -> list[str] | None:
    """The first line of a CSV file as its columns; None for an empty file."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        return next(csv.reader(f), None)


def check_entry(path: str | Path, name: str, targets: Iterable[float]) -> None:
    """A ValueError naming the problem unless an entry `name` for `targets` can be appended to the CSV `path`: a
    non-empty one-line name, and a file that is absent, empty, or a leaderboard of the same targets."""
    if not isinstance(name, str) or not name.strip() or len(name.splitlines()) != 1:
        raise ValueError(f"an entry's name must be a non-empty line of text, got {name!r}")
    path, checked = Path(path), checked_targets(targets)
    if not path.exists() or path.stat().st_size == 0:
        return
    existing = _targets_of(_header(path) or [], path)
    if existing != checked:
        raise ValueError(f"{path} is a leaderboard of the targets {_labels(existing)}, not of {_labels(checked)}: "
                         f"append this entry to another file")


def append_entry(result: SpeedrunResult, path: str | Path, name: str) -> None:
    """Append the result as one row named `name` to the leaderboard CSV `path`, created with its header when absent;
    a file of another header is refused (`check_entry`), never mixed."""
    targets = [t.bits_per_char for t in result.targets]
    check_entry(path, name, targets)
    path = Path(path)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=leaderboard_columns(targets), lineterminator="\n")
    if not path.exists() or path.stat().st_size == 0:
        writer.writeheader()
    elif not path.read_bytes().endswith(b"\n"):  # a hand edit that left the last line open
        text.write("\n")
    writer.writerow({"entry": name, **result.as_row()})
    with path.open("a", encoding="utf-8", newline="") as f:
        f.write(text.getvalue())


def _read_leaderboard(path: Path) -> tuple[tuple[float, ...], pd.DataFrame]:
    """A leaderboard file's targets and entries; a ValueError naming the file when it is not one."""
    if not path.is_file():
        raise FileNotFoundError(f"no leaderboard file {path}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        header, *rows = [row for row in csv.reader(f) if row] or [[]]
    targets = _targets_of(header, path)
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise ValueError(f"{path} is not a readable leaderboard: an entry has {len(row)} values where its header "
                             f"has {len(header)} columns (row {number})")
    table = pd.DataFrame(rows, columns=header)
    for column in [*NUMERIC_COLUMNS, *header[len(RUN_COLUMNS):]]:
        try:
            table[column] = pd.to_numeric(table[column].replace("", math.nan))
        except ValueError as error:  # a hand-edited number
            raise ValueError(f"{path} is not a readable leaderboard: {column}: {error}") from None
    return targets, table


def leaderboard(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Every entry of the leaderboard CSVs `paths` (a class's files) in one table, in their order; a file that is
    missing, is not a leaderboard, or holds other targets than the first is refused by name."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no leaderboard files to gather")
    tables, first = [], None
    for path in paths:
        targets, table = _read_leaderboard(path)
        first = first or (path, targets)
        if targets != first[1]:
            raise ValueError(f"{path} holds the targets {_labels(targets)} but {first[0]} holds "
                             f"{_labels(first[1])}: gather leaderboards of the same targets")
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def hardest_target_energy(table: pd.DataFrame) -> str:
    """The column of the energy to the lowest target of a leaderboard table: a speedrun's headline."""
    targets = [float(c.removeprefix("energy_j_to_")) for c in table.columns if c.startswith("energy_j_to_")]
    if not targets:
        raise ValueError(f"not a leaderboard table: no energy_j_to_<target> column among {list(table.columns)}")
    return f"energy_j_to_{_label(min(targets))}"


def pareto(table: pd.DataFrame, x: str | None = None, y: str = "bits_per_char") -> pd.DataFrame:
    """The table with a column `pareto`: True for each entry that no other beats on both `x` and `y` (lower is
    better on both; by default the energy to the hardest target and the final bits/char). An entry without a
    value in either (a target it never reached) is never on the front."""
    x = hardest_target_energy(table) if x is None else x
    for column in (x, y):
        if column not in table.columns:
            raise ValueError(f"no column {column!r} in the table; it has {', '.join(table.columns)}")
    marked = table.copy()
    points = list(zip(table[x], table[y]))
    marked["pareto"] = [not (math.isnan(px) or math.isnan(py)) and
                        not any(qx <= px and qy <= py and (qx, qy) != (px, py) for qx, qy in points)
                        for px, py in points]
    return marked


def plot_leaderboard(table: pd.DataFrame, x: str | None = None, y: str = "bits_per_char") -> Figure:
    """One point per entry, `y` against `x` (as in `pareto`), named; the Pareto front joined by a dashed line."""
    marked = pareto(table, x, y)
    x = hardest_target_energy(table) if x is None else x
    shown = marked.dropna(subset=[x, y]).sort_values(x)
    fig = Figure(figsize=(6.8, 4.0))
    ax = fig.add_subplot()
    ax.scatter(shown[x], shown[y], color="#2a8f4a", zorder=3)
    for _, row in shown.iterrows():
        ax.annotate(str(row["entry"]), (row[x], row[y]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    front = shown[shown["pareto"]]
    ax.plot(front[x], front[y], "--", color="grey", lw=1, label="Pareto front")
    ax.legend(fontsize=8)
    ax.set_xlabel(f"{x} (lower is better)")
    ax.set_ylabel(f"{y} (lower is better)")
    ax.set_title(f"Speedrun leaderboard: {len(shown)} of {len(table)} entries have both values", fontsize=10)
    fig.tight_layout()
    return fig
