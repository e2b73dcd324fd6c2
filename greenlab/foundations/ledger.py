"""The green ledger: one row for every measured run of the course, kept in a CSV file in the cache folder.

`greenlab.foundations.energy.measure` appends to it; notebooks show it as a table. Every Python process (one notebook
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
from filelock import FileLock

from greenlab.foundations.settings import cache_dir

JOULES_PER_KWH = 3.6e6
SESSION = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{os.getpid()}"

RUN_COLUMNS = ["timestamp", "session", "label", "duration_s", "energy_j", "energy_kwh", "cpu_kwh", "ram_kwh",
               "gpu_kwh", "co2eq_kg", "country", "grid_gco2_per_kwh", "flops", "method", "available"]
MODEL_COLUMNS = ["model", "tokens", "bits_per_char"]
COLUMNS = RUN_COLUMNS + MODEL_COLUMNS
NUMERIC = ["duration_s", "energy_j", "energy_kwh", "cpu_kwh", "ram_kwh", "gpu_kwh", "co2eq_kg", "grid_gco2_per_kwh",
           "flops", "tokens", "bits_per_char"]

SHOWN = {"label": "run", "duration_s": "time (s)", "energy_j": "energy (J)", "static_j": "static (J)",
         "dynamic_j": "dynamic (J)", "co2eq_kg": "CO2eq (g)", "flops": "GFLOP", "method": "how energy was obtained"}


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
    """Append one run (a dict with the ledger's columns; `session` is filled in) to the ledger. A lock file makes
    each append whole, so processes that write at once (two notebooks, a test run) never write a second header."""
    path = ledger_path()
    with FileLock(path.with_name(f"{path.name}.lock")):
        _set_aside_if_corrupt(path)
        is_new = not path.exists() or path.stat().st_size == 0
        with path.open("a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            if is_new:
                writer.writeheader()
            writer.writerow({**row, "session": SESSION})


def _without_repeated_headers(runs: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The runs without header lines found among the rows (two ledgers joined into one file), numbers as numbers."""
    repeated = runs["timestamp"] == "timestamp"
    if repeated.any():
        warnings.warn(f"the green ledger {path} repeats its header on {int(repeated.sum())} line(s) (two ledgers "
                      f"joined into one file?); those lines are skipped")
        runs = runs[~repeated].reset_index(drop=True)
    return runs.assign(**{column: pd.to_numeric(runs[column], errors="coerce") for column in NUMERIC})


def load() -> pd.DataFrame:
    """Every recorded run as a DataFrame (empty when nothing was recorded yet)."""
    path = ledger_path()
    if not path.exists():
        return pd.DataFrame(columns=COLUMNS)
    try:
        _set_aside_if_corrupt(path)
        return _without_repeated_headers(pd.read_csv(path), path) if path.exists() else pd.DataFrame(columns=COLUMNS)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        _set_aside(path, str(error))
        return pd.DataFrame(columns=COLUMNS)


def with_energy_parts(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with their static energy (the RAM model's, charged for time alone) and dynamic energy (CPU + GPU,
    which follows the work) in joules, as `energy.Measurement` splits them."""
    return runs.assign(static_j=runs["ram_kwh"] * JOULES_PER_KWH,
                       dynamic_j=(runs["cpu_kwh"] + runs["gpu_kwh"].fillna(0)) * JOULES_PER_KWH)


def table(this_session: bool = False, last: int | None = None) -> pd.DataFrame:
    """A readable table of the ledger: time, energy (J), CO2eq (g), GFLOP and the method, one row a run."""
    runs = load()
    if this_session:
        runs = runs[runs["session"] == SESSION]
    if last is not None:
        runs = runs.tail(last)
    shown = with_energy_parts(runs)[list(SHOWN)]
    shown["co2eq_kg"] = shown["co2eq_kg"] * 1000
    shown["flops"] = shown["flops"] / 1e9
    return shown.rename(columns=SHOWN).reset_index(drop=True)


def models() -> pd.DataFrame:
    """The latest inference measurement of each model: bits per character, and joules per 1,000 tokens in all and
    in the dynamic part alone (the part that follows the work)."""
    runs = with_energy_parts(load().dropna(subset=["model", "tokens"]))
    runs = runs[runs["tokens"] > 0].drop_duplicates("model", keep="last")
    runs = runs.assign(joules_per_1k_tokens=runs["energy_j"] / runs["tokens"] * 1000,
                       dynamic_joules_per_1k_tokens=runs["dynamic_j"] / runs["tokens"] * 1000)
    return runs[["model", "bits_per_char", "joules_per_1k_tokens", "dynamic_joules_per_1k_tokens",
                 "method"]].reset_index(drop=True)
