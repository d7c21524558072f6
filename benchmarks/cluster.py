"""Autograding on a Dask cluster against one machine: how many submissions per second?

A throw-away copy of the course gets N copies of an assignment's solution, graded
once locally with ``--jobs J`` and once on a LocalCluster of W worker processes
(one thread each), the instructor's process writing every result either way.
Both runs are timed after the self-test (done once, then remembered), so the
table shows grading alone. Needs the ``cluster`` extra.

Usage (BLAS pinned to one thread, as in ``make test``)::

    python benchmarks/cluster.py                       # 04_optimizers, N = 60, J = W = 2
    python benchmarks/cluster.py -n 30 --assignment 07_compile_summary --workers 2

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

from course_grading import Limits, commands  # noqa: E402
from course_grading.testing import copy_course, make_submission  # noqa: E402


def batch(tmp: Path, name: str, assignment: str, n: int) -> object:
    course = copy_course(ROOT, tmp / name)
    commands.ensure_gradebook(course, [assignment])
    for i in range(n):
        make_submission(course, assignment, f"s{i:03d}")
    return course


def main(argv=None) -> int:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(prog="python benchmarks/cluster.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=60, help="submissions (default 60)")
    parser.add_argument("--assignment", default="04_optimizers")
    parser.add_argument("--jobs", type=int, default=2, help="local grading processes (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes (default 2)")
    args = parser.parse_args(argv)
    limits = Limits()
    with tempfile.TemporaryDirectory(prefix="cg-bench-") as tmp:
        os.environ["COURSE_GRADING_CACHE"] = str(Path(tmp) / "cache")
        local = batch(Path(tmp), "local", args.assignment, args.n)
        commands.autograde(batch(Path(tmp), "warm", args.assignment, 1), limits, jobs=args.jobs)
        start = time.monotonic()
        done = commands.autograde(local, limits, jobs=args.jobs, self_test=False)
        t_local = time.monotonic() - start
        ok_local = sum(r["status"] == "graded" and r["code_score"] == r["max_code_score"] for r in done)
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
        try:
            commands.autograde(batch(Path(tmp), "warm2", args.assignment, 1), limits, scheduler=client)
            remote = batch(Path(tmp), "remote", args.assignment, args.n)
            start = time.monotonic()
            done = commands.autograde(remote, limits, scheduler=client, self_test=False)
            t_remote = time.monotonic() - start
            ok_remote = sum(r["status"] == "graded" and r["code_score"] == r["max_code_score"]
                            for r in done)
        finally:
            client.close()
            cluster.close()
    print(f"cores: {os.cpu_count()}, {args.assignment}, N = {args.n}, OPENBLAS_NUM_THREADS=1")
    print(f"{'where':<34} {'seconds':>8} {'per submission':>15} {'submissions/s':>14} {'full marks':>11}")
    for where, t, ok in ((f"one machine, --jobs {args.jobs}", t_local, ok_local),
                         (f"LocalCluster, {args.workers} workers x 1 thread", t_remote, ok_remote)):
        print(f"{where:<34} {t:>8.1f} {t / args.n:>15.2f} {args.n / t:>14.2f} {ok:>8}/{args.n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
