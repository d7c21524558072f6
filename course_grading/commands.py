"""The instructor's commands, one per step: release, collect, autograde, feedback, export, report."""
from __future__ import annotations

import csv
import datetime
import os
import shutil
import tempfile
from pathlib import Path

from .collect import CollectError, collect, collect_log  # noqa: F401 - commands re-exports collect
from .course import Course, Limits, nbgrader_config
from .results import (GRADED, NOT_GRADED, backup_gradebook, check_gradebook, gradebook,
                      read_result, restore_gradebook, result_path, serialise_gradebook,
                      submission_hash, write_result)
from .sandbox import only_regular_files
from .tamper import scan_submission


class GradingError(RuntimeError):
    """A command could not do what was asked (not: a submission could not be graded)."""


def _api(course: Course, cfg=None):
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    cfg = cfg or nbgrader_config(course)
    serialise_gradebook(course.grading / "gradebook.lock")
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def _selected(course: Course, assignment: str | None) -> list[str]:
    known = course.assignments()
    if assignment is None:
        return known
    if assignment not in known:
        raise GradingError(f"unknown assignment {assignment!r}; the course has: "
                           f"{', '.join(known) or '(none)'}")
    return [assignment]


# --- release --------------------------------------------------------------------------------

def release(course: Course, assignment: str | None = None, into: Path | None = None) -> list[str]:
    """Regenerate ``exercises/<assignment>/`` (or ``into/<assignment>/``) from ``solutions/``.

    Also records the assignment's cells and points in the gradebook, which
    autograding needs.  Returns the assignments released.
    """
    course.ensure_dirs()
    cfg = nbgrader_config(course)
    if into is not None:
        cfg.CourseDirectory.release_directory = str(Path(into).resolve())
    api = _api(course, cfg)
    done = []
    for name in _selected(course, assignment):
        out = api.generate_assignment(name, force=True, create=True)
        if not out["success"]:
            raise GradingError(f"nbgrader generate_assignment {name} failed:\n"
                               f"{out.get('log', '')}\n{out.get('error', '')}")
        done.append(name)
    return done


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def release_differences(course: Course, assignment: str | None = None) -> list[str]:
    """Files of ``exercises/`` that differ from what nbgrader generates now (empty: up to date).

    Generates into a scratch folder, so neither ``exercises/`` nor the real
    gradebook is touched.
    """
    problems = []
    with tempfile.TemporaryDirectory(prefix="cg-check-") as tmp:
        scratch = Course(Path(tmp) / "course")
        shutil.copytree(course.solutions, scratch.solutions)
        for name in release(scratch, assignment):
            fresh, committed = _tree(scratch.exercises / name), _tree(course.exercises / name)
            for path in sorted(set(fresh) | set(committed)):
                if path not in committed:
                    problems.append(f"exercises/{name}/{path} is missing")
                elif path not in fresh:
                    problems.append(f"exercises/{name}/{path} is not generated from solutions/")
                elif fresh[path] != committed[path]:
                    problems.append(f"exercises/{name}/{path} is stale: run "
                                    f"`python -m course_grading release --assignment {name}`")
    return problems


def _gradebook_assignments(course: Course) -> set[str]:
    if not course.gradebook.exists():
        return set()
    with gradebook(course) as gb:
        return {a.name for a in gb.assignments}


def ensure_gradebook(course: Course, assignments: list[str]) -> None:
    """Put assignments missing from the gradebook into it, without touching ``exercises/``."""
    missing = [a for a in assignments if a not in _gradebook_assignments(course)]
    if missing:
        with tempfile.TemporaryDirectory(prefix="cg-release-") as tmp:
            for name in missing:
                release(course, name, into=Path(tmp))


# --- autograde ------------------------------------------------------------------------------

def _folders(path: Path) -> list[str]:
    """Names of the real folders (never links) in ``path``."""
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []


def submissions(course: Course, assignment: str | None = None) -> list[tuple[str, str]]:
    """Every (assignment, student) with a folder under ``grading/submitted``."""
    wanted = set(_selected(course, assignment))
    return [(a, s) for s in _folders(course.submitted) if not s.startswith(".")
            for a in _folders(course.submitted / s) if a in wanted]


