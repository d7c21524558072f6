"""Grade one learner's submission of one assignment, in this process.

``python -m course_grading _grade_one`` runs :func:`grade_one`; the
``autograde`` command starts one such process per submission, several at a
time, and kills any that outlive the notebook budget.  Each process writes its
outcome to ``grading/results/<assignment>/<student>.json`` (atomically, last),
so an interrupted run is resumed by grading whatever has no record yet.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import traceback
from pathlib import Path

import nbformat

from .course import Course, Limits, nbgrader_config

NOT_GRADED = "not graded"
GRADED = "graded"


def submission_hash(folder: Path) -> str:
    """A fingerprint of every file in a submission folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def result_path(course: Course, assignment: str, student: str) -> Path:
    return course.results / assignment / f"{student}.json"


def write_result(course: Course, assignment: str, student: str, record: dict) -> None:
    path = result_path(course, assignment, student)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    os.replace(tmp, path)


def read_result(course: Course, assignment: str, student: str) -> dict | None:
    path = result_path(course, assignment, student)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- one writer at a time on the gradebook ----------------------------------------------

_lock_depth = 0
_lock_file = None


def serialise_gradebook(lock_path: Path) -> None:
    """Make every nbgrader ``Gradebook`` session in this process hold an exclusive file lock.

    Sessions are short (nbgrader opens one per step), so parallel graders queue
    for a few milliseconds, and SQLite never sees two writers.
    """
    from nbgrader import api

    if getattr(api.Gradebook, "_course_grading_locked", False):
        api.Gradebook._course_grading_lock_path = str(lock_path)
        return
    original_init, original_close = api.Gradebook.__init__, api.Gradebook.close

    def __init__(self, *args, **kwargs):
        global _lock_depth, _lock_file
        if _lock_depth == 0:
            _lock_file = open(api.Gradebook._course_grading_lock_path, "a")
            fcntl.flock(_lock_file, fcntl.LOCK_EX)
        _lock_depth += 1
        self._course_grading_holds = True
        try:
            original_init(self, *args, **kwargs)
        except BaseException:
            _release(self)
            raise

    def _release(self):
        global _lock_depth, _lock_file
        if getattr(self, "_course_grading_holds", False):
            self._course_grading_holds = False
            _lock_depth -= 1
            if _lock_depth == 0:
                fcntl.flock(_lock_file, fcntl.LOCK_UN)
                _lock_file.close()
                _lock_file = None

    def close(self):
        try:
            original_close(self)
        finally:
            _release(self)

    api.Gradebook.__init__ = __init__
    api.Gradebook.close = close
    api.Gradebook._course_grading_locked = True
    api.Gradebook._course_grading_lock_path = str(lock_path)


@contextlib.contextmanager
def gradebook(course: Course):
    from nbgrader.api import Gradebook

    serialise_gradebook(course.grading / "gradebook.lock")
    from .course import COURSE_ID
    gb = Gradebook(course.db_url, COURSE_ID)
    try:
        yield gb
    finally:
        gb.close()


# --- grading ------------------------------------------------------------------------------

def _check_notebooks(course: Course, assignment: str, folder: Path) -> str | None:
    """The reason a submission cannot be graded before running it, or None."""
    for name in course.notebooks(assignment):
        path = folder / f"{name}.ipynb"
        if not path.exists():
            return f"missing notebook: {name}.ipynb"
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:  # noqa: BLE001 - any parse failure means the same thing
            return f"invalid notebook JSON in {name}.ipynb ({type(err).__name__})"
        if not isinstance(nb.get("cells"), list):
            return f"invalid notebook JSON in {name}.ipynb (no cells)"
    return None


def _reason_from_log(log: str, error: str) -> str:
    text = f"{log}\n{error}"
    if "InterruptIgnored" in text:
        return "timeout: a cell ran past the cell timeout and ignored the interrupt"
    if "DeadKernelError" in text or "Kernel died" in text or "Kernel didn't respond" in text:
        return "crashed: the kernel died (os._exit, a crash, or the memory limit)"
    if "CellTimeoutError" in text and "IOPub" in text:
        return "timeout: the kernel stopped answering"
    errors = [line.strip() for line in text.splitlines()
              if re.match(r"\s*[\w.]*(Error|Exception): ", line) and "NbGraderException" not in line]
    keyerror = [e for e in errors if e.startswith("KeyError: ")]
    if keyerror:
        return (f"damaged notebook: cell {keyerror[0][len('KeyError: '):]} lost its nbgrader "
                "metadata (stripped metadata?); hand in a copy of the release notebook")
    return "grading error: " + (errors[-1][:200] if errors else "unknown (see the log)")


