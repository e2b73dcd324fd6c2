"""Running generated code against its unit tests, confined by the operating system: a child process the kernel fences.

    result = run_candidate("def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5")
    result.outcome, result.passed, result.detail   # 'passed', True, ''

Code a model wrote can loop forever, fill the disk, delete files or reach the network, so the course never runs it
in its own process. Each candidate runs in a fresh, isolated Python in an empty temporary folder, under the kernel's
filter (`greenlab.foundations.confinement`: a program, a process, a socket or a change to a file ends the run as
"blocked"), kernel limits on CPU time, memory, open files and file size, a wall-clock timeout, and a bounded buffer
for what it prints (`OUTPUT_LIMIT` per stream). Outcomes: "passed", "failed" (a test's assertion), "error" (any other
exception, exiting by itself, a limit), "timeout" and "blocked".

**Threat model.** A candidate, cooperative or hostile, cannot harm the machine, reach the network, touch another
process, leave anything behind or exhaust the caller's memory or time; it can read what its user can read. Its
verdict travels on a pipe of its own and the tests compare plain data only, so printing a fake result, patching
`json` or `builtins`, exiting early or returning an object whose `__eq__` is always true does not make it "passed".
A program written to forge its verdict from inside its own process (the verdict pipe, ctypes) still can: pass@k
counts cooperative programs, as HumanEval's harness does.

Where the kernel cannot confine the child (macOS, Windows, no seccomp), `run_candidate` refuses with
`SandboxUnavailable` unless `allow_unconfined=True`: then only the limits, the timeout and an audit hook (a
seatbelt that a determined program removes in one line) stand between the program and the machine.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from greenlab.foundations.confinement import OUTPUT_LIMIT, confinement_problem, kill_group, limit_resources
from greenlab.foundations.validation import check_number, check_whole

OUTCOMES = ("passed", "failed", "error", "timeout", "blocked")
MEMORY_MB_MINIMUM = 64  # a Python interpreter needs about 30 MB of address space to start
_VERDICT_LIMIT = 2**16

# The child's program. It reads the job on stdin, confines itself, then runs the candidate and its tests.
_CHILD = r'''
import json, operator, os, signal, sys
write, encode, plain_types, all_, type_ = os.write, str.encode, {int, float, complex, str, bytes, bool,
    type(None), list, tuple, dict, set, frozenset, range}, all, type  # kept before the candidate can patch them
AssertionError_, SystemExit_, BaseException_, SIGSYS, raise_signal = (AssertionError, SystemExit, BaseException,
    signal.SIGSYS, signal.raise_signal)
job = json.loads(sys.stdin.read())
verdict_fd, marker, confined = job["verdict_fd"], job["marker"].encode(), job["confined"]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
NAMED = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.link",
         "os.symlink", "os.utime", "os.setxattr", "os.removexattr", "os.system", "os.exec", "os.posix_spawn",
         "os.fork", "os.forkpty", "os.spawn", "os.kill", "os.killpg", "socket.", "subprocess.Popen", "shutil.")

def name_the_refusal(event, args):
    """Say on stderr what is about to be refused, so the blocked run can name it. Without the kernel's filter,
    also end the process as the filter would (a seatbelt: Python code can remove this hook)."""
    opens_for_writing = event == "open" and (any(c in str(args[1] or "") for c in "wax+")
                                             or (args[2] or 0) & WRITE_FLAGS)
    if opens_for_writing or event.startswith(NAMED):
        what = f"{event} {args[0]!r}" if args and isinstance(args[0], (str, bytes)) else event
        write(2, marker + encode(what, "utf-8", "replace") + b"\n")
        if not confined:
            raise_signal(SIGSYS)

def plain(value):
    kind = type_(value)
    if kind in (list, tuple, set, frozenset):
        return all_(plain(item) for item in value)
    if kind is dict:
        return all_(plain(key) and plain(item) for key, item in value.items())
    return kind in plain_types

OPERATORS = {"Eq": operator.eq, "NotEq": operator.ne, "Lt": operator.lt, "LtE": operator.le, "Gt": operator.gt,
             "GtE": operator.ge, "Is": operator.is_, "IsNot": operator.is_not,
             "In": lambda a, b: operator.contains(b, a), "NotIn": lambda a, b: not operator.contains(b, a)}

def compare(names, *values):
    """The tests' comparisons, on plain data only: an object of the program's own cannot decide them."""
    for value in values:
        if not plain(value):
            raise AssertionError_(f"a test compared a {type_(value).__name__}, which is not plain data")
    return all_(OPERATORS[name](values[i], values[i + 1]) for i, name in enumerate(names))

def verdict(outcome, detail):
    write(verdict_fd, encode(outcome + "\n" + detail, "utf-8", "replace"))

if confined:
    from greenlab.foundations.confinement import confine
    confine()
sys.addaudithook(name_the_refusal)
try:
    namespace = {"__name__": "__candidate__"}
    exec(compile(job["program"], "<candidate>", "exec"), namespace)
    namespace["__sandbox_compare__"] = compare
    exec(compile(job["tests"], "<tests>", "exec"), namespace)
    verdict("passed", "")
except AssertionError_ as error:
    verdict("failed", f"AssertionError: {error}".rstrip(": "))
except SystemExit_ as error:
    verdict("error", f"the program exited by itself (SystemExit {error.code!r})")
except BaseException_ as error:
    verdict("error", f"{type_(error).__name__}: {error}")
'''


class SandboxUnavailable(RuntimeError):
    """This machine cannot confine a program with the kernel, and the caller did not opt in to run it anyway."""


@dataclass(frozen=True)
class RunResult:
    """How a candidate program fared against its tests."""

    outcome: str  # one of OUTCOMES
    detail: str  # the error, the refused operation, or "" when passed
    seconds: float
    output: str = ""  # what the program printed (stdout), cut at OUTPUT_LIMIT
    confined: bool = True  # False only when the caller allowed an unconfined run

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


def sandbox_problem() -> str | None:
    """None when `run_candidate` can confine programs here; else why not (notebooks skip the runs and say so)."""
    return confinement_problem()


def run_candidate(program: str, tests: str, timeout_s: float = 5.0, memory_mb: int = 512,
                  allow_unconfined: bool = False) -> RunResult:
    """Run `program`, then `tests` (plain `assert` statements), confined in a child process (see the module's
    docstring); the result says whether the tests passed and, if not, why."""
    for name, value in (("program", program), ("tests", tests)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be Python source as a string, got {type(value).__name__}")
    if not tests.strip():
        raise ValueError("tests must hold at least one statement: a program with no tests cannot pass or fail")
    check_number("timeout_s", timeout_s, above=0, at_most=600, why="seconds")
    check_whole("memory_mb", memory_mb, MEMORY_MB_MINIMUM, 2**20, why="megabytes of address space")
    problem = confinement_problem()
    if problem and not allow_unconfined:
        raise SandboxUnavailable(f"generated code runs only where the kernel can confine it, and here it cannot: "
                                 f"{problem}. To run it anyway, with limits and a timeout but no confinement, "
                                 f"pass allow_unconfined=True, on a machine that holds nothing you would miss")
    marker = f"greenlab-sandbox-{secrets.token_hex(8)} refusing "
    verdict_read, verdict_write = os.pipe()
    job = {"program": program, "tests": _plain_comparisons(tests), "verdict_fd": verdict_write, "marker": marker,
           "confined": problem is None}
    cpu_seconds = max(1, int(timeout_s) + 1)
    with tempfile.TemporaryDirectory(prefix="greenlab-sandbox-") as folder:
        start = time.perf_counter()
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, cwd=folder, env={"PATH": os.defpath}, start_new_session=True,
                pass_fds=(verdict_write,), preexec_fn=lambda: limit_resources(cpu_seconds, memory_mb))
        finally:
            os.close(verdict_write)
        with open(verdict_read, "rb", buffering=0) as verdict_pipe:
            kept = _read_bounded(process, json.dumps(job).encode(), verdict_pipe, timeout_s)
        seconds = time.perf_counter() - start
        if kept is None:
            return RunResult("timeout", f"still running after {timeout_s:g} s", seconds, confined=problem is None)
    stdout, stderr, verdict = (text for text, _ in kept)
    result = _verdict(process.returncode, verdict, stderr, marker)
    return RunResult(*result, seconds, stdout + _cut_note(kept[0][1]), problem is None)


def _plain_comparisons(tests: str) -> str:
    """The tests with every comparison routed through the child's `compare`, which accepts plain data only."""
    class Route(ast.NodeTransformer):
        def visit_Compare(self, node: ast.Compare) -> ast.AST:
            self.generic_visit(node)
            names = ast.Tuple([ast.Constant(type(op).__name__) for op in node.ops], ast.Load())
            return ast.Call(ast.Name("__sandbox_compare__", ast.Load()), [names, node.left, *node.comparators], [])
    try:
        tree = ast.parse(tests, "<tests>")
    except SyntaxError as error:
        raise ValueError(f"tests must be valid Python: {error}") from None
    return ast.unparse(ast.fix_missing_locations(Route().visit(tree)))


