import errno
import os
import re
import subprocess
import sys
import warnings

import pytest

from greenlab.measurement import energy, ledger

HEADER = ",".join(ledger.COLUMNS).encode()


def _row(label, **extra):
    return {"label": label, "duration_s": 1.5, "energy_j": 10.0, "energy_kwh": 10 / 3.6e6, "cpu_kwh": 4 / 3.6e6,
            "ram_kwh": 6 / 3.6e6, "gpu_kwh": 0.0, "co2eq_kg": 1e-6, "flops": 2e9, "method": "CPU: estimated", "available": True, **extra}


def test_record_and_table(cache):
    ledger.record(_row("first"))
    ledger.record(_row("second"))
    table = ledger.table(this_session=True)
    assert table["run"].tolist() == ["first", "second"]
    assert table["GFLOP"].tolist() == [2.0, 2.0]
    assert table.loc[0, "CO2eq (g)"] == pytest.approx(1e-3)
    assert table.loc[0, "static (J)"] == pytest.approx(6) and table.loc[0, "dynamic (J)"] == pytest.approx(4)
    assert ledger.table(last=1)["run"].tolist() == ["second"]


def test_the_table_gives_each_runs_range_as_its_measurement_does(cache):
    method = "CPU: estimated (load × TDP 8 W); RAM: estimated (memory-size model)"
    row = _row("estimated", method=method, duration_s=4.0, country="USA")
    ledger.record(row)
    ledger.record(_row("no energy", method="CPU: estimated", energy_j=0.0, energy_kwh=0.0))
    low, high = energy.Measurement.from_row(row).energy_range_j
    assert ledger.table()["range (J)"].tolist() == [f"{low:.3g}–{high:.3g}", ""]
    assert list(ledger.table().columns[1:4]) == ["time (s)", "energy (J)", "range (J)"]


def test_other_sessions_are_filtered(cache):
    ledger.record(_row("mine"))
    with ledger.ledger_path().open("a") as f:
        f.write("2026-01-01,other-session,theirs,1,1,1,0,0,0,0,USA,0,0,x,True\n")
    assert ledger.table(this_session=True)["run"].tolist() == ["mine"]
    assert len(ledger.table()) == 2


def test_a_corrupt_ledger_is_set_aside_with_a_warning(cache):
    cache.mkdir(parents=True, exist_ok=True)
    ledger.ledger_path().write_bytes(b"\x00\xffnot a ledger\n")
    with pytest.warns(UserWarning, match="unreadable"):
        ledger.record(_row("after"))
    assert ledger.table()["run"].tolist() == ["after"]
    assert len(list(cache.glob("ledger.csv.corrupt-*"))) == 1


def test_empty_ledger(cache):
    assert ledger.table().empty


def test_a_ledger_from_before_the_model_columns_is_upgraded(cache):
    cache.mkdir(parents=True, exist_ok=True)
    ledger.ledger_path().write_text(",".join(ledger.RUN_COLUMNS) + "\n2026-01-01,s,old run,1,5,0,0,0,0,0,USA,0,0,x,True\n")
    ledger.record(_row("new"))
    assert ledger.table()["run"].tolist() == ["old run", "new"]
    assert not list(cache.glob("ledger.csv.corrupt-*"))


def test_an_unreadable_old_ledger_is_set_aside_not_a_crash(cache):
    cache.mkdir(parents=True, exist_ok=True)
    ledger.ledger_path().write_text(",".join(ledger.RUN_COLUMNS) + '\n"unclosed,quote\n')
    with pytest.warns(UserWarning, match="unreadable"):
        ledger.record(_row("after"))
    assert ledger.table()["run"].tolist() == ["after"]


