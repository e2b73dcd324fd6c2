"""The `greenlab` command: `greenlab doctor`, `greenlab assign SRC OUT`, `greenlab grade SUBMISSIONS`,
`greenlab train --recipe NAME --out DIR` (also under torchrun), `greenlab conventions [--fix]`,
`greenlab report [--quick]`, `greenlab speedrun RECIPE [--target BITS ...] [--entry NAME --leaderboard FILE]` and
`greenlab speedrun --collect FILE ... --out TABLE [--plot PNG]`.

Ctrl-C ends any command with one line and the shell's code for it, 130, never a traceback: the command's own
modules, PyTorch among them, are imported inside it, after that guard is in place."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from greenlab.foundations import options


def _doctor(args: argparse.Namespace) -> int:
    from greenlab.presentation.machine import doctor, machine_facts

    facts = machine_facts()
    doctor(facts)
    return 1 if any(value.startswith("ERROR: ") for value in facts.values()) else 0  # a bad setting fails it


def _assign(args: argparse.Namespace) -> int:
    from greenlab.classroom.assign import assign

    for path in assign(args.source, args.out):
        print(f"wrote {path}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from greenlab.foundations.settings import ROOT, require

    require("nbclient", extra="lab")
    from greenlab.classroom.grade import grade, summary

    feedback = args.feedback or Path(args.out).with_name("feedback")
    try:
        grades = grade(args.submissions, args.out, labs_dir=args.labs or ROOT / "labs", only_lab=args.lab,
                       feedback_dir=args.feedback, timeout_s=args.timeout, cell_timeout_s=args.cell_timeout,
                       allow_unconfined=args.allow_unconfined)
    except (KeyboardInterrupt, asyncio.CancelledError):  # the teacher's Ctrl-C (while a kernel starts, asyncio
        # turns it into a cancellation): not the learner's failure, and not a finished grading
        print(f"greenlab grade: interrupted; the submission being run was not graded, and the grades before it "
              f"are in {args.out} and {feedback}", file=sys.stderr)
        return 130
    print(summary(grades))
    print(f"wrote {args.out} and the feedback files in {feedback}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from greenlab.training import zoo

    return zoo.main(args.train_options)  # the training program: the same job as `python -m` of it


def _conventions(args: argparse.Namespace) -> int:
    from greenlab.classroom import conventions

    status = 0
    for notebook in conventions.course_notebooks():
        if args.fix and conventions.fix(notebook):
            print(f"fixed {notebook.name}")
        for problem in conventions.problems(notebook):
            print(f"{notebook.name}: {problem}")
            status = 1
    return status


def _report(args: argparse.Namespace) -> int:
    from greenlab.presentation import report

    path = report.run(args.out, report.QUICK if args.quick else report.FULL)
    print(f"wrote {path}")
    return 0


def _speedrun(args: argparse.Namespace) -> int:
    from greenlab.experiments import speedrun

    if args.collect:
        return _collect(args)
    if args.recipe is None or args.out is not None or args.plot is not None:
        raise ValueError("give a RECIPE to train, or --collect FILE ... --out TABLE to gather leaderboards")
    if (args.entry is None) != (args.leaderboard is None):
        raise ValueError("--entry NAME and --leaderboard FILE go together: the entry's name and the file it joins")
    targets = args.target or speedrun.DEFAULT_TARGETS
    if args.leaderboard is not None:
        speedrun.check_entry(args.leaderboard, args.entry, targets)  # before training, not after
    result = speedrun.speedrun(args.recipe, targets, args.folder)
    print(result)
    if args.leaderboard is not None:
        speedrun.append_entry(result, args.leaderboard, args.entry)
        print(f"added the entry {args.entry!r} to {args.leaderboard}")
    return 0


def _collect(args: argparse.Namespace) -> int:
    """`greenlab speedrun --collect`: a class's leaderboards in one table, its Pareto front, and optionally a plot."""
    from greenlab.experiments import speedrun

    if any(value is not None for value in (args.recipe, args.target, args.entry, args.leaderboard, args.folder)):
        raise ValueError("--collect gathers leaderboards: it takes no RECIPE, --target, --entry, --leaderboard or "
                         "--folder")
    if args.out is None:
        raise ValueError("--collect needs --out TABLE.csv, the file for the gathered table")
    table = speedrun.leaderboard(args.collect)
    table.to_csv(args.out, index=False)
    print(f"gathered {len(table)} entries from {len(args.collect)} file(s) into {args.out}")
    energy = speedrun.hardest_target_energy(table)
    front = speedrun.pareto(table, energy)
    names = ", ".join(front.loc[front["pareto"], "entry"].astype(str)) or "none"
    print(f"Pareto front ({energy} against bits_per_char): {names}")
    if args.plot:
        speedrun.plot_leaderboard(table, energy).savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="greenlab", description="GreenLab course tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="versions, device, energy sensor, offline status, cache folder"
                        ).set_defaults(run=_doctor)
    assign = commands.add_parser("assign", help="write student versions of labs (solutions removed)")
    assign.add_argument("source", help="a lab notebook, or a folder of them (e.g. labs/)")
    assign.add_argument("out", help="folder for the student versions")
    assign.set_defaults(run=_assign)
    grade = commands.add_parser("grade", help="run submitted labs with their original checks; write grades")
    grade.add_argument("submissions", help="folder of submitted notebooks (NAME.ipynb or NAME/lab.ipynb)")
    grade.add_argument("--out", default="grades.csv", help="the grades table (CSV)")
    grade.add_argument("--labs", help="folder of the teacher's labs (default: the course's labs/)")
    grade.add_argument("--lab", help="grade only this lab (e.g. lab00_green_ai); other labs are reported")
    grade.add_argument("--feedback", help="folder for the per-learner feedback (default: next to --out)")
    grade.add_argument("--timeout", type=options.seconds, default=600, help="seconds for a whole notebook")
    grade.add_argument("--cell-timeout", type=options.seconds, default=120,
                       help="seconds before a cell is interrupted")
    grade.add_argument("--allow-unconfined", action="store_true",
                       help="grade where kernels cannot be confined (no seccomp or Landlock): only in an account or "
                            "container that holds nothing else")
    grade.set_defaults(run=_grade)
    commands.add_parser("train", add_help=False,  # its options are its program's: greenlab.training.zoo
                        help="train a zoo recipe; also as `torchrun --nproc_per_node N -m greenlab train ...` (data "
                             "parallel)").set_defaults(run=_train)
    conventions = commands.add_parser("conventions", help="check every notebook's badge and setup cell")
    conventions.add_argument("--fix", action="store_true", help="rewrite badges and setup cells from settings")
    conventions.set_defaults(run=_conventions)
    report = commands.add_parser("report", help="run the course's headline experiments; write a Markdown report")
    report.add_argument("--quick", action="store_true", help="smaller experiments: about 3 minutes on 2 cores")
    report.add_argument("--out", default="greenlab-report", help="folder for report.md and pareto.png")
    report.set_defaults(run=_report)
    speedrun = commands.add_parser("speedrun", help="train a recipe and say what reaching each quality target cost; "
                                                    "gather a class's leaderboards")
    speedrun.add_argument("recipe", nargs="?", help="a course recipe (reference, greener, ...) or a recipe JSON file")
    speedrun.add_argument("--target", type=float, action="append", metavar="BITS",
                          help="bits per character on the validation text, repeatable (default: 2.0 and 1.8)")
    speedrun.add_argument("--folder", metavar="DIR", help="keep the trained model's files here (default: not kept)")
    speedrun.add_argument("--entry", metavar="NAME", help="the entry's name on the leaderboard (with --leaderboard)")
    speedrun.add_argument("--leaderboard", metavar="FILE",
                          help="the leaderboard CSV to add the entry to (created when absent)")
    speedrun.add_argument("--collect", nargs="+", metavar="FILE", help="leaderboard CSVs to gather into one table")
    speedrun.add_argument("--out", metavar="TABLE", help="with --collect: the gathered table (CSV)")
    speedrun.add_argument("--plot", metavar="PNG", help="with --collect: a Pareto plot of the energy to the hardest "
                                                        "target against the final bits/char")
    speedrun.set_defaults(run=_speedrun)
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.train_options = rest  # `greenlab train`'s, for its program to parse
    return options.run_command(f"greenlab {args.command}", lambda: args.run(args))


if __name__ == "__main__":
    sys.exit(main())
