"""What confinement costs per generated program: a bare Python start, the sandbox without and with the kernel's filter.

Three ways to run the same passing candidate, interleaved round by round after one warm-up each, medians printed
side by side with the extra cost of each step: `python -I -B -c pass` (a process start, the floor), the sandbox
with only its limits and the audit-hook seatbelt (what `allow_unconfined=True` runs), and the confined sandbox
(the seccomp filter loaded through libseccomp). Linux only.

    python benchmarks/bench_sandbox.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from unittest import mock

from greenlab.applications import sandbox
from greenlab.measurement.timing import median_seconds

PROGRAM, TESTS = "def add(a, b):\n    return a + b\n", "assert add(2, 3) == 5"


def unconfined() -> None:
    with mock.patch.object(sandbox, "confinement_problem", lambda: "measured without the filter"):
        assert sandbox.run_candidate(PROGRAM, TESTS, allow_unconfined=True).passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    problem = sandbox.sandbox_problem()
    if problem:
        sys.exit(f"cannot measure confinement here: {problem}")
    median = median_seconds({
        "python -I -B -c pass": lambda: subprocess.run([sys.executable, "-I", "-B", "-c", "pass"], check=True),
        "sandbox, limits only": unconfined,
        "sandbox, confined": lambda: sandbox.run_candidate(PROGRAM, TESTS).passed or sys.exit("did not pass")},
        args.rounds)
    print(f"median of {args.rounds} interleaved rounds, one candidate each:")
    floor = median["python -I -B -c pass"]
    for name, seconds in median.items():
        print(f"  {name:<22}{seconds * 1000:>8.1f} ms  (+{(seconds - floor) * 1000:.1f} ms over a bare start)")
    extra = median["sandbox, confined"] - median["sandbox, limits only"]
    print(f"the kernel's filter adds {extra * 1000:.1f} ms per program "
          f"({extra / median['sandbox, limits only']:.0%} of an unconfined run)")


if __name__ == "__main__":
    main()
