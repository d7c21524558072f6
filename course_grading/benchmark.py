"""Time autograding N copies of each assignment's solution, serially and in parallel.

``OPENBLAS_NUM_THREADS=1 python -m course_grading.benchmark [--course ROOT] [-n 30] [--jobs 1 2]``
works on a temporary copy of the course; prints seconds per run and per submission.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from . import commands
from .course import Course, Limits
from .testing import copy_course, make_submission


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_grading.benchmark")
    parser.add_argument("--course", type=Path, default=Path("."))
    parser.add_argument("-n", type=int, default=30, help="submissions per assignment")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--assignment")
    args = parser.parse_args(argv)
    source = Course(args.course)
    for assignment in ([args.assignment] if args.assignment else source.assignments()):
        for jobs in args.jobs:
            with tempfile.TemporaryDirectory(prefix="cg-bench-") as tmp:
                course = copy_course(source.root, Path(tmp) / "course")
                commands.ensure_gradebook(course, [assignment])
                for i in range(args.n):
                    make_submission(course, assignment, f"s{i:03d}")
                start = time.monotonic()
                done = commands.autograde(course, Limits(), jobs=jobs, assignment=assignment)
                elapsed = time.monotonic() - start
                graded = sum(r["status"] == "graded" for r in done)
                print(f"{assignment}: {args.n} submissions, jobs={jobs}: {elapsed:.1f} s "
                      f"({elapsed / args.n:.2f} s each), {graded} graded", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
