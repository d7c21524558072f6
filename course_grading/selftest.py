"""Before grading learners, grade the solutions: the environment must give them full marks.

A complete, correct submission can lose points for reasons that have nothing to
do with the learner: a package the solution needs is not installed, the
kernel imports another gdlib than the course's, a limit is too tight for the
slowest part. So ``autograde`` first grades each assignment's own solution
notebooks, in the same environment, sandbox and limits, as a throw-away
student of a scratch copy of the course. Anything short of every autograded
point stops the run, naming the failing cell and its error.

A passing result is remembered under a key that hashes the solution notebooks
and the environment (Python, every installed distribution and its version,
the course's gdlib, this package, bubblewrap, the limits), so the self-test
runs again only when one of them changes. The cache lives in
``$COURSE_GRADING_CACHE`` if set, else ``grading/selftest/``.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from .course import Course, Limits
from .results import GRADED, read_json, write_json

STUDENT = "self-test"


def _hash_files(digest, root: Path, pattern: str = "*") -> None:
    for path in sorted(p for p in Path(root).rglob(pattern)
                       if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")


def environment_key(course: Course, limits: Limits) -> str:
    """A hash of everything outside the solutions that decides how a notebook is graded."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version}\0{os.path.realpath(sys.prefix)}\0{limits!r}\0".encode())
    for dist in sorted(importlib.metadata.distributions(),
                       key=lambda d: (d.metadata["Name"] or "").lower()):
        digest.update(f"{dist.metadata['Name']}=={dist.version}\0".encode())
    _hash_files(digest, course.library)
    _hash_files(digest, Path(__file__).resolve().parent, "*.py")
    if limits.sandbox and shutil.which("bwrap"):
        digest.update(subprocess.run(["bwrap", "--version"], capture_output=True).stdout)
    return digest.hexdigest()


def solution_key(course: Course, assignment: str, environment: str) -> str:
    digest = hashlib.sha256(environment.encode())
    _hash_files(digest, course.solutions / assignment)
    return digest.hexdigest()


def cache_folder(course: Course) -> Path:
    return Path(os.environ.get("COURSE_GRADING_CACHE") or course.grading / "selftest")


class SelfTestFailed(RuntimeError):
    """A solution notebook did not earn every autograded point in this environment."""


def _failures(scratch: Course, assignment: str, record: dict) -> list[str]:
    """'cell X: error' for every autograded cell of the graded solution that lost points."""
    if record.get("status") != GRADED:
        return [f"not graded: {record.get('reason', 'unknown')}"]
    lost = [key for key, cell in (record.get("cells") or {}).items()
            if cell["kind"] == "autograded" and (cell["auto_score"] or 0) < cell["max_score"]]
    out = []
    for key in lost:
        notebook, grade_id = key.split("/", 1)
        error = "no error output"
        path = scratch.autograded / STUDENT / assignment / f"{notebook}.ipynb"
        if path.exists():
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                    if errors:
                        error = f"{errors[0].get('ename')}: {errors[0].get('evalue', '')[:300]}"
        out.append(f"cell {grade_id} of {notebook}.ipynb: {error}")
    return out


def self_test(course: Course, limits: Limits, assignments: list[str], jobs: int, grade) -> dict:
    """Grade each assignment's solution unless a pass is cached; raise :class:`SelfTestFailed`.

    ``grade(scratch_course, limits, pairs, jobs)`` grades submissions and returns their records
    (``autograde``'s own machinery). Returns ``{assignment: seconds}`` of the tests that ran.
    """
    environment = environment_key(course, limits)
    cache = cache_folder(course)
    keys = {a: solution_key(course, a, environment) for a in assignments}
    pending = [a for a in assignments
               if not (read_json(cache / f"{keys[a]}.json") or {}).get("passed")]
    if not pending:
        return {}
    from .commands import release

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cg-selftest-") as tmp:
        scratch = Course(Path(tmp) / "course", gdlib=course.library)
        for a in pending:
            shutil.copytree(course.solutions / a, scratch.solutions / a)
            release(scratch, a, into=Path(tmp) / "release")
            folder = scratch.submitted / STUDENT / a
            folder.mkdir(parents=True)
            for name in scratch.notebooks(a):
                shutil.copyfile(scratch.solutions / a / f"{name}.ipynb", folder / f"{name}.ipynb")
        records = grade(scratch, limits, [(a, STUDENT) for a in pending], jobs)
        seconds = time.monotonic() - start
        problems = {}
        for a in pending:
            failures = _failures(scratch, a, records.get((a, STUDENT)) or {})
            if failures:
                problems[a] = failures
            else:
                write_json(cache / f"{keys[a]}.json", {"passed": True, "assignment": a,
                                                       "seconds": round(seconds, 2)})
    if problems:
        lines = [f"{a}: " + "; ".join(f) for a, f in problems.items()]
        raise SelfTestFailed(
            "the self-test failed: the solution notebooks do not earn every autograded point in "
            "this environment, so no learner is graded until this is fixed:\n  " + "\n  ".join(lines))
    return {a: seconds for a in pending}
