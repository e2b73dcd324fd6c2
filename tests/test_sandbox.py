import builtins

import pytest

from greenlab.applications.sandbox import OUTCOMES, run_candidate

ADD = "def add(a, b):\n    return a + b\n"
TESTS = "assert add(2, 3) == 5\nassert add(-1, 1) == 0"


@pytest.mark.parametrize("program, outcome, detail", [
    (ADD, "passed", ""),
    ("def add(a, b):\n    return a - b\n", "failed", "AssertionError"),
    ("def add(a, b):\n    return a + c\n", "error", "NameError: name 'c' is not defined"),
    ("def add(a, b)\n    return a + b\n", "error", "SyntaxError"),
    ("import sys\nsys.exit(0)\n" + ADD, "error", "exited by itself"),
    ("import os\nos._exit(0)\n", "error", "ended the sandbox before the tests finished"),
    ("x = bytearray(2**31)\n" + ADD, "error", "MemoryError"),
])
def test_each_outcome_is_named_with_its_reason(program, outcome, detail):
    result = run_candidate(program, TESTS)
    assert result.outcome == outcome and result.passed is (outcome == "passed")
    assert detail in result.detail and outcome in OUTCOMES


def test_a_loop_that_never_ends_is_stopped_at_the_timeout():
    result = run_candidate("def add(a, b):\n    while True:\n        pass\n", TESTS, timeout_s=1)
    assert result.outcome == "timeout" and 1 <= result.seconds < 10
    assert "still running after 1 s" in result.detail


@pytest.mark.parametrize("program, refused", [
    ("open('out.txt', 'w').write('x')\n", "open 'out.txt'"),
    ("try:\n    open('out.txt', 'a')\nexcept OSError:\n    pass\n", "open 'out.txt'"),  # caught, still blocked
    ("import os\nos.open('out.txt', os.O_CREAT | os.O_WRONLY)\n", "open 'out.txt'"),
    ("import os\nos.remove('/tmp/anything')\n", "os.remove '/tmp/anything'"),
    ("import socket\nsocket.create_connection(('example.org', 80))\n", "socket."),
    ("import subprocess\nsubprocess.run(['ls'])\n", "subprocess.Popen"),
    ("import os\nos.system('ls')\n", "os.system"),
])
def test_writing_files_the_network_and_new_processes_are_refused(program, refused):
    result = run_candidate(program + ADD, TESTS)
    assert result.outcome == "blocked" and refused in result.detail


def test_the_candidate_runs_in_another_process_and_may_read_and_import():
    program = f"import builtins, math\nbuiltins.SANDBOX_WAS_HERE = open({str(__file__)!r}).read()\n" + ADD
    result = run_candidate(program, "assert builtins.SANDBOX_WAS_HERE and math.sqrt(4) == 2\n" + TESTS)
    assert result.passed
    assert not hasattr(builtins, "SANDBOX_WAS_HERE")  # this process's builtins are untouched


@pytest.mark.parametrize("program, tests, timeout_s, error, message", [
    (None, TESTS, 1, TypeError, "program must be Python source"),
    (ADD, b"assert 1", 1, TypeError, "tests must be Python source"),
    (ADD, "  \n", 1, ValueError, "at least one statement"),
    (ADD, TESTS, 0, ValueError, r"timeout_s must be a finite number > 0 and <= 600 \(seconds\), got 0"),
])
def test_bad_arguments_are_clear_errors(program, tests, timeout_s, error, message):
    with pytest.raises(error, match=message):
        run_candidate(program, tests, timeout_s=timeout_s)
