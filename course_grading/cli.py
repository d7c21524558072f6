"""``python -m course_grading <command>``: one command per step of grading."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .course import Course, Limits

HELP = """\
steps, in order:
  release    regenerate exercises/ from solutions/ (all assignments, or --assignment NAME)
  collect    take submissions from a folder or zip (alice_demo.ipynb, alice/demo.ipynb,
             alice/01_demo/demo.ipynb)
  autograde  self-test, then grade every new or changed submission, in parallel, sandboxed
  written    export written answers to CSV / import the filled-in scores
  feedback   write HTML feedback without hidden tests to grading/feedback/
  export     write grades to grading/grades.csv (one row per learner, one column per assignment)
  report     one line per student and assignment: graded with score, or NOT graded and why

Every command takes --course ROOT (before or after the command name; default: .).
"""


def build_parser() -> argparse.ArgumentParser:
    course = argparse.ArgumentParser(add_help=False)
    course.add_argument("--course", type=Path, default=argparse.SUPPRESS,
                        help="course root holding solutions/ and exercises/ (default: .)")
    parser = argparse.ArgumentParser(prog="python -m course_grading", description=__doc__,
                                     epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=Path("."),
                        help="course root holding solutions/ and exercises/ (default: .)")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, **kw):
        return sub.add_parser(name, parents=[course], **kw)

    p = command("release", help="regenerate exercises/ from solutions/")
    p.add_argument("--assignment")
    p.add_argument("--check", action="store_true",
                   help="change nothing; fail if exercises/ is not what release would write")
    p = command("collect", help="take submissions from a folder or a zip")
    p.add_argument("source", type=Path)
    p = command("autograde", help="self-test, then grade every new or changed submission")
    p.add_argument("--assignment")
    p.add_argument("--jobs", type=int, default=None, help="parallel graders (default: cores)")
    p.add_argument("--force", action="store_true",
                   help="grade everything again (manual grades of unchanged answers are kept)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="grade on the workers of this Dask scheduler (tcp://host:8786); needs "
                        "the cluster extra; this machine still writes grading/")
    Limits.add_arguments(p)
    p = command("written", help="written answers: export to CSV, import filled-in scores")
    action = p.add_subparsers(dest="action", required=True)
    q = action.add_parser("export", parents=[course], help="every written answer to CSV")
    q.add_argument("--to", type=Path, default=None, help="default: grading/written.csv")
    q.add_argument("--assignment")
    q = action.add_parser("import", parents=[course], help="apply the scores of a filled-in CSV")
    q.add_argument("file", type=Path)
    p = command("feedback", help="HTML feedback without hidden tests")
    p.add_argument("--assignment")
    for name, what in (("export", "grades to CSV"), ("report", "graded or not, and why")):
        p = command(name, help=what)
        p.add_argument("--due", action="append", metavar="[ASSIGNMENT=]WHEN",
                       help="due date (ISO, e.g. 2026-12-01T23:59); work handed in later is "
                            "marked late; repeat for per-assignment dates")
        if name == "export":
            p.add_argument("--to", type=Path, default=None, help="default: grading/grades.csv")
            p.add_argument("--format", choices=["lms", "nbgrader"], default="lms",
                           help="lms: one row per learner, blank where not graded (default); "
                                "nbgrader: nbgrader's own export")
    for name in ("_serve", "_grade_one"):
        p = command(name, help=argparse.SUPPRESS)
        p.add_argument("--gdlib", type=Path, default=None)
        p.add_argument("--run-dir", default=None)
        p.add_argument("--uids", default=None, help="FIRST,SECOND")
        Limits.add_arguments(p)
        if name == "_grade_one":
            p.add_argument("--assignment", required=True)
            p.add_argument("--student", required=True)
    return parser


def main(argv=None) -> int:
    from . import commands
    from .collect import CollectError
    from .written import WrittenError

    args = build_parser().parse_args(argv)
    course = Course(args.course, gdlib=getattr(args, "gdlib", None))
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
            print(f"collected {len(out['collected'])} notebook(s) from {args.source}")
            for p in out["problems"]:
                kept = f"; kept as {p['kept']}" if p.get("kept") else ""
                print(f"{p['kind'].upper()} {p['file']}: {p.get('detail', '')}{kept}")
        elif args.command == "autograde":
            done = commands.autograde(course, Limits.from_arguments(args), jobs=args.jobs,
                                      assignment=args.assignment, force=args.force,
                                      scheduler=args.scheduler)
            graded = sum(r["status"] == "graded" for r in done)
            print(f"autograded {len(done)} submission(s): {graded} graded, "
                  f"{len(done) - graded} not graded (see `report`)")
        elif args.command == "written" and args.action == "export":
            from .written import export_written
            print(f"written answers written to {export_written(course, args.to, args.assignment)}")
        elif args.command == "written":
            from .written import import_written
            out = import_written(course, args.file)
            print(f"imported {out['scores']} score(s) and {out['comments']} comment(s)")
        elif args.command == "feedback":
            out = commands.feedback(course, args.assignment)
            print(f"feedback for {len(out['made'])} submission(s) in {course.feedback}")
            for a, s in out["pending"]:
                print(f"PENDING {s} {a}: written answers are still to be marked; make feedback "
                      "again once they are")
            for a, s, why in out["skipped"]:
                print(f"NO FEEDBACK {s} {a}: {why}")
        elif args.command == "export":
            due = commands.parse_due(args.due)
            print(f"grades written to {commands.export(course, args.to, due, args.format)}")
        elif args.command == "report":
            text, _ = commands.report(course, commands.parse_due(args.due))
            sys.stdout.write(text)
        elif args.command in ("_serve", "_grade_one"):
            _grading_process(course, args)
    except (commands.GradingError, CollectError, WrittenError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _grading_process(course: Course, args) -> None:
    from .worker import grade_one, serve

    limits = Limits.from_arguments(args)
    if args.command == "_serve":
        first, second = (int(u) for u in args.uids.split(","))
        serve(course, limits, args.run_dir, (first, second))
        return
    from .pool import Run

    run = Run(1)
    try:
        first, _ = run.uids(0)
        record = grade_one(course, args.assignment, args.student, limits, run.folder, first)
        print(record.get("status"), record.get("score", record.get("reason")))
    finally:
        run.close()
