"""Running generated code against its unit tests, away from the notebook: a subprocess with limits.

    result = run_candidate("def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5")
    result.outcome, result.passed, result.detail   # 'passed', True, ''

Executing code that a model wrote is unsafe: it can loop forever, fill the disk, delete files or reach the
network, by accident or because its training data taught it to. The course never runs it in its own process.
Each candidate runs in a fresh Python (`-I -B`: no user site-packages, no environment variables, no bytecode
written) in an empty temporary folder that is deleted afterwards, with

- a wall-clock timeout: the whole process group is killed when it passes (a loop ends as "timeout");
- operating-system limits (Linux and macOS): CPU seconds, memory, and files of at most 0 bytes;
- an audit hook (PEP 578) installed before the candidate runs, which refuses sockets, new processes and opening
  files for writing, and marks the run "blocked" even if the candidate catches the refusal.

This is a seatbelt, not a security boundary: Python's documentation warns that audit hooks cannot stop code that
sets out to evade them. Untrusted code at scale belongs in a container or virtual machine with no network
(the Codex paper ran HumanEval in gVisor). The outcomes: "passed", "failed" (an assertion of the tests),
"error" (any other exception, or the program exiting by itself), "timeout" and "blocked".
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from greenlab.foundations.settings import check_number

OUTCOMES = ("passed", "failed", "error", "timeout", "blocked")

# The child's program. It reads the candidate and its tests from stdin, then refuses what a candidate must not do.
_CHILD = r'''
import json, os, sys
job = json.loads(sys.stdin.read())
blocked = []

def refuse(event, args):
    write = event == "open" and (any(c in str(args[1] or "") for c in "wax+") or (args[2] or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
    if write or event.startswith(("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork",
                                  "os.spawn", "os.kill", "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod",
                                  "os.truncate", "os.link", "os.symlink", "shutil.", "ctypes.")):
        blocked.append(f"{event} {args[0]!r}" if args and isinstance(args[0], (str, bytes)) else event)
        raise PermissionError(f"the sandbox refuses {event}")

sys.addaudithook(refuse)
outcome, detail = "passed", ""
try:
    namespace = {"__name__": "__candidate__"}
    exec(compile(job["program"], "<candidate>", "exec"), namespace)
    exec(compile(job["tests"], "<tests>", "exec"), namespace)
except AssertionError as error:
    outcome, detail = "failed", f"AssertionError: {error}".rstrip(": ")
except SystemExit as error:
    outcome, detail = "error", f"the program exited by itself (SystemExit {error.code!r})"
except BaseException as error:
    outcome, detail = "error", f"{type(error).__name__}: {error}"
if blocked:
    outcome, detail = "blocked", blocked[0]
sys.__stdout__.write("\n" + job["nonce"] + " " + json.dumps([outcome, detail]) + "\n")
'''


@dataclass(frozen=True)
class RunResult:
    """How a candidate program fared against its tests."""

    outcome: str  # one of OUTCOMES
    detail: str  # the error, the refused operation, or "" when passed
    seconds: float

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def _limit_resources(cpu_seconds: int, memory_mb: int) -> None:
    """In the child, before it starts: CPU time, address space and file size limits, where the OS has them."""
    try:
        import resource
    except ImportError:  # Windows: the timeout alone
        return
    for limit, value in ((resource.RLIMIT_CPU, cpu_seconds), (resource.RLIMIT_AS, memory_mb * 2**20),
                         (resource.RLIMIT_FSIZE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):  # a limit this OS does not enforce (macOS: RLIMIT_AS)
            pass


def run_candidate(program: str, tests: str, timeout_s: float = 5.0, memory_mb: int = 512) -> RunResult:
    """Run `program`, then `tests` (plain `assert` statements), in a sandboxed subprocess (see the module's
    docstring); the result says whether the tests passed and, if not, why."""
    for name, value in (("program", program), ("tests", tests)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be Python source as a string, got {type(value).__name__}")
    if not tests.strip():
        raise ValueError("tests must hold at least one statement: a program with no tests cannot pass or fail")
    check_number("timeout_s", timeout_s, above=0, at_most=600, why="seconds")
    nonce = secrets.token_hex(8)
    job = json.dumps({"program": program, "tests": tests, "nonce": nonce})
    cpu_seconds = max(1, int(timeout_s) + 1)
    with tempfile.TemporaryDirectory(prefix="greenlab-sandbox-") as folder:
        start = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=folder, env={"PATH": os.defpath}, text=True, start_new_session=True,
            preexec_fn=(lambda: _limit_resources(cpu_seconds, memory_mb)) if os.name == "posix" else None)
        try:
            stdout, stderr = process.communicate(job, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            return RunResult("timeout", f"still running after {timeout_s:g} s", time.perf_counter() - start)
        seconds = time.perf_counter() - start
        left_behind = sorted(p.name for p in Path(folder).iterdir())
    if left_behind:
        return RunResult("blocked", f"the program left files behind: {', '.join(left_behind)}", seconds)
    for line in reversed(stdout.splitlines()):
        if line.startswith(nonce + " "):
            outcome, detail = json.loads(line[len(nonce) + 1:])
            return RunResult(outcome, detail, seconds)
    last = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit status {process.returncode}"
    if process.returncode is not None and process.returncode < 0:
        last = f"killed by signal {signal.Signals(-process.returncode).name} (a limit on CPU time, memory or files)"
    return RunResult("error", f"the program ended the sandbox before the tests finished: {last}", seconds)


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the process and every process it started (they share its session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        process.kill()