def _not_graded(course: Course, assignment: str, student: str, reason: str, **extra) -> dict:
    folder = course.submitted / student / assignment
    record = {"assignment": assignment, "student": student, "status": NOT_GRADED, "reason": reason,
              "submission_hash": submission_hash(folder) if folder.exists() else None, **extra}
    write_result(course, assignment, student, record)
    return record


def outcome_record(course: Course, limits: Limits, pair: tuple[str, str], outcome: str,
                   worker=None) -> dict:
    """The record of a submission a grading process was given: its own (``outcome`` 'done'), or
    why there is none ('timeout', 'died', 'not started')."""
    from .worker import forget_submission

    assignment, student = pair
    if outcome == "timeout":
        forget_submission(course, assignment, student)
        shutil.rmtree(course.autograded / student / assignment, ignore_errors=True)
        return _not_graded(course, assignment, student,
                           f"timeout: the submission ran past its budget of {limits.notebook_budget} s")
    record = read_result(course, assignment, student)
    if record is None:
        code = worker.proc.poll() if worker is not None else None
        if outcome == "not started":
            reason = (f"grading error: the grading process did not start (exit code {code}; "
                      f"see {course.grading / 'logs'})")
        else:
            where = worker.log_path(pair) if worker is not None else course.grading / "logs"
            reason = f"grading error: the grading process exited with code {code} (see {where})"
        record = _not_graded(course, assignment, student, reason, retry=True)
    return record


def grade_submissions(course: Course, limits: Limits, pairs: list[tuple[str, str]],
                      jobs: int) -> dict[tuple[str, str], dict]:
    """Grade ``pairs`` (assignment, student) in parallel; return every submission's record."""
    from .pool import grade_all

    if not pairs:
        return {}
    for a, s in pairs:
        result_path(course, a, s).unlink(missing_ok=True)
    done, errors = grade_all(course, limits, pairs, max(1, min(jobs, len(pairs))),
                             lambda pair, outcome, worker: outcome_record(course, limits, pair,
                                                                          outcome, worker))
    for pair in pairs:
        if pair not in done:
            done[pair] = read_result(course, *pair) or _not_graded(
                course, *pair, "grading error: " + (errors[-1].strip().splitlines()[-1][:200]
                                                    if errors else "not reached"), retry=True)
    return done


def autograde(course: Course, limits: Limits | None = None, *, jobs: int | None = None,
              assignment: str | None = None, force: bool = False,
              self_test: bool = True, scheduler=None) -> list[dict]:
    """Autograde every submission not yet graded in its current form, ``jobs`` at a time.

    First the self-test (:mod:`course_grading.selftest`): each assignment to
    grade has its solution graded in this environment, and anything short of full
    marks stops the run. The gradebook is backed up before the run and checked
    after it (a damaged gradebook is restored from the backup). A submission
    whose record exists and whose files are unchanged is skipped, so running
    again after an interruption grades only what is left; ``force`` grades
    everything again (manual grades are kept where the answer is unchanged).
    Never stops on a bad submission. With ``scheduler`` (a Dask scheduler's
    address, or a ``distributed.Client``) the submissions are graded on the
    cluster's workers, and this process alone writes ``grading/``
    (:mod:`course_grading.distributed`).
    """
    from .selftest import SelfTestFailed
    from .selftest import self_test as run_self_test

    limits = limits or Limits()
    if limits.sandbox and scheduler is None:
        from .sandbox import bwrap_available
        if not bwrap_available():
            raise GradingError("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`, "
                               "or pass --no-sandbox only if you trust every submission")
    course.ensure_dirs()
    problem = check_gradebook(course.gradebook) if course.gradebook.exists() else None
    if problem:
        raise GradingError(f"the gradebook {course.gradebook} is damaged before grading: {problem}; "
                           f"put back a copy from {course.grading / 'backups'}")
    pairs = submissions(course, assignment)
    todo = []
    for a, s in pairs:
        old = read_result(course, a, s)
        if force or old is None or old.get("retry") or old.get("submission_hash") != submission_hash(
                course.submitted / s / a):
            todo.append((a, s))
    if not todo:
        return []
    jobs = max(1, jobs or os.cpu_count() or 1)
    ensure_gradebook(course, sorted({a for a, _ in pairs}))
    try:
        backup = backup_gradebook(course)
    except RuntimeError as err:
        raise GradingError(str(err)) from None
    try:
        assignments = sorted({a for a, _ in todo})
        if scheduler is not None:
            from .distributed import grade_on_cluster, self_test_on_cluster
        try:
            if self_test and scheduler is not None:
                self_test_on_cluster(course, limits, assignments, scheduler)
            elif self_test:
                run_self_test(course, limits, assignments, jobs, grade_submissions)
        except SelfTestFailed as err:
            raise GradingError(str(err)) from None
        if scheduler is not None:
            done = grade_on_cluster(course, limits, todo, scheduler)
        else:
            done = grade_submissions(course, limits, todo, jobs)
    finally:
        problem = check_gradebook(course.gradebook)
        if problem and backup is not None:
            restore_gradebook(course, backup)
            raise GradingError(f"the gradebook was damaged during grading ({problem}); it was "
                               f"restored from {backup} (the damaged file is kept beside it)")
    return [done[pair] for pair in todo]