def _scores(course: Course, assignment: str, student: str) -> dict:
    with gradebook(course) as gb:
        sub = gb.find_submission(assignment, student)
        cells = {}
        for nb in sub.notebooks:
            for grade in nb.grades:
                cells[f"{nb.name}/{grade.name}"] = {
                    "score": grade.score, "max_score": grade.max_score,
                    "auto_score": grade.auto_score,
                    "needs_manual_grade": grade.needs_manual_grade,
                    "kind": "autograded" if grade.auto_score is not None or grade.cell_type == "code"
                    else "manual",
                }
        return {"score": sub.score, "max_score": sub.max_score,
                "code_score": sub.code_score, "max_code_score": sub.max_code_score,
                "needs_manual_grade": sub.needs_manual_grade, "cells": cells}


def _count_cell_timeouts(course: Course, assignment: str, student: str) -> int:
    n = 0
    for path in (course.autograded / student / assignment).glob("*.ipynb"):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001
            continue
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") == "CellTimeoutError":
                    n += 1
    return n


def forget_submission(course: Course, assignment: str, student: str) -> None:
    """Remove a submission from the gradebook (its grades would be stale or a silent 0)."""
    from nbgrader.api import MissingEntry

    if not course.gradebook.exists():
        return
    with gradebook(course) as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


class _Grader:
    """nbgrader's autograde set up once for one grading slot, then used for many submissions."""

    def __init__(self, course: Course, limits: Limits, slot: int = 0):
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                            LimitOutput, SaveAutoGrades)

        from .execute import GuardedExecute
        from .sandbox import SANDBOX_UID_BASE

        self.course, self.limits = course, limits
        serialise_gradebook(course.grading / "gradebook.lock")
        cfg = nbgrader_config(course, limits)
        cfg.Autograde.autograde_preprocessors = [
            GuardedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
            SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
        cfg.GuardedExecute.interrupt_grace = limits.interrupt_grace
        cfg.GuardedExecute.max_output_bytes = limits.output
        # every output is in once the last cell is idle: no need to wait for a polite exit
        cfg.GuardedExecute.shutdown_kernel = "immediate"
        cfg.SandboxedKernelManager.sandbox = limits.sandbox
        cfg.SandboxedKernelManager.sandbox_uid = SANDBOX_UID_BASE + slot
        cfg.SandboxedKernelManager.memory_limit = limits.memory
        cfg.SandboxedKernelManager.process_limit = limits.processes
        cfg.SandboxedKernelManager.file_size_limit = limits.file_size
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)

    def grade(self, assignment: str, student: str) -> dict:
        """Autograde one submission; record and return its outcome."""
        course = self.course
        folder = course.submitted / student / assignment
        record = {"assignment": assignment, "student": student,
                  "submission_hash": submission_hash(folder) if folder.exists() else None,
                  "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
        reason = _check_notebooks(course, assignment, folder)
        if reason:
            forget_submission(course, assignment, student)
            record.update(status=NOT_GRADED, reason=reason)
            write_result(course, assignment, student, record)
            return record
        try:
            outcome = self.api.autograde(assignment, student, force=True, create=True)
        except Exception:  # noqa: BLE001 - never let one submission stop the run
            outcome = {"success": False, "log": "", "error": traceback.format_exc()}
        if outcome.get("success") and (course.autograded / student / assignment).exists():
            record.update(status=GRADED, **_scores(course, assignment, student))
            record["cell_timeouts"] = _count_cell_timeouts(course, assignment, student)
        else:
            record.update(status=NOT_GRADED,
                          reason=_reason_from_log(outcome.get("log", ""), outcome.get("error", "")))
            record["log_tail"] = (outcome.get("log", "") + outcome.get("error", ""))[-3000:]
        write_result(course, assignment, student, record)
        return record


def grade_one(course: Course, assignment: str, student: str, limits: Limits,
              slot: int = 0) -> dict:
    """Autograde one submission in this process; record and return its outcome."""
    return _Grader(course, limits, slot).grade(assignment, student)


# --- a long-lived grading process ----------------------------------------------------------

def _die_with_parent() -> None:
    """Ask Linux to kill this process when the thread that started it ends (best effort)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(course: Course, limits: Limits, slot: int = 0) -> None:
    """Grade submissions one after another, as ``autograde`` asks, in this one process.

    Reads one JSON task per line (``{"assignment", "student", "log"}``) from
    stdin and answers each with one line ``{"done": ...}`` on stdout, once the
    submission's result record is written.  nbgrader and its dependencies are
    imported once; every submission still gets a new kernel in a new sandbox
    (nbgrader starts one per notebook and shuts it down after).  The kernel's
    and nbgrader's output go to the task's log file.
    """
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return
    tasks = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    grader = _Grader(course, limits, slot)
    answers.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in tasks:
        task = json.loads(line)
        with open(task["log"], "ab") as log:
            import sys
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                grader.grade(task["assignment"], task["student"])
            except Exception:  # noqa: BLE001 - the parent records a missing result as an error
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
        answers.write(json.dumps({"done": [task["assignment"], task["student"]]}) + "\n")
