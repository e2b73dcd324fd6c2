import builtins
import os
import sys
import tracemalloc

import pytest

from greenlab.applications import sandbox
from greenlab.applications.sandbox import OUTCOMES, OUTPUT_LIMIT, SandboxUnavailable, run_candidate

ADD = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's filter is Linux's")


@pytest.mark.parametrize("program, outcome, detail", [
    (ADD, "passed", ""),
    ("def add(a, b):\n    return a - b\n", "failed", "AssertionError"),
    ("def add(a, b):\n    return a + c\n", "error", "NameError: name 'c' is not defined"),
    ("def add(a, b)\n    return a + b\n", "error", "SyntaxError"),
    ("import sys\nsys.exit(0)\n" + ADD, "error", "exited by itself"),
    ("import os\nos._exit(0)\n", "error", "ended the sandbox before the tests finished"),
    ("x = bytearray(2**31)\n" + ADD, "error", "MemoryError"),
    ("files = [open(__import__('os').devnull) for _ in range(100)]\n" + ADD, "error", "Too many open files"),
    ("import threading\nt = threading.Thread(target=print)\nt.start()\nt.join()\n" + ADD, "passed", ""),  # threads
])
def test_each_outcome_is_named_with_its_reason(program, outcome, detail):
    result = run_candidate(program, TESTS)
    assert result.outcome == outcome and result.passed is (outcome == "passed")
    assert detail in result.detail and outcome in OUTCOMES


def test_a_loop_that_never_ends_is_stopped_at_the_timeout():
    result = run_candidate("def add(a, b):\n    while True:\n        pass\n", TESTS, timeout_s=1)
    assert result.outcome == "timeout" and 1 <= result.seconds < 10
    assert "still running after 1 s" in result.detail


@pytest.fixture
def victim(tmp_path):
    """A file and a folder outside the sandbox's folder, which no candidate may change."""
    path = tmp_path / "victim.txt"
    path.write_text("precious")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    (tmp_path / "folder").mkdir()
    before = sorted((p.name, p.stat().st_mtime, p.stat().st_mode) for p in tmp_path.iterdir())
    yield path
    assert path.read_text() == "precious"
    assert sorted((p.name, p.stat().st_mtime, p.stat().st_mode) for p in tmp_path.iterdir()) == before
    assert not os.listxattr(path)


