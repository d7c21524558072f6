"""Grade learners' submissions in a grading process: nbgrader's autograde, guarded sandboxed kernels.

``autograde`` (:mod:`course_grading.pool`) starts one long-lived process per
core (``python -m course_grading _serve``, :func:`serve`), which imports
nbgrader once and grades the submissions it is sent one after another. Each
submission gets new kernels, each in a new bubblewrap sandbox, and the kernel of
the next submission starts while the current one executes. Every submission's
outcome is written to ``grading/results/<assignment>/<student>.json``
(atomically, last).

A submission is *graded* only when its score can be trusted: every autograded
test cell came back with the guard's attested verdict, nothing changed under a
hidden test while it ran, and no error came from the environment (a module the
solution itself imports, or gdlib, could not be imported; the kernel could not
start). Otherwise it is *not graded*, with the reason, never a 0.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import nbformat

from .course import Course, Limits, nbgrader_config
from .results import (GRADED, NOT_GRADED, gradebook, manual_answers, now, restore_manual_grades,
                      save_manual_grades, serialise_gradebook, submission_hash, write_result)
from .sandbox import only_regular_files

ENVIRONMENT = "environment: "
GRADER_MEMORY = 4 * 2**30  # address space of one grading process (nbgrader, not the kernels)


def check_folder(course: Course, assignment: str, folder: Path) -> str | None:
    """The reason a submission cannot be graded before running it, or None."""
    problem = only_regular_files(folder)
    if problem:
        return f"unsafe submission: {problem} (only regular files are graded)"
    for name in course.notebooks(assignment):
        path = folder / f"{name}.ipynb"
        if not path.is_file():
            return f"missing notebook: {name}.ipynb"
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:  # noqa: BLE001 - any parse failure means the same thing
            return f"invalid notebook JSON in {name}.ipynb ({type(err).__name__})"
        if not isinstance(nb.get("cells"), list):
            return f"invalid notebook JSON in {name}.ipynb (no cells)"
    return None


def reason_from_log(log: str, error: str) -> str:
    """A one-line reason for a failed nbgrader run, from its log and exception."""
    text = f"{log}\n{error}"
    if "KernelStartError" in text:
        line = next((ln for ln in text.splitlines() if "KernelStartError" in ln), "")
        return ENVIRONMENT + line.split("KernelStartError:", 1)[-1].strip()[:300]
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


@functools.lru_cache(maxsize=None)
def solution_imports(solutions: Path, assignment: str) -> frozenset[str]:
    """Top-level modules the solution notebooks import (an import of one of these that fails
    during grading is the environment's fault, not the learner's)."""
    names = {"gdlib", "numpy"}
    for path in sorted((solutions / assignment).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names |= {a.name.partition(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.partition(".")[0])
    return frozenset(names)


def error_outputs(course: Course, assignment: str, student: str):
    """Every error output of the submission's autograded notebooks (unreadable ones skipped)."""
    for path in sorted((course.autograded / student / assignment).glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - an unreadable notebook has no outputs to report
            continue
        for cell in nb.cells:
            yield from (o for o in cell.get("outputs", []) if o.get("output_type") == "error")


def environment_errors(course: Course, assignment: str, student: str) -> str | None:
    """The first error output that only the environment can cause, as a reason; None if none."""
    wanted = solution_imports(course.solutions, assignment)
    for out in error_outputs(course, assignment, student):
        if out.get("ename") not in ("ModuleNotFoundError", "ImportError"):
            continue
        found = re.search(r"No module named '([\w.]+)'|cannot import name '\w+' from "
                          r"'([\w.]+)'", out.get("evalue", ""))
        module = next((g for g in (found.groups() if found else ()) if g), "")
        if module.partition(".")[0] in wanted:
            return (f"{ENVIRONMENT}{out['ename']}: {out.get('evalue', '')[:200]} "
                    f"(the solution imports {module.partition('.')[0]} too)")
    return None


def forget_submission(course: Course, assignment: str, student: str) -> None:
    """Remove a submission's scores from the gradebook (they would be stale or a silent 0);
    its manual grades were saved first (:func:`course_grading.results.save_manual_grades`)."""
    from nbgrader.api import MissingEntry

    if not course.gradebook.exists():
        return
    with gradebook(course) as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


def scores(course: Course, assignment: str, student: str) -> dict:
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


def count_cell_timeouts(course: Course, assignment: str, student: str) -> int:
    return sum(out.get("ename") == "CellTimeoutError"
               for out in error_outputs(course, assignment, student))


def guard_verdict(reports: list[dict]) -> tuple[str | None, list[str]]:
    """(reason not to trust the score or None, what the learner's code did) from the guard's reports."""
    findings, reason = [], None
    for report in reports:
        for what in report.get("findings", []):
            if what not in findings:
                findings.append(what)
        for verdict in report.get("verdicts", []):
            if verdict.get("gdlib_error") and reason is None:
                reason = f"{ENVIRONMENT}gdlib could not be imported in the kernel " \
                         f"({verdict['gdlib_error'][:200]})"
            if verdict.get("tampered_during") and reason is None:
                reason = (f"tampering: while the hidden tests of {verdict['cell']} ran, learner "
                          f"code {'; '.join(verdict['tampered_during'][:3])}; grade it by hand")
        if report.get("unattested") and reason is None:
            reason = (f"tampering: {', '.join(report['unattested'][:3])} did not run under the "
                      "grader's guard (learner code took over the kernel's execution); grade it by hand")
    return reason, findings


class KernelsAhead:
    """Kernels started ahead of time, one per submission, each handed to that submission's first
    notebook, once (:class:`course_grading.execute.GuardedExecute` takes it)."""

    def __init__(self):
        self.kernels: dict[tuple[str, str], object] = {}

    def __deepcopy__(self, memo):  # traitlets copies config values; this one is shared, not copied
        return self

    def take(self, submission: tuple[str, str], kernel_name: str):
        km = self.kernels.pop(submission, None)
        if km is None:
            return None
        process = getattr(km.provisioner, "process", None)
        if process is not None and process.poll() is None and km.kernel_name == kernel_name:
            return km
        discard(km)
        return None

    def drop(self, submission: tuple[str, str]) -> None:
        km = self.kernels.pop(submission, None)
        if km is not None:
            discard(km)


def discard(km) -> None:
    """End a kernel started ahead of time that will not be used, and remove its sockets."""
    process = getattr(getattr(km, "provisioner", None), "process", None)
    if process is not None and process.poll() is None:
        process.kill()  # bwrap: its pid namespace, and every process in it, ends too
        process.wait()
    km.remove_sockdir()


class Grader:
    """nbgrader's autograde set up once for one grading slot, then used for many submissions."""

    def __init__(self, course: Course, limits: Limits, run_dir: str, uids: tuple[int, int]):
        from nbconvert.preprocessors import ClearMetadataPreprocessor
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, IgnorePattern,
                                            LimitOutput, SaveAutoGrades)

        from .execute import GuardedExecute

        self.course, self.limits, self.run_dir, self.uids = course, limits, run_dir, uids
        self.ahead = KernelsAhead()
        serialise_gradebook(course.grading / "gradebook.lock")
        cfg = nbgrader_config(course)
        cfg.Autograde.autograde_preprocessors = [
            GuardedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
            SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
        limits.configure(cfg)
        cfg.GuardedExecute.kernel_source = self.ahead
        # every output is in once the last cell is idle: no need to wait for a polite exit
        cfg.GuardedExecute.shutdown_kernel = "immediate"
        cfg.SandboxedKernelManager.library = str(course.library)
        cfg.SandboxedKernelManager.run_dir = run_dir
        cfg.SandboxedKernelManager.sandbox_uid = uids[0]
        self.cfg = cfg
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)

    def kernel_name(self, assignment: str) -> str:
        first = self.course.notebooks(assignment)[0]
        source = nbformat.read(self.course.solutions / assignment / f"{first}.ipynb", as_version=4)
        return source.metadata.get("kernelspec", {}).get("name") or "python3"

    def prestart(self, assignment: str, student: str, uid: int, log) -> bool:
        """Start the kernel of a submission ahead of grading it, in a new sandbox of its own."""
        from jupyter_core.utils import run_sync

        from .sandbox import SandboxedKernelManager

        self.ahead.drop((assignment, student))
        folder = self.course.submitted / student / assignment
        if not folder.exists() or check_folder(self.course, assignment, folder):
            return False
        km = SandboxedKernelManager(kernel_name=self.kernel_name(assignment), config=self.cfg)
        km.sandbox_uid = uid
        try:
            run_sync(km.start_kernel)(extra_arguments=list(self.cfg.Execute.extra_arguments),
                                      stdout=log, stderr=log)
        except Exception:  # noqa: BLE001 - grading will start a kernel the usual way
            traceback.print_exc()
            discard(km)
            return False
        self.ahead.kernels[(assignment, student)] = km
        return True

    def grade(self, assignment: str, student: str, uid: int | None = None) -> dict:
        """Autograde one submission; record and return its outcome."""
        self.cfg.SandboxedKernelManager.sandbox_uid = self.uids[0] if uid is None else uid
        try:
            return self._grade(assignment, student)
        finally:
            self.ahead.drop((assignment, student))  # started ahead but not used (failed early)

    def _autograde(self, assignment: str, student: str) -> dict:
        from nbgrader.converters import Autograde
        from nbgrader.utils import capture_log, temp_attrs

        with temp_attrs(self.api.coursedir, assignment_id=assignment, student_id=student):
            app = Autograde(coursedir=self.api.coursedir, parent=self.api)
            app.force = True
            app.create_student = True
            return capture_log(app)

    def _grade(self, assignment: str, student: str) -> dict:
        course = self.course
        folder = course.submitted / student / assignment
        record = {"assignment": assignment, "student": student,
                  "submission_hash": submission_hash(folder) if folder.exists() else None,
                  "graded_at": now()}
        save_manual_grades(course, assignment, student)
        reason = check_folder(course, assignment, folder)
        if reason:
            return self._not_graded(record, reason)
        reports_dir = tempfile.mkdtemp(prefix="reports-", dir=self.run_dir)
        self.cfg.GuardedExecute.report_path = reports_dir
        try:
            try:
                outcome = self._autograde(assignment, student)
            except Exception:  # noqa: BLE001 - never let one submission stop the run
                outcome = {"success": False, "log": "", "error": traceback.format_exc()}
            reports = [json.loads(p.read_text()) for p in sorted(Path(reports_dir).glob("*.json"))]
        finally:
            shutil.rmtree(reports_dir, ignore_errors=True)
        graded_folder = course.autograded / student / assignment
        if not (outcome.get("success") and graded_folder.exists()):
            record["log_tail"] = (outcome.get("log", "") + outcome.get("error", ""))[-3000:]
            return self._not_graded(record, reason_from_log(outcome.get("log", ""),
                                                            outcome.get("error", "")))
        distrust, findings = guard_verdict(reports)
        record["tampering"] = findings
        record["dropped_output"] = sum(len(r.get("dropped_output", [])) for r in reports)
        distrust = distrust or environment_errors(course, assignment, student)
        if distrust:
            return self._not_graded(record, distrust)
        answers = manual_answers(course, assignment, student)
        record["remark"] = restore_manual_grades(course, assignment, student, answers)
        record.update(status=GRADED, answers=answers, **scores(course, assignment, student))
        record["cell_timeouts"] = count_cell_timeouts(course, assignment, student)
        write_result(course, assignment, student, record)
        return record

    def _not_graded(self, record: dict, reason: str) -> dict:
        forget_submission(self.course, record["assignment"], record["student"])
        record.update(status=NOT_GRADED, reason=reason)
        write_result(self.course, record["assignment"], record["student"], record)
        return record


