"""Grade learners' submissions in a grading process: nbgrader's autograde, sandboxed kernels.

``autograde`` starts one long-lived process per core (``python -m course_grading
_serve``, :func:`serve`), which imports nbgrader once and grades the submissions
it is sent one after another; each submission gets new kernels, each in a new
bubblewrap sandbox, and the kernel of the next submission starts while the
current one executes.  A process that outlives a submission's budget, or dies,
is killed and replaced by ``autograde``.  Every submission's outcome is written
to ``grading/results/<assignment>/<student>.json`` (atomically, last), so an
interrupted run is resumed by grading whatever has no record yet.
``python -m course_grading _grade_one`` grades a single submission in a process
of its own (:func:`grade_one`), for debugging.
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
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
        cfg.SandboxedKernelManager.memory_limit = limits.memory
        cfg.SandboxedKernelManager.process_limit = limits.processes
        cfg.SandboxedKernelManager.file_size_limit = limits.file_size
        # two sandbox users per slot, taken in turns: the kernel started ahead for the next
        # submission never shares a user (nor its process limit) with the one still running
        self.uids = (SANDBOX_UID_BASE + 2 * slot, SANDBOX_UID_BASE + 2 * slot + 1)
        cfg.SandboxedKernelManager.sandbox_uid = self.uids[0]
        self.cfg = cfg
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
        self.Autograde = _autograde_class()

    def prestart(self, assignment: str, student: str, uid: int, log) -> bool:
        """Start the kernel of a submission ahead of grading it: a new sandbox for its folder only.

        The folder is emptied and kept (nbgrader would delete and recreate it, and the
        sandbox mounts it).  Only for a submission that passes the checks and has one
        notebook kernel to start first; the kernel is used by its first notebook, once.
        """
        from jupyter_core.utils import run_sync

        from . import execute
        from .sandbox import SandboxedKernelManager

        course = self.course
        folder = course.submitted / student / assignment
        if not folder.exists() or _check_notebooks(course, assignment, folder):
            return False
        first = course.notebooks(assignment)[0]
        source = nbformat.read(course.solutions / assignment / f"{first}.ipynb", as_version=4)
        kernel_name = source.metadata.get("kernelspec", {}).get("name") or "python3"
        dest = course.autograded / student / assignment
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        km = SandboxedKernelManager(kernel_name=kernel_name, config=self.cfg)
        km.sandbox_uid = uid
        try:
            run_sync(km.start_kernel)(
                cwd=str(dest), extra_arguments=list(self.cfg.Execute.extra_arguments),
                env=dict(os.environ, NBGRADER_EXECUTION="autograde"), stdout=log, stderr=log)
        except Exception:  # noqa: BLE001 - grading will start a kernel the usual way
            traceback.print_exc()
            execute.discard(km)
            return False
        execute.PRESTARTED[os.path.realpath(dest)] = km
        return True

    def grade(self, assignment: str, student: str, uid: int | None = None) -> dict:
        """Autograde one submission; record and return its outcome."""
        from . import execute

        execute.CURRENT["uid"] = self.uids[0] if uid is None else uid
        try:
            return self._grade(assignment, student)
        finally:
            # a kernel started ahead but not used (the notebook failed before running)
            dest = os.path.realpath(self.course.autograded / student / assignment)
            km = execute.PRESTARTED.pop(dest, None)
            if km is not None:
                execute.discard(km)

    def _autograde(self, assignment: str, student: str) -> dict:
        """``NbGraderAPI.autograde``, with the converter that keeps a prestarted kernel's folder."""
        from nbgrader.utils import capture_log, temp_attrs

        with temp_attrs(self.api.coursedir, assignment_id=assignment, student_id=student):
            app = self.Autograde(coursedir=self.api.coursedir, parent=self.api)
            app.force = True
            app.create_student = True
            return capture_log(app)

    def _grade(self, assignment: str, student: str) -> dict:
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
            outcome = self._autograde(assignment, student)
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


def _autograde_class():
    """nbgrader's ``Autograde``, except that it empties (not deletes) a folder a kernel was started for."""
    from nbgrader.converters import Autograde

    from . import execute

    class KeepFolderAutograde(Autograde):
        def init_destination(self, assignment_id: str, student_id: str) -> bool:
            dest = os.path.normpath(self._format_dest(assignment_id, student_id))
            if os.path.realpath(dest) not in execute.PRESTARTED:
                return super().init_destination(assignment_id, student_id)
            for entry in os.scandir(dest):  # prestart made it empty; be sure
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.remove(entry.path)
            return True

    return KeepFolderAutograde


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

    Reads one JSON task per line (``{"assignment", "student", "log"}``) from stdin;
    answers ``{"begin": [assignment, student]}`` when it starts grading one and
    ``{"done": ...}`` once its result record is written.  nbgrader and its
    dependencies are imported once.  Every submission gets new kernels in new
    sandboxes; while one submission is graded, the kernel of the next task already
    sent is starting (in a sandbox of its own, as the other of the slot's two users),
    so its start-up overlaps the current execution.  nbgrader's and the kernels'
    output go to each task's log file.
    """
    import sys

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

    def next_task():
        line = tasks.readline()
        return json.loads(line) if line.strip() else None  # None: end of input

    current, turn = next_task(), 0
    while current is not None:
        pair = [current["assignment"], current["student"]]
        answers.write(json.dumps({"begin": pair}) + "\n")
        with open(current["log"], "ab") as log:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            # the parent answers "begin" at once: the next task, or {"next": null}
            following = next_task()
            following = following.get("next", following) if following is not None else None
            if following is not None:
                with open(following["log"], "ab") as next_log:
                    grader.prestart(following["assignment"], following["student"],
                                    grader.uids[1 - turn], next_log)
            try:
                grader.grade(*pair, uid=grader.uids[turn])
            except Exception:  # noqa: BLE001 - the parent records a missing result as an error
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
        answers.write(json.dumps({"done": pair}) + "\n")
        turn = 1 - turn
        current = following if following is not None else next_task()