# --- feedback -------------------------------------------------------------------------------

def _feedback_config(course: Course):
    cfg = nbgrader_config(course)
    cfg.GenerateFeedback.preprocessors = [
        "course_grading.feedback.GetGradesAndMarking",
        "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
        "nbgrader.preprocessors.ClearHiddenTests",
        "course_grading.feedback.NameParts",
    ]
    cfg.HTMLExporter.template_name = "cg_feedback"
    cfg.HTMLExporter.extra_template_basedirs = [str(Path(__file__).resolve().parent / "templates")]
    return cfg


def feedback(course: Course, assignment: str | None = None) -> dict:
    """HTML feedback for every graded submission, hidden tests removed.

    One learner's folder never stops the others: a submission that cannot get
    feedback (not graded, an unsafe file in its folder, an error) is listed with
    the reason. Returns ``{"made": [(assignment, student)], "skipped": [(a, s, why)],
    "pending": [(a, s)]}`` (pending: written answers still to be marked).
    """
    from .feedback import install_mathjax

    api = _api(course, _feedback_config(course))
    made, skipped, pending = [], [], []
    install_mathjax(course.feedback)
    for a, s in submissions(course, assignment):
        record = read_result(course, a, s)
        folder = course.autograded / s / a
        if record is None or record.get("status") != GRADED:
            skipped.append((a, s, "not graded: " + (record or {}).get("reason", "not autograded yet")))
            continue
        problem = only_regular_files(folder)
        if problem:
            skipped.append((a, s, f"unsafe file in the autograded folder: {problem}"))
            continue
        out = _generate_feedback(course, api, a, s)
        if not out["success"]:
            error = (out.get("error") or out.get("log") or "").strip().splitlines()
            skipped.append((a, s, f"nbgrader could not make it ({error[-1][:200] if error else '?'})"))
            continue
        made.append((a, s))
        if _manual_pending(course, a, s):
            pending.append((a, s))
    return {"made": made, "skipped": skipped, "pending": pending}


def _generate_feedback(course: Course, api, assignment: str, student: str) -> dict:
    """nbgrader's GenerateFeedback for each notebook of the assignment (and nothing else in the
    folder), with our template; never raises."""
    from nbgrader.converters import GenerateFeedback
    from nbgrader.utils import capture_log, temp_attrs

    for notebook in course.notebooks(assignment):
        try:
            with temp_attrs(api.coursedir, assignment_id=assignment, student_id=student,
                            notebook_id=notebook):
                app = GenerateFeedback(coursedir=api.coursedir, parent=api)
                app.force = True
                out = capture_log(app)
        except Exception as err:  # noqa: BLE001 - one learner never stops the others
            out = {"success": False, "error": f"{type(err).__name__}: {err}"}
        if not out["success"]:
            return out
    return {"success": True}


def _manual_pending(course: Course, assignment: str, student: str) -> bool:
    from nbgrader.api import MissingEntry

    with gradebook(course) as gb:
        try:
            return bool(gb.find_submission(assignment, student).needs_manual_grade)
        except MissingEntry:
            return False