def grade_one(course: Course, assignment: str, student: str, limits: Limits, run_dir: str,
              uid: int) -> dict:
    """Autograde one submission in this process; record and return its outcome."""
    return Grader(course, limits, run_dir, (uid, uid + 1)).grade(assignment, student)


# --- a long-lived grading process ----------------------------------------------------------

def _die_with_parent() -> None:
    """Ask Linux to kill this process when the thread that started it ends (the reaper, see
    :mod:`course_grading.reaper`, also ends it if the whole run is killed)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(course: Course, limits: Limits, run_dir: str, uids: tuple[int, int]) -> None:
    """Grade submissions one after another, as ``autograde`` asks, in this one process.

    The protocol (one JSON object per line; see :mod:`course_grading.pool`): the
    process answers ``{"ready": pid}`` once nbgrader is imported; it then reads
    tasks ``{"assignment", "student", "log"}`` and answers ``{"begin": [assignment,
    student]}`` when it starts one; the parent answers that with the next task or
    ``{"next": null}``; the process answers ``{"done": [assignment, student]}`` once
    the result record is written. While one submission is graded, the kernel of
    the next is starting, as the slot's other user. End of input ends the process.
    """
    import resource

    # a flood of kernel messages can cost this process at most this much, never the machine
    resource.setrlimit(resource.RLIMIT_AS, (GRADER_MEMORY, GRADER_MEMORY))
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return
    tasks = os.fdopen(os.dup(0), "rb")
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    grader = Grader(course, limits, run_dir, uids)
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
            following = next_task()
            following = following.get("next", following) if following is not None else None
            if following is not None:
                with open(following["log"], "ab") as next_log:
                    grader.prestart(following["assignment"], following["student"],
                                    uids[1 - turn], next_log)
            try:
                grader.grade(*pair, uid=uids[turn])
            except Exception:  # noqa: BLE001 - the parent records a missing result as an error
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
        answers.write(json.dumps({"done": pair}) + "\n")
        turn = 1 - turn
        current = following if following is not None else next_task()
