"""How long does autograding take, per assignment, serially and on every core?

For each assignment (and the demo course of the grading tests), a throw-away copy of
the course gets N copies of the solution as submissions, and
``course_grading.commands.autograde`` grades them, once with ``--jobs 1`` and once
with each other ``--jobs`` value.  Each configuration is timed twice: grading 1
submission (the fixed cost: starting the grading processes, the first kernel) and
grading N; the table shows both and the cost of each ADDITIONAL submission,
``(T_N - T_1) / (N - 1)``, the figure that decides how long a class takes. The
self-test (each assignment's solution graded once before any learner, then remembered)
is timed on its own, in the last column, and left out of the other timings.

Usage (BLAS pinned to one thread, as in ``make test``)::

    python benchmarks/grading.py                  # every assignment, N = 30, jobs 1 and 2
    python benchmarks/grading.py -n 10 --jobs 2 --assignment 04_optimizers
    python benchmarks/grading.py --demo-only

Prints a table; not a test (timings depend on the machine and its load).
"""
from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Course, Limits, commands  # noqa: E402
from course_grading.selftest import self_test  # noqa: E402
from course_grading.testing import copy_course, make_submission  # noqa: E402

DEMO = ROOT / "tests" / "grading_fixtures" / "course"


def time_self_test(source: Path, assignment: str, jobs: int) -> float:
    """Seconds of the self-test of one assignment, with nothing remembered yet."""
    with tempfile.TemporaryDirectory(prefix="cg-bench-") as tmp:
        os.environ["COURSE_GRADING_CACHE"] = str(Path(tmp) / "cache")
        course = copy_course(source, Path(tmp) / "course")
        start = time.monotonic()
        self_test(course, Limits(), [assignment], jobs, commands.grade_submissions)
        return time.monotonic() - start


def time_batch(source: Path, assignment: str, n: int, jobs: int) -> tuple[float, int]:
    """Seconds to autograde ``n`` copies of the solution with ``jobs`` processes; how many got full marks."""
    with tempfile.TemporaryDirectory(prefix="cg-bench-") as tmp:
        course = copy_course(source, Path(tmp) / "course")
        commands.ensure_gradebook(course, [assignment])
        for i in range(n):
            make_submission(course, assignment, f"s{i:03d}")
        start = time.monotonic()
        done = commands.autograde(course, Limits(), jobs=jobs, assignment=assignment, self_test=False)
        elapsed = time.monotonic() - start
        full = sum(r["status"] == "graded" and r["code_score"] == r["max_code_score"] for r in done)
        return elapsed, full


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/grading.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=30, help="submissions per assignment (default 30)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--assignment", action="append",
                        help="only this assignment (repeatable); 01_demo is the demo course")
    parser.add_argument("--demo-only", action="store_true")
    args = parser.parse_args(argv)
    cases = [(DEMO, "01_demo")]
    if not args.demo_only:
        cases += [(ROOT, a) for a in Course(ROOT).assignments()]
    if args.assignment:
        cases = [c for c in cases if c[1] in args.assignment]
    header = (f"{'assignment':<20} {'jobs':>4} {'T_1 (s)':>8} {f'T_{args.n} (s)':>9} "
              f"{'per sub (s)':>11} {'per additional (s)':>18} {'full marks':>10} "
              f"{'self-test (s)':>13}")
    print(f"cores: {os.cpu_count()}, N = {args.n}, OPENBLAS_NUM_THREADS=1")
    print(header)
    print("-" * len(header))
    for source, assignment in cases:
        selftest = time_self_test(source, assignment, max(args.jobs))
        for jobs in args.jobs:
            t1, _ = time_batch(source, assignment, 1, jobs)
            tn, full = time_batch(source, assignment, args.n, jobs)
            extra = (tn - t1) / (args.n - 1) if args.n > 1 else float("nan")
            print(f"{assignment:<20} {jobs:>4} {t1:>8.1f} {tn:>9.1f} {tn / args.n:>11.2f} "
                  f"{extra:>18.2f} {full:>7}/{args.n} {selftest:>13.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