def test_models_keep_the_latest_inference_row_of_each_model(cache):
    ledger.record(_row("training run"))
    ledger.record(_row("gen a", model="a", tokens=500, bits_per_char=2.0, energy_j=5.0))
    ledger.record(_row("gen b", model="b", tokens=1000, bits_per_char=1.5, energy_j=20.0))
    ledger.record(_row("gen a again", model="a", tokens=1000, bits_per_char=1.9, energy_j=4.0))
    models = ledger.models()
    assert models["model"].tolist() == ["b", "a"]
    assert models["joules_per_1k_tokens"].tolist() == [20.0, 4.0]
    assert models["dynamic_joules_per_1k_tokens"].tolist() == pytest.approx([4.0, 4.0])  # 4 J of CPU, 1000 tokens
    assert models["bits_per_char"].tolist() == [1.5, 1.9]


def _record_many(cache_folder: str, label: str, count: int, start) -> None:
    import os

    os.environ["GREENLAB_CACHE"] = cache_folder
    start.wait()  # every writer is imported and ready: they race for the first row
    for i in range(count):
        ledger.record(_row(f"{label} {i}"))


def test_writers_at_once_write_one_header(cache):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start = context.Barrier(3)
    writers = [context.Process(target=_record_many, args=(str(cache), name, 20, start)) for name in ("a", "b", "c")]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    lines = ledger.ledger_path().read_text().splitlines()
    assert lines.count(",".join(ledger.COLUMNS)) == 1 and len(lines) == 1 + 3 * 20
    assert len(ledger.table()) == 60


def test_a_ledger_with_a_repeated_header_stays_readable(cache):
    ledger.record(_row("first"))
    text = ledger.ledger_path().read_text()
    ledger.ledger_path().write_text(text + text)  # two ledgers joined: the header appears twice
    with pytest.warns(UserWarning, match="repeats its header on 1 line"):
        table = ledger.table()
    assert table["run"].tolist() == ["first", "first"] and table["time (s)"].tolist() == [1.5, 1.5]
    ledger.record(_row("second"))
    with pytest.warns(UserWarning, match="repeats its header"):
        assert ledger.table()["run"].tolist() == ["first", "first", "second"]


def test_a_bad_line_costs_only_itself_and_is_named_by_number(cache):
    for label in ("first", "second", "third"):
        ledger.record(_row(label))
    lines = ledger.ledger_path().read_bytes().split(b"\n")
    extra_field = lines[1] + b",one too many"
    lines[2:2] = [extra_field, b"\xff" + lines[1], b'"unclosed' + lines[1], lines[1].replace(b"1.5", b"slow")]
    ledger.ledger_path().write_bytes(b"\n".join(lines))
    with pytest.warns(UserWarning, match=r"4 unreadable line\(s\), skipped: line 3, 4, 5, 6"):
        assert ledger.table()["run"].tolist() == ["first", "second", "third"]
    assert not list(cache.glob("ledger.csv.corrupt-*"))


def test_a_row_cut_short_by_a_full_disk_costs_only_itself(cache):
    ledger.record(_row("kept"))
    ledger.record(_row("cut short"))
    text = ledger.ledger_path().read_text()
    ledger.ledger_path().write_text(text[:text.index("cut short") + 3])  # the disk filled up mid-row
    ledger.record(_row("after"))
    with pytest.warns(UserWarning, match=r"1 unreadable line\(s\), skipped: line 3"):
        assert ledger.table()["run"].tolist() == ["kept", "after"]


def test_a_label_with_line_breaks_stays_one_row(cache):
    ledger.record(_row("two\nlines"))
    ledger.record(_row("next"))
    assert ledger.table()["run"].tolist() == ["two lines", "next"]


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")  # the block is short on purpose
@pytest.mark.parametrize("name", ["ledger.csv", "ledger.csv.lock"])
def test_a_ledger_or_its_lock_that_is_a_folder_is_a_clear_error_and_the_measurement_is_kept(cache, name):
    (cache / name).mkdir(parents=True)
    clear = rf"{re.escape(str(cache / name))} is a folder, not a file.*GREENLAB_CACHE"
    for call in (ledger.table, ledger.models, ledger.load, lambda: ledger.record(_row("x"))):
        with pytest.raises(IsADirectoryError, match=clear):
            call()
    with pytest.warns(UserWarning, match=rf"'kept' is measured but not in the green ledger.*{clear}"):
        with energy.measure("kept") as m:
            sum(range(1000))
    assert m.duration_s >= 0


