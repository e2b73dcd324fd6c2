"""The green ledger: one row for every measured run of the course, kept in a CSV file in the cache folder.

`greenlab.measurement.energy.measure` appends to it; notebooks show it as a table. Every Python process (one notebook
kernel, one script) is a *session*, so a notebook can show just what it measured itself:

    ledger.table(this_session=True)

A row may also describe a model's inference: its `model` name, the `tokens` it generated in the measured block
and its quality in `bits_per_char`; `ledger.models()` gathers those for a quality-against-energy comparison.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from filelock import FileLock

from greenlab.foundations.settings import cache_dir, replaced_whole
from greenlab.measurement import uncertainty

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


def _check_is_file(path: Path) -> None:
    """Refuse a ledger (or its lock) that is a folder with an error that says what to do, not a bare errno."""
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file, so the green ledger cannot use it: move it away, "
                                f"or set GREENLAB_CACHE to another folder")


def _lock(path: Path) -> FileLock:
    """The lock file beside the ledger, held while the ledger is read or changed, so that processes at once (two
    notebooks, a test run) never write a second header, and a reader never upgrades a file that a writer appends to.
    Every public function passes here, so a ledger or lock that is a folder is always the same clear error."""
    lock = path.with_name(f"{path.name}.lock")
    for file in (path, lock):
        _check_is_file(file)
    return FileLock(lock)


def _read(path: Path) -> tuple[list[str] | None, list[str], list[int]]:
    """The header (None when the first line is not the ledger's, new or old), the good rows as lines and the numbers
    of the bad lines (`record` writes a row as one line). A bad line costs only itself, a damaged header too: the
    rows below it are read with the ledger's columns."""
    header, rows, bad = None, [], []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:  # "-sig": a spreadsheet that saved a hand edit begins the file with a byte order mark
            line = raw.decode("utf-8-sig").rstrip("\r")
            fields = next(csv.reader([line], strict=True), [])
        except (UnicodeDecodeError, csv.Error):
            line, fields = "", None
        columns = header or COLUMNS
        if number == 1 and fields in (COLUMNS, RUN_COLUMNS):
            header = fields
        elif fields == [] or fields == columns:  # a blank line; a header among the rows, which `load` reports
            rows += [line] if fields else []
        elif fields is None or not len(RUN_COLUMNS) <= len(fields) <= len(columns) \
                or not all(_is_number(value) for value, column in zip(fields, columns) if column in NUMERIC):
            bad.append(number)
        else:
            rows.append(line)
    return header, rows, bad


def _is_number(value: str) -> bool:
    try:
        float(value or "nan")
    except ValueError:
        return False
    return True


def _set_aside(path: Path, why: str) -> None:
    """Rename a file that is not a ledger (kept for inspection) so that a new one begins, with a warning."""
    backup = path.with_name(f"{path.name}.corrupt-{datetime.now():%Y%m%d%H%M%S%f}")
    path.rename(backup)
    warnings.warn(f"the green ledger {path} was unreadable ({why}); it was moved to {backup} and a new one started")


def _warn_of_bad_lines(path: Path, bad: list[int]) -> None:
    if bad:
        shown = ", ".join(map(str, bad[:10])) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        warnings.warn(f"the green ledger {path} has {len(bad)} unreadable line(s), skipped: line {shown} (a hand "
                      f"edit, or a row cut short by a full disk?); every other row is read")


def _upgrade_if_old(path: Path) -> None:
    """Keep a ledger, add the model columns to one written before they existed, set aside a file that is not one:
    no known header and not one row, so that setting it aside never hides a good row."""
    if not path.exists() or path.stat().st_size == 0:
        return
    header, rows, bad = _read(path)
    if header == RUN_COLUMNS:
        _warn_of_bad_lines(path, bad)
        with replaced_whole(path) as partial:  # a crash leaves the old ledger or the new one, never half
            partial.write_text("\n".join([",".join(COLUMNS), *rows, ""]), encoding="utf-8")  # short rows read blank
    elif header is None and not rows:
        _set_aside(path, "not a ledger: its first line is not the ledger's header and no line is a row")


def _ends_a_line(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def _one_line(value: object) -> object:
    return " ".join(value.splitlines()) if isinstance(value, str) else value


def _append(path: Path, text: str) -> None:
    """Add `text` at the end of the file whole or not at all: after a failed or short write (a full disk) the file is
    cut back, so no half row is left for the next row to join. The OSError is raised for the caller to report."""
    data = text.encode("utf-8")
    # O_BINARY (Windows only) keeps "\n" as written
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    try:
        before = os.fstat(fd).st_size
        try:
            written = os.write(fd, data)
            if written < len(data):
                raise OSError(errno.ENOSPC, f"the disk took {written} of the row's {len(data)} bytes (is it full?); "
                                            f"the row was not written", str(path))
        except OSError:
            os.ftruncate(fd, before)
            raise
    finally:
        os.close(fd)


def record(row: dict) -> None:
    """Append one run (a dict with the ledger's columns; `session` is filled in) to the ledger as one line, whole or
    not at all, under the ledger's lock; a line a crash left unfinished costs only itself. An unwritable ledger
    raises an OSError naming it: `energy.measure` turns it into a warning and keeps the measurement."""
    path = ledger_path()
    lock = _lock(path)
    # a ledger in a folder this process cannot write (a shared, read-only cache) is read without the lock, which it
    # could not create: nothing here can change that ledger, and no writer of ours can race this read
    with lock if os.access(path.parent, os.W_OK) else contextlib.nullcontext():
        _upgrade_if_old(path)
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        if not path.exists() or path.stat().st_size == 0:
            writer.writeheader()
        elif not _ends_a_line(path):
            text.write("\n")
        writer.writerow({key: _one_line(value) for key, value in {**row, "session": SESSION}.items()})
        _append(path, text.getvalue())


def load() -> pd.DataFrame:
    """Every recorded run as a DataFrame (empty when nothing was recorded yet). Lines that are not rows are skipped
    with a warning that gives their numbers; header lines among the rows (two ledgers joined) too."""
    path = ledger_path()
    lock = _lock(path)
    # a ledger in a folder this process cannot write (a shared, read-only cache) is read without the lock, which it
    # could not create: nothing here can change that ledger, and no writer of ours can race this read
    with lock if os.access(path.parent, os.W_OK) else contextlib.nullcontext():
        _upgrade_if_old(path)
        if not path.exists() or path.stat().st_size == 0:
            return pd.DataFrame(columns=COLUMNS)
        _, rows, bad = _read(path)
    header = ",".join(COLUMNS)
    repeated = sum(row == header for row in rows)
    if repeated:
        warnings.warn(f"the green ledger {path} repeats its header on {repeated} line(s) (two ledgers joined into "
                      f"one file?); those lines are skipped")
    _warn_of_bad_lines(path, bad)
    runs = pd.read_csv(io.StringIO("\n".join([header, *(row for row in rows if row != header)])))
    return runs.assign(**{column: pd.to_numeric(runs[column], errors="coerce") for column in NUMERIC})


def with_energy_parts(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with their static energy (the RAM model's, charged for time alone) and dynamic energy (CPU + GPU,
    which follows the work) in joules, as `energy.Measurement` splits them."""
    return runs.assign(static_j=runs["ram_kwh"] * JOULES_PER_KWH,
                       dynamic_j=(runs["cpu_kwh"] + runs["gpu_kwh"].fillna(0)) * JOULES_PER_KWH)


def energy_range(run: object) -> str:
    """A ledger row's total energy as the range the true energy lies in, given how it was obtained ("20–45")."""
    parts = {"CPU": run.cpu_kwh * JOULES_PER_KWH, "RAM": run.ram_kwh * JOULES_PER_KWH,
             "GPU": run.gpu_kwh * JOULES_PER_KWH}
    if not (isinstance(run.method, str) and run.energy_j > 0):
        return ""
    low, high = uncertainty.Reading.of_parts(run.energy_j, parts, run.method, run.duration_s).range_j()
    return f"{low:.3g}–{high:.3g}"


def table(this_session: bool = False, last: int | None = None) -> pd.DataFrame:
    """A readable table of the ledger: time, energy (J) and the range it lies in, CO2eq (g), GFLOP and the method,
    one row a run."""
    runs = load()
    if this_session:
        runs = runs[runs["session"] == SESSION]
    if last is not None:
        runs = runs.tail(last)
    runs = with_energy_parts(runs)
    shown = runs[list(SHOWN)].copy()
    shown.insert(list(SHOWN).index("energy_j") + 1, "range (J)", [energy_range(run) for run in runs.itertuples()])
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
