"""The `greenlab` command: `greenlab doctor`, `greenlab assign SRC OUT`, `greenlab grade SUBMISSIONS`,
`greenlab train --recipe NAME --out DIR` (also under torchrun), `greenlab conventions [--fix]`,
`greenlab report [--quick]`.

Ctrl-C ends any command with one line and the shell's code for it, 130, never a traceback: the command's own
modules, PyTorch among them, are imported inside it, after that guard is in place."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path


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
    from greenlab.foundations.energy import format_energy
    from greenlab.training import distributed, zoo

    if args.config:
        try:
            content = json.loads(Path(args.config).read_text(encoding="utf-8"))
            if isinstance(content, dict) and "recipe" in content:  # a whole recipe.json
                content = content["recipe"]
            recipe = zoo.Recipe.from_dict(content)
        except (ValueError, RecursionError) as error:
            raise ValueError(f"--config {args.config}: {error}") from None
    else:
        recipe = zoo.recipe(args.recipe)
    if args.steps is not None:  # the recipe's warmup, or a tenth of the steps when that is too long
        t = recipe.training
        warmup = t.warmup_steps if t.warmup_steps < args.steps else args.steps // 10
        recipe = replace(recipe, training=replace(t, steps=args.steps, warmup_steps=warmup))
    world = distributed.World()  # a lone process until it has joined its job
    try:
        world = distributed.init_from_env(args.timeout)  # under torchrun, a wait for the other processes
        trained = zoo.train_recipe(recipe, args.out, progress=world.is_main)
    except KeyboardInterrupt:  # Ctrl-C: the files are written after the last step, and removed if interrupted then
        print(f"greenlab train: interrupted; nothing was written to {args.out}", file=sys.stderr)
        return 130
    except ValueError as error:
        if world.size == 1:
            raise
        raise ValueError(f"rank {world.rank} of {world.size}: {error}") from None
    finally:
        distributed.shutdown()
    if world.is_main:
        history, m = trained.history, trained.history["measurement"]
        print(f"trained {recipe.name!r} on {world.size} process(es): {recipe.training.steps} steps, validation loss "
              f"{history['validation'][-1]['val_loss']:.3f}, {m['duration_s']:.1f} s, "
              f"{format_energy(m['energy_j'])} [{m['method']}]")
        print(f"wrote {', '.join(zoo.CACHED_FILES)} and recipe.json in {args.out}")
    return 0


def _positive_int(text: str) -> int:
    """An option's whole number above zero, else argparse's clear error naming the value."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number above zero")
    return int(text)


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


def _seconds(text: str) -> float:
    """An option's number of seconds: finite and above zero, else argparse's clear error naming the value."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above zero")
    return seconds


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
    grade.add_argument("--timeout", type=_seconds, default=600, help="seconds for a whole notebook")
    grade.add_argument("--cell-timeout", type=_seconds, default=120, help="seconds before a cell is interrupted")
    grade.add_argument("--allow-unconfined", action="store_true",
                       help="grade where kernels cannot be confined (no seccomp or Landlock): only in an account or "
                            "container that holds nothing else")
    grade.set_defaults(run=_grade)
    train = commands.add_parser("train", help="train a zoo recipe; also as `torchrun --nproc_per_node N -m greenlab "
                                              "train ...` (data parallel)")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--recipe", help="a recipe of the zoo (e.g. tiny, reference, sliding-window)")
    source.add_argument("--config", help="a recipe as JSON: the `recipe` of a recipe.json, or a whole recipe.json")
    train.add_argument("--steps", type=_positive_int, help="training steps instead of the recipe's (its warmup is "
                                                          "kept, or a tenth of the steps when it is longer)")
    train.add_argument("--out", required=True, help="folder for model.safetensors, tokenizer.json, history.json and "
                                                    "recipe.json (written by rank 0 only)")
    train.add_argument("--timeout", type=_seconds, default=300,
                       help="seconds a process waits for the others before the job fails (under torchrun)")
    train.set_defaults(run=_train)
    conventions = commands.add_parser("conventions", help="check every notebook's badge and setup cell")
    conventions.add_argument("--fix", action="store_true", help="rewrite badges and setup cells from settings")
    conventions.set_defaults(run=_conventions)
    report = commands.add_parser("report", help="run the course's headline experiments; write a Markdown report")
    report.add_argument("--quick", action="store_true", help="smaller experiments: about 3 minutes on 2 cores")
    report.add_argument("--out", default="greenlab-report", help="folder for report.md and pareto.png")
    report.set_defaults(run=_report)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:  # Ctrl-C where the command has nothing more to say about it (importing, say)
        print(f"greenlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as error:
        print(f"greenlab {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
