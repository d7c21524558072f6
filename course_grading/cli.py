"""``python -m course_grading <command>``: one command per step of grading."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import Course, Limits

HELP = """\
steps, in order:
  release    regenerate exercises/ from solutions/ (all assignments, or --assignment NAME)
  collect    copy submissions from a folder or zip (alice_demo.ipynb or alice/demo.ipynb)
  autograde  grade every new or changed submission, in parallel, sandboxed
  feedback   write HTML feedback without hidden tests to grading/feedback/
  export     write the gradebook to grading/grades.csv
  report     one line per student and assignment: graded with score, or NOT graded and why
"""


def _limits(args) -> Limits:
    return Limits(cell_timeout=args.cell_timeout, interrupt_grace=args.interrupt_grace,
                  notebook_budget=args.budget, memory=args.memory, processes=args.processes,
                  output=args.output, file_size=args.file_size, sandbox=not args.no_sandbox)


def _add_limits(p):
    d = Limits()
    p.add_argument("--cell-timeout", type=int, default=d.cell_timeout,
                   help="seconds per cell before it is interrupted (default %(default)s)")
    p.add_argument("--interrupt-grace", type=float, default=d.interrupt_grace,
                   help="seconds an interrupted cell has to stop (default %(default)s)")
    p.add_argument("--budget", type=int, default=d.notebook_budget,
                   help="seconds per submission in all (default %(default)s)")
    p.add_argument("--memory", type=int, default=d.memory, help="kernel address-space bytes")
    p.add_argument("--processes", type=int, default=d.processes, help="processes per sandbox")
    p.add_argument("--output", type=int, default=d.output, help="output bytes kept per cell")
    p.add_argument("--file-size", type=int, default=d.file_size, help="largest file written")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run kernels without bubblewrap (only for trusted notebooks)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m course_grading", description=__doc__,
                                     epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=Path("."),
                        help="course root holding solutions/ and exercises/ (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate exercises/ from solutions/")
    p.add_argument("--assignment")
    p.add_argument("--check", action="store_true",
                   help="change nothing; fail if exercises/ is not what release would write")
    p = sub.add_parser("collect", help="copy submissions from a folder or a zip")
    p.add_argument("source", type=Path)
    p = sub.add_parser("autograde", help="grade every new or changed submission")
    p.add_argument("--assignment")
    p.add_argument("--jobs", type=int, default=None, help="parallel graders (default: cores)")
    p.add_argument("--force", action="store_true", help="grade everything again")
    _add_limits(p)
    p = sub.add_parser("feedback", help="HTML feedback without hidden tests")
    p.add_argument("--assignment")
    p = sub.add_parser("export", help="grades to CSV")
    p.add_argument("--to", type=Path, default=None, help="default: grading/grades.csv")
    sub.add_parser("report", help="graded or not, and why, per student and assignment")
    p = sub.add_parser("_grade_one", help=argparse.SUPPRESS)
    p.add_argument("--assignment", required=True)
    p.add_argument("--student", required=True)
    p.add_argument("--slot", type=int, default=0)
    _add_limits(p)
    p = sub.add_parser("_serve", help=argparse.SUPPRESS)
    p.add_argument("--slot", type=int, default=0)
    _add_limits(p)
    return parser


def main(argv=None) -> int:
    from . import commands

    args = build_parser().parse_args(argv)
    course = Course(args.course)
    try:
        if args.command == "release" and args.check:
            problems = commands.release_differences(course, args.assignment)
            for line in problems:
                print(line)
            return 1 if problems else 0
        if args.command == "release":
            for name in commands.release(course, args.assignment):
                print(f"released {name} -> {course.exercises / name}")
        elif args.command == "collect":
            out = commands.collect(course, args.source)
            print(f"collected {len(out['collected'])} notebook(s)")
            for p in out["misnamed"]:
                print(f"MISNAMED {p['file']}: expected a name like {p['expected']}")
        elif args.command == "autograde":
            done = commands.autograde(course, _limits(args), jobs=args.jobs,
                                      assignment=args.assignment, force=args.force)
            graded = sum(r["status"] == "graded" for r in done)
            print(f"autograded {len(done)} submission(s): {graded} graded, "
                  f"{len(done) - graded} not graded (see `report`)")
        elif args.command == "feedback":
            made = commands.feedback(course, args.assignment)
            print(f"feedback for {len(made)} submission(s) in {course.feedback}")
        elif args.command == "export":
            print(f"grades written to {commands.export(course, args.to)}")
        elif args.command == "report":
            text, _ = commands.report(course)
            sys.stdout.write(text)
        elif args.command == "_grade_one":
            from .worker import grade_one
            grade_one(course, args.assignment, args.student, _limits(args), slot=args.slot)
        elif args.command == "_serve":
            from .worker import serve
            serve(course, _limits(args), slot=args.slot)
    except commands.GradingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
