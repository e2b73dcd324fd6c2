"""The green ledger: one row for every measured run of the course, kept in a CSV file in the cache folder.

`greenlab.energy.measure` appends to it; notebooks show it as a table. Every Python process (one notebook
kernel, one script) is a *session*, so a notebook can show just what it measured itself:

    ledger.table(this_session=True)

A row may also describe a model's inference: its `model` name, the `tokens` it generated in the measured block
and its quality in `bits_per_char`; `ledger.models()` gathers those for a quality-against-energy comparison.
"""

from __future__ import annotations

import csv
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from greenlab.settings import cache_dir

SESSION = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{os.getpid()}"

RUN_COLUMNS = ["timestamp", "session", "label", "duration_s", "energy_j", "energy_kwh", "cpu_kwh", "ram_kwh",
               "gpu_kwh", "co2eq_kg", "country", "grid_gco2_per_kwh", "flops", "method", "available"]
MODEL_COLUMNS = ["model", "tokens", "bits_per_char"]
COLUMNS = RUN_COLUMNS + MODEL_COLUMNS

SHOWN = {"label": "run", "duration_s": "time (s)", "energy_j": "energy (J)", "co2eq_kg": "CO2eq (g)",
         "flops": "GFLOP", "method": "how energy was obtained"}


def ledger_path() -> Path:
    """The ledger's CSV file in the cache folder."""
    return cache_dir() / "ledger.csv"


def _header(path: Path) -> list[str] | None:
    with path.open(newline="", encoding="utf-8", errors="replace") as f:
        return next(csv.reader(f), None)


def _set_aside(path: Path, why: str) -> None:
    """Rename an unreadable ledger (kept for inspection) so that a new one begins, with a warning."""
    backup = path.with_name(f"{path.name}.corrupt-{datetime.now():%Y%m%d%H%M%S%f}")
    path.rename(backup)
    warnings.warn(f"the green ledger {path} was unreadable ({why}); it was moved to {backup} and a new one started")


def _set_aside_if_corrupt(path: Path) -> None:
    """Keep a valid ledger, add the model columns to one written before they existed, set anything else aside."""
    if not path.exists():
        return
    header = _header(path)
    if header == RUN_COLUMNS:
        try:
            upgraded = pd.read_csv(path).reindex(columns=COLUMNS)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            _set_aside(path, str(error))
            return
        temporary = path.with_name(f"{path.name}.upgrading")
        upgraded.to_csv(temporary, index=False)
        os.replace(temporary, path)  # all at once: a crash leaves the old ledger or the new one, never half
    elif header != COLUMNS:
        _set_aside(path, "not a ledger")


def record(row: dict) -> None:
    """Append one run (a dict with the ledger's columns; `session` is filled in) to the ledger."""
    path = ledger_path()
    _set_aside_if_corrupt(path)
    is_new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        if is_new:
            writer.writeheader()
        writer.writerow({**row, "session": SESSION})


def load() -> pd.DataFrame:
    """Every recorded run as a DataFrame (empty when nothing was recorded yet)."""
    path = ledger_path()
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    try:
        _set_aside_if_corrupt(path)
        return pd.read_csv(path) if path.exists() else pd.DataFrame(columns=COLUMNS)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        _set_aside(path, str(error))
        return pd.DataFrame(columns=COLUMNS)


def table(this_session: bool = False, last: int | None = None) -> pd.DataFrame:
    """A readable table of the ledger: time, energy (J), CO2eq (g), GFLOP and the method, one row a run."""
    runs = load()
    if this_session:
        runs = runs[runs["session"] == SESSION]
    if last is not None:
        runs = runs.tail(last)
    shown = runs[list(SHOWN)].copy()
    shown["co2eq_kg"] = shown["co2eq_kg"] * 1000
    shown["flops"] = shown["flops"] / 1e9
    return shown.rename(columns=SHOWN).reset_index(drop=True)


def models() -> pd.DataFrame:
    """The latest inference measurement of each model: bits per character and joules per 1,000 tokens."""
    runs = load().dropna(subset=["model", "tokens"])
    runs = runs[runs["tokens"] > 0].drop_duplicates("model", keep="last")
    runs = runs.assign(joules_per_1k_tokens=runs["energy_j"] / runs["tokens"] * 1000)
    return runs[["model", "bits_per_char", "joules_per_1k_tokens", "method"]].reset_index(drop=True)