# --- report and export ----------------------------------------------------------------------

def _students(course: Course) -> list[str]:
    from .collect import _roster

    names = set(_roster(course)) | {s for s in _folders(course.submitted) if not s.startswith(".")}
    names |= {p["student"] for p in collect_log(course)["problems"] if p.get("student")}
    return sorted(names)


def _flags(course: Course, assignment: str, folder: Path, record: dict) -> str:
    """What the learner's own cells did to the hidden tests' footing ('' if nothing); never raises."""
    found = list(record.get("tampering") or [])
    try:
        found += [f for f in scan_submission(folder, course.exercises / assignment) if f not in found]
    except Exception as err:  # noqa: BLE001 - a flag, never a reason not to report the grade
        found.append(f"could not scan the submission ({type(err).__name__})")
    return "; ".join(found)


def parse_due(values: list[str] | None) -> dict[str | None, datetime.datetime]:
    """``["2026-12-01T23:59"]`` or ``["04_optimizers=2026-12-01 23:59+01:00"]`` -> due dates.

    The key None holds the due date of every assignment not named. A time
    without a zone is local time.
    """
    due = {}
    for value in values or []:
        name, _, when = value.rpartition("=") if "=" in value else (None, "", value)
        try:
            moment = datetime.datetime.fromisoformat(when.strip())
        except ValueError:
            raise GradingError(f"--due {value!r}: expected an ISO date and time such as "
                               "2026-12-01T23:59 (optionally ASSIGNMENT=...)") from None
        due[name or None] = moment if moment.tzinfo else moment.astimezone()
    return due


def _lateness(course: Course, assignment: str, student: str, due) -> str:
    limit = due.get(assignment, due.get(None))
    entry = collect_log(course)["submissions"].get(f"{assignment}/{student}")
    if limit is None or not entry or not entry.get("time"):
        return ""
    handed = datetime.datetime.fromisoformat(entry["time"])
    if handed <= limit:
        return ""
    late = handed - limit
    hours = late.total_seconds() / 3600
    return f"late by {hours:.1f} h" if hours < 48 else f"late by {late.days} days"


def report_rows(course: Course, due=None) -> list[dict]:
    """One row per student and assignment: graded with its score, or not graded and why.

    A graded row's ``flagged`` says what in the learner's own code tampered with
    what hidden tests rely on ('' if nothing); ``late`` says how late it came,
    given due dates (:func:`parse_due`).
    """
    due = due or {}
    problems = collect_log(course)["problems"]
    current = {}
    if course.gradebook.exists():
        with gradebook(course) as gb:
            for a in gb.assignments:
                for sub in a.submissions:
                    current[(a.name, sub.student.id)] = (sub.score, sub.max_score,
                                                         sub.needs_manual_grade)
    rows = []
    for student in _students(course):
        for a in course.assignments():
            row = {"student": student, "assignment": a}
            folder = course.submitted / student / a
            rec = read_result(course, a, student)
            mine = [p for p in problems if p.get("student") == student]
            clash = [p for p in mine if p["kind"] == "clash" and p.get("assignment") == a]
            misnamed = [p for p in mine if p["kind"] in ("misnamed", "conflict")
                        and p.get("assignment") in (a, None)]
            if clash:
                row.update(status=NOT_GRADED, reason=f"clash: {clash[0]['detail']}")
            elif not folder.is_dir() or folder.is_symlink():
                if misnamed:
                    row.update(status=NOT_GRADED,
                               reason=f"misnamed: {misnamed[0]['file']} ({misnamed[0]['detail']})")
                else:
                    row.update(status=NOT_GRADED, reason="missing: no submission")
            elif rec is None or rec.get("submission_hash") != submission_hash(folder):
                row.update(status=NOT_GRADED, reason="pending: not autograded yet")
            elif rec["status"] == GRADED:
                score, max_score, manual = current.get((a, student), (rec["score"], rec["max_score"],
                                                                      rec["needs_manual_grade"]))
                note = []
                if manual:
                    note.append("written answers await manual grading")
                if rec.get("remark"):
                    note.append(f"written answers changed since marked: {', '.join(rec['remark'])}")
                if rec.get("cell_timeouts"):
                    note.append(f"{rec['cell_timeouts']} cell(s) timed out")
                row.update(status=GRADED, score=score, max_score=max_score, reason="; ".join(note),
                           flagged=_flags(course, a, folder, rec), manual_pending=bool(manual))
            else:
                row.update(status=NOT_GRADED, reason=rec["reason"])
            if folder.is_dir():
                row["late"] = _lateness(course, a, student, due)
            rows.append(row)
    return rows


