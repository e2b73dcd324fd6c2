"""The `greenlab` command: `greenlab doctor`, `greenlab assign SRC OUT`, `greenlab conventions [--fix]`."""

from __future__ import annotations

import argparse
import sys


def _doctor(args: argparse.Namespace) -> int:
    from greenlab.machine import doctor

    doctor()
    return 0


def _assign(args: argparse.Namespace) -> int:
    from greenlab.assign import assign

    for path in assign(args.source, args.out):
        print(f"wrote {path}")
    return 0


def _conventions(args: argparse.Namespace) -> int:
    from greenlab import conventions

    status = 0
    for notebook in conventions.course_notebooks():
        if args.fix and conventions.fix(notebook):
            print(f"fixed {notebook.name}")
        for problem in conventions.problems(notebook):
            print(f"{notebook.name}: {problem}")
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenlab", description="GreenLab course tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="versions, device, energy sensor, offline status, cache folder"
                        ).set_defaults(run=_doctor)
    assign = commands.add_parser("assign", help="write student versions of labs (solutions removed)")
    assign.add_argument("source", help="a lab notebook, or a folder of them (e.g. labs/)")
    assign.add_argument("out", help="folder for the student versions")
    assign.set_defaults(run=_assign)
    conventions = commands.add_parser("conventions", help="check every notebook's badge and setup cell")
    conventions.add_argument("--fix", action="store_true", help="rewrite badges and setup cells from settings")
    conventions.set_defaults(run=_conventions)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (OSError, ValueError) as error:
        print(f"greenlab {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
