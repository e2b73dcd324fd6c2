"""Peak memory of a block of code on the CPU, from the operating system's own high-water mark.

PyTorch keeps no allocation statistics for the CPU, so we ask Linux: reset the process's peak resident memory
(VmHWM), run the block, and read how far the peak rose. That is exact only when freed memory goes back to the
system, which glibc does not do by default: `peak_memory_in_subprocess` measures in a fresh Python whose allocator
does. Other systems have no such counter: there the functions return None.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")
MMAP_THRESHOLD = 1 << 16  # bytes: allocations above this are mapped one by one, so freeing them shrinks the process


def _status_mib(field: str) -> float:
    return int(re.search(rf"{field}:\s+(\d+) kB", _STATUS.read_text()).group(1)) / 1024


def can_measure() -> bool:
    """True on Linux, where the peak resident memory of the process can be reset and read."""
    return _STATUS.exists() and os.access(_CLEAR, os.W_OK)


def peak_memory_mib(fn: Callable[[], object]) -> float | None:
    """MiB that `fn()` needed at its peak, beyond what the process held before; None where it cannot be read."""
    if not can_measure():
        return None
    _CLEAR.write_text("5")  # peak := current
    before = _status_mib("VmRSS")
    fn()
    return _status_mib("VmHWM") - before


def peak_memory_in_subprocess(module: str, function: str, arguments: dict) -> object:
    """Run `module.function(**arguments)` in a fresh Python whose large allocations return to the system at once,
    and give back its JSON-able result (e.g. peak memories measured there with `peak_memory_mib`)."""
    code = (f"import json, sys; from {module} import {function}; "
            f"print(json.dumps({function}(**json.loads(sys.argv[1]))))")
    environment = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD)}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(arguments)], capture_output=True, text=True,
                          env=environment, check=False)
    if done.returncode:
        raise RuntimeError(f"the memory measurement failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