LIBC = "import ctypes\nlibc = ctypes.CDLL(None)\n"
# Each attack names its target {victim} (a file outside the sandbox's folder) or {folder} (its folder).
ATTACKS = {
    "files": [
        "open({victim!r}, 'w').write('x')",
        "try:\n    open({victim!r}, 'a')\nexcept OSError:\n    pass",  # caught: still blocked, the kernel ended it
        "import os\nos.open({victim!r}, os.O_RDONLY | os.O_TRUNC)",  # truncates without asking to write
        "import os\nos.open({folder!r} + '/new', os.O_CREAT | os.O_WRONLY)",
        "import os\nos.remove({victim!r})",
        "import os\nos.rename({victim!r}, {victim!r} + '.moved')",
        "import os\nos.link({victim!r}, {folder!r} + '/hard')",
        "import os\nos.symlink({victim!r}, {folder!r} + '/soft')",
        "import os\nos.chmod({victim!r}, 0o777)",
        "import os\nos.chown({victim!r}, os.getuid(), os.getgid())",
        "import os\nos.utime({victim!r}, (0, 0))",
        "import os\nos.truncate({victim!r}, 0)",
        "import os\nos.mkdir({folder!r} + '/sub')",
        "import os\nos.rmdir({folder!r})",
        "import os\nos.mkfifo({folder!r} + '/fifo')",
        "import os, stat\nos.mknod({folder!r} + '/node', stat.S_IFREG | 0o600)",
        "import os\nos.setxattr({victim!r}, 'user.mark', b'1')",
        "import shutil\nshutil.rmtree({folder!r})",
        LIBC + "libc.unlink({victim!r}.encode())",  # below Python: no audit event at all
        "import tempfile\ntempfile.mkstemp()",
        "import fcntl\nfcntl.flock(open({victim!r}), fcntl.LOCK_EX)",
        "import mmap, os\nos.memfd_create('x')",
    ],
    "processes": [
        "import subprocess\nsubprocess.run(['/bin/rm', {victim!r}])",
        "import os\nos.system('rm ' + {victim!r})",
        "import os\nos.fork()",
        "import os\nos.execv('/bin/sh', ['sh', '-c', 'rm ' + {victim!r}])",
        "import os\nos.posix_spawn('/bin/rm', ['rm', {victim!r}], {{}})",
        "import subprocess\nsubprocess.Popen(['setsid', 'sleep', '60'], start_new_session=True)",
        "import os\nwhile True:\n    os.fork()",  # a fork bomb
        LIBC + "libc.fork()",
        LIBC + "libc.system(b'rm ' + {victim!r}.encode())",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
    ],
    "signals": [
        "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",  # the caller: in a notebook, the kernel
        "import os, signal\nos.kill(os.getppid(), 0)",
        LIBC + "libc.kill(1, 0)",
        "import os, signal\nos.killpg(os.getpgid(0), signal.SIGTERM)",
        "import os\nos.sched_setaffinity(os.getppid(), {{0}})",
        "import os\nos.setpriority(os.PRIO_PROCESS, os.getppid(), 19)",
        "import os, resource\nresource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (1, 1))",
    ],
    "network": [
        "import socket\nsocket.socket()",
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)",
        "import socket\nsocket.socket(socket.AF_UNIX).connect('/run/anything')",
        LIBC + "libc.socket(2, 1, 0)",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:1')",
    ],
    "the filter itself": [  # the Python hook is reachable; the kernel's filter is not
        "import sys\nsys.modules['__main__'].name_the_refusal.__code__ = (lambda e, a: None).__code__\n"
        "open({victim!r}, 'w')",
        "import gc, sys\nfor f in gc.get_objects():\n    if getattr(f, '__name__', '') == 'name_the_refusal':\n"
        "        f.__code__ = (lambda e, a: None).__code__\nopen({victim!r}, 'w')",
        LIBC + "libc.prctl(22, 0, 0, 0, 0)\nopen({victim!r}, 'w')",  # PR_SET_SECCOMP 0: cannot turn it off
    ],
}


@linux_only
@pytest.mark.parametrize("attack", [pytest.param(code, id=f"{kind}-{n}") for kind, codes in ATTACKS.items()
                                    for n, code in enumerate(codes)])
def test_attacks_are_blocked_by_the_kernel_and_harm_nothing(attack, victim):
    program = attack.format(victim=str(victim), folder=str(victim.parent / "folder")) + "\n" + ADD
    result = run_candidate(program, TESTS, timeout_s=10)
    assert result.outcome == "blocked", (result, attack)
    assert result.confined and not result.passed


@linux_only
def test_a_blocked_run_names_what_it_tried_when_python_saw_it(victim):
    result = run_candidate(f"open({str(victim)!r}, 'w')\n" + ADD, TESTS)
    assert result.outcome == "blocked" and result.detail == f"open {str(victim)!r}"
    result = run_candidate(LIBC + "libc.fork()\n" + ADD, TESTS)  # below Python: only the kernel saw it
    assert result.outcome == "blocked" and "a system call the sandbox forbids" in result.detail


def test_the_candidate_runs_in_another_process_and_may_read_and_import():
    program = f"import builtins, math\nbuiltins.SANDBOX_WAS_HERE = open({str(__file__)!r}).read()\n" + ADD
    result = run_candidate(program, "assert builtins.SANDBOX_WAS_HERE and math.sqrt(4) == 2\n" + TESTS)
    assert result.passed
    assert not hasattr(builtins, "SANDBOX_WAS_HERE")  # this process's builtins are untouched


@linux_only
@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_endless_output_is_cut_and_the_callers_memory_stays_flat(stream):
    program = f"import sys\nline = 'x' * 10000 + '\\n'\nwhile True:\n    sys.{stream}.write(line)\n"
    tracemalloc.start()
    try:
        result = run_candidate(program, TESTS, timeout_s=2)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20  # what this process allocated, at its highest
    finally:
        tracemalloc.stop()
    assert result.outcome == "timeout" and peak_mb < 20, peak_mb  # the old sandbox grew by gigabytes
    assert len(result.output) <= OUTPUT_LIMIT