def _read_bounded(process: subprocess.Popen, job: bytes, verdict_pipe, timeout_s: float
                  ) -> list[tuple[str, int]] | None:
    """Send the job, then read stdout, stderr and the verdict until the child ends, keeping at most a bounded
    prefix of each: (text, bytes dropped) per stream, or None at the timeout (the child's group is killed)."""
    deadline = time.monotonic() + timeout_s
    try:
        process.stdin.write(job)
        process.stdin.close()
    except BrokenPipeError:  # the child died before reading it: its exit status says why
        pass
    streams = [process.stdout, process.stderr, verdict_pipe]
    limits = [OUTPUT_LIMIT, OUTPUT_LIMIT, _VERDICT_LIMIT]
    kept, dropped = [bytearray() for _ in streams], [0 for _ in streams]
    with selectors.DefaultSelector() as selector, process.stdout, process.stderr:
        for index, stream in enumerate(streams):
            selector.register(stream, selectors.EVENT_READ, index)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return _killed(process)
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                room = max(0, limits[key.data] - len(kept[key.data]))
                kept[key.data] += chunk[:room]
                dropped[key.data] += len(chunk) - len(chunk[:room])
    try:
        process.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return _killed(process)
    return [(bytes(text).decode("utf-8", "replace"), lost) for text, lost in zip(kept, dropped)]