@pytest.mark.parametrize("damaged", [HEADER + b",one too many", b"\xff" + HEADER, b'"' + HEADER],
                         ids=["extra field", "0xFF byte", "unclosed quote"])
def test_a_damaged_header_costs_only_itself(cache, damaged):
    ledger.record(_row("first"))
    path = ledger.ledger_path()
    path.write_bytes(damaged + path.read_bytes()[len(HEADER):])
    ledger.record(_row("second"))
    with pytest.warns(UserWarning, match=rf"{re.escape(str(path))} has 1 unreadable line\(s\), skipped: line 1 "):
        assert ledger.table()["run"].tolist() == ["first", "second"]
    assert not list(cache.glob("ledger.csv.corrupt-*"))


def test_a_ledger_saved_by_a_spreadsheet_reads_as_before(cache):
    ledger.record(_row("first"))
    path = ledger.ledger_path()
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))  # a byte order mark, CRLF
    ledger.record(_row("second"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ledger.table()["run"].tolist() == ["first", "second"]


@pytest.mark.parametrize("full_disk", ["error", "short write"])
def test_a_row_the_disk_cannot_take_is_not_written_at_all(cache, monkeypatch, full_disk):
    ledger.record(_row("kept"))
    before = ledger.ledger_path().read_bytes()
    real_write = os.write

    def write_half(fd: int, data: bytes) -> int:
        """The disk fills up halfway through the row "lost"; every other write goes through."""
        if b"lost" not in data:
            return real_write(fd, data)
        written = real_write(fd, data[:len(data) // 2])
        if full_disk == "error":
            raise OSError(errno.ENOSPC, "No space left on device")
        return written

    with monkeypatch.context() as patched:
        patched.setattr(os, "write", write_half)
        with pytest.raises(OSError, match="No space left on device|is it full"):
            ledger.record(_row("lost"))
    assert ledger.ledger_path().read_bytes() == before
    ledger.record(_row("after"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ledger.table()["run"].tolist() == ["kept", "after"]


def test_a_ledger_in_a_read_only_folder_is_read_without_its_lock(cache, monkeypatch):
    ledger.record(_row("kept"))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK and real_access(path, mode))

    class LockOnAReadOnlyDisk:  # what FileLock does there: it is made, but cannot be taken
        def __init__(self, path):
            pass

        def __enter__(self):
            raise OSError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(ledger, "FileLock", LockOnAReadOnlyDisk)
    assert ledger.table()["run"].tolist() == ["kept"]



RUN_WITH_A_FULL_DISK = """
import resource, signal, sys, warnings
from greenlab.measurement import energy
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing us
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # no file may grow past `limit` bytes: a full disk
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    with energy.measure("while the disk was full") as m:
        sum(range(1000))
print(m.duration_s >= 0, [str(w.message) for w in caught if "ledger" in str(w.message)])
"""


@pytest.mark.filterwarnings("ignore:.*below the energy tracker's resolution")  # the blocks are short on purpose
def test_a_full_disk_that_takes_half_a_row_costs_a_warning_and_no_bytes(cache):
    """A real short write: the process may not grow any file by more than 40 bytes, so the disk takes part of the
    row, then refuses the rest (EFBIG, as ENOSPC would). The measurement is kept, the ledger is as it was."""
    with energy.measure("before the disk filled"):
        pass
    before = ledger.ledger_path().read_bytes()
    run = subprocess.run([sys.executable, "-c", RUN_WITH_A_FULL_DISK, str(len(before) + 40)],
                         capture_output=True, text=True, env={**os.environ, "GREENLAB_CACHE": str(cache)}, timeout=120)
    assert run.returncode == 0, run.stderr
    kept, warned = run.stdout.strip().split(" ", 1)
    assert kept == "True" and "not in the green ledger" in warned
    assert ledger.ledger_path().read_bytes() == before  # no half row left for the next one to join
    with energy.measure("after space came back"):
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no bad line anywhere
        assert ledger.table()["run"].tolist() == ["before the disk filled", "after space came back"]