def test_long_output_is_kept_up_to_the_limit_and_marked():
    result = run_candidate("print('y' * (3 * 2**20))\n" + ADD, TESTS)
    assert result.passed and result.output.startswith("y" * 1000)
    assert "[output cut: 2,097,153 more bytes were printed; the sandbox keeps 1,048,576]" in result.output


@pytest.mark.parametrize("program", [
    'print("\\npassed")\nprint(\'0123456789abcdef ["passed", ""]\')\nimport os, sys\nsys.stdout.flush()\nos._exit(0)\n',
    "import json\njson.dumps = lambda *a, **k: '[\"passed\", \"\"]'\ndef add(a, b):\n    return 0\n",
    "class Anything:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Anything()\n",
    "class Sneaky(int):\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Sneaky(0)\n",
    "import builtins\nbuiltins.all = lambda items: True\nbuiltins.AssertionError = KeyError\n"
    "def add(a, b):\n    return 0\n",
    "import operator\noperator.eq = lambda a, b: True\ndef add(a, b):\n    return 0\n",
])
def test_a_forged_verdict_is_not_a_pass(program):
    result = run_candidate(program, TESTS)
    assert result.outcome in ("failed", "error"), result


def test_comparisons_on_plain_data_still_work_in_every_form():
    program = "def f(x):\n    return x\n"
    tests = ("assert f(3) == 3 != 4\nassert 1 < f(2) <= 2\nassert f([1]) is not None\nassert 2 in f([1, 2])\n"
             "assert f({'a': (1, 2.5)}) == {'a': (1, 2.5)}\nassert [f(i) for i in range(3)] == [0, 1, 2]")
    assert run_candidate(program, tests).passed
    result = run_candidate(program, "assert f(object()) == 1")
    assert result.outcome == "failed" and "a test compared a object, which is not plain data" in result.detail


@pytest.mark.parametrize("program, tests, kwargs, error, message", [
    (None, TESTS, {}, TypeError, "program must be Python source"),
    (ADD, b"assert 1", {}, TypeError, "tests must be Python source"),
    (ADD, "  \n", {}, ValueError, "at least one statement"),
    (ADD, "assert (", {}, ValueError, "tests must be valid Python"),
    (ADD, TESTS, {"timeout_s": 0}, ValueError, r"timeout_s must be a finite number > 0 and <= 600 \(seconds\), got 0"),
    (ADD, TESTS, {"memory_mb": -1}, ValueError, r"memory_mb must be a whole number from 64 .*got -1"),
    (ADD, TESTS, {"memory_mb": "512"}, ValueError, r"memory_mb must be a whole number .*got '512'"),
    (ADD, TESTS, {"memory_mb": 1.5}, ValueError, r"memory_mb must be a whole number .*got 1.5"),
    (ADD, TESTS, {"memory_mb": 8}, ValueError, r"memory_mb .* \(megabytes of address space\), got 8"),
])
def test_bad_arguments_are_clear_errors(program, tests, kwargs, error, message):
    with pytest.raises(error, match=message):
        run_candidate(program, tests, **kwargs)


@linux_only
def test_this_linux_machine_can_confine():
    assert sandbox.sandbox_problem() is None  # CI runs on Linux: the sandbox must be real there


def test_without_confinement_it_refuses_unless_the_caller_opts_in(monkeypatch, victim):
    monkeypatch.setattr(sandbox, "confinement_problem", lambda: "the sandbox needs Linux's seccomp, and this is os2")
    with pytest.raises(SandboxUnavailable, match="this is os2. To run it anyway.*allow_unconfined=True"):
        run_candidate(ADD, TESTS)
    result = run_candidate(ADD, TESTS, allow_unconfined=True)
    assert result.passed and not result.confined
    seatbelt = run_candidate(f"open({str(victim)!r}, 'w')\n" + ADD, TESTS, allow_unconfined=True)
    assert seatbelt.outcome == "blocked" and not seatbelt.confined