def _killed(process: subprocess.Popen) -> None:
    """Kill the child and its process group, and reap it."""
    if not kill_group(process.pid):
        process.kill()
    process.wait()
    return None


def _verdict(returncode: int, verdict: str, stderr: str, marker: str) -> tuple[str, str]:
    """(outcome, detail) from the child's exit status, its verdict pipe and, for a blocked run, its last word."""
    if returncode == -signal.SIGSYS:
        named = [line[len(marker):] for line in stderr.splitlines() if line.startswith(marker)]
        return "blocked", named[-1] if named else ("a system call the sandbox forbids (a new process, a socket, "
                                                   "a signal to another process or a change to a file)")
    outcome, _, detail = verdict.partition("\n")
    if outcome in OUTCOMES and returncode == 0:
        return outcome, detail
    if returncode is not None and returncode < 0:
        last = f"killed by signal {signal.Signals(-returncode).name} (a limit on CPU time, memory or files)"
    else:
        lines = [line for line in stderr.strip().splitlines() if not line.startswith(marker)]
        last = lines[-1] if lines else f"exit status {returncode}"
    return "error", f"the program ended the sandbox before the tests finished: {last}"


def _cut_note(dropped: int) -> str:
    return f"\n[output cut: {dropped:,} more bytes were printed; the sandbox keeps {OUTPUT_LIMIT:,}]" if dropped else ""