def report(course: Course, due=None) -> tuple[str, list[dict]]:
    """Write ``grading/report.txt`` and ``grading/report.csv``; return the text and the rows."""
    rows = report_rows(course, due)
    course.ensure_dirs()
    width = max([len(r["student"]) for r in rows] + [7])
    awidth = max([len(r["assignment"]) for r in rows] + [10])
    lines = [f"{'student':<{width}}  {'assignment':<{awidth}}  outcome"]
    for r in rows:
        if r["status"] == GRADED:
            outcome = f"graded {r['score']:g} / {r['max_score']:g}"
            if r["reason"]:
                outcome += f" ({r['reason']})"
            if r.get("flagged"):
                outcome += f" — FLAGGED for review: {r['flagged']}"
        else:
            outcome = f"NOT graded: {r['reason']}"
        if r.get("late"):
            outcome += f" — LATE ({r['late']})"
        lines.append(f"{r['student']:<{width}}  {r['assignment']:<{awidth}}  {outcome}")
    problems = [p for p in collect_log(course)["problems"] if p["kind"] in ("unattributed", "rejected")]
    if problems:
        lines.append("")
        lines.append("files collect could not give to anyone (kept under grading/unattributed/):")
        lines += [f"  {p['file']}: {p['kind']}, {p.get('detail', '')}"
                  + (f" -> {p['kept']}" if p.get("kept") else "") for p in problems]
    text = "\n".join(lines) + "\n"
    (course.grading / "report.txt").write_text(text)
    with open(course.grading / "report.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["student", "assignment", "status", "score", "max_score",
                                     "reason", "flagged", "late"])
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in writer.fieldnames})
    return text, rows


def export(course: Course, to: Path | None = None, due=None, fmt: str = "lms") -> Path:
    """Grades to CSV.

    ``fmt="lms"`` (default): one row per learner, one column per assignment with
    the score, blank (never 0) where nothing was handed in or nothing could be
    graded, and beside it a column with the reason (or "late by ...", or
    "written answers await manual grading"). ``fmt="nbgrader"``: nbgrader's own
    export (one row per learner and assignment).
    """
    to = Path(to) if to else course.grading / ("grades.csv" if fmt == "lms" else "nbgrader.csv")
    to.parent.mkdir(parents=True, exist_ok=True)
    course.ensure_dirs()
    if fmt == "nbgrader":
        from nbgrader.plugins import CsvExportPlugin

        with gradebook(course) as gb:
            CsvExportPlugin(to=str(to)).export(gb)
        return to
    if fmt != "lms":
        raise GradingError(f"unknown export format {fmt!r}: lms or nbgrader")
    rows = report_rows(course, due)
    assignments = course.assignments()
    header = ["student"]
    for a in assignments:
        header += [a, f"{a} note"]
    by_student: dict[str, dict] = {}
    for r in rows:
        line = by_student.setdefault(r["student"], {"student": r["student"]})
        if r["status"] == GRADED:
            line[r["assignment"]] = f"{r['score']:g}"
            note = [r["reason"]] if r["reason"] else []
        else:
            line[r["assignment"]] = ""
            note = [r["reason"]]
        if r.get("late"):
            note.append(r["late"])
        if r.get("flagged"):
            note.append("flagged for review")
        line[f"{r['assignment']} note"] = "; ".join(note)
    with open(to, "w", newline="") as fh:
        writer = csv.DictWriter(fh, header)
        writer.writeheader()
        for student in sorted(by_student):
            writer.writerow({k: by_student[student].get(k, "") for k in header})
    return to

