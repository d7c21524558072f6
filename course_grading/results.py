"""What grading knows about each submission, and the gradebook kept safe.

* One JSON record per (assignment, student) under ``grading/results/``: graded
  with its scores, or not graded and why. Records are written atomically and
  last, so an interrupted run resumes with whatever has no record yet.
* The gradebook (nbgrader's SQLite file) is written by one process at a time
  (:func:`serialise_gradebook`), backed up before every autograde run and
  checked afterwards (:func:`backup_gradebook`, :func:`check_gradebook`).
* Manual grades (scores and comments on written answers) are saved beside the
  gradebook before a submission is graded again and put back afterwards when the
  answer is unchanged (:func:`save_manual_grades`, :func:`restore_manual_grades`).
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import stat
from pathlib import Path

from .course import COURSE_ID, Course

NOT_GRADED = "not graded"
GRADED = "graded"
BACKUPS_KEPT = 10


def submission_hash(folder: Path) -> str:
    """A fingerprint of a submission folder: every entry's path, kind and (for files) content.

    Never follows a link (a link counts by its target's name, not its content).
    """
    digest = hashlib.sha256()
    folder = Path(folder)
    for dirpath, dirnames, filenames in sorted(os.walk(folder, followlinks=False)):
        dirnames.sort()
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, folder).encode("utf-8", "surrogateescape") + b"\0")
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                with open(path, "rb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW)) as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(chunk)
            elif stat.S_ISLNK(mode):
                digest.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
            else:
                digest.update(f"mode:{stat.S_IFMT(mode)}".encode())
            digest.update(b"\0")
    return digest.hexdigest()


def result_path(course: Course, assignment: str, student: str) -> Path:
    return course.results / assignment / f"{student}.json"


def write_json(path: Path, data) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)


def read_json(path: Path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def write_result(course: Course, assignment: str, student: str, record: dict) -> None:
    write_json(result_path(course, assignment, student), record)


def read_result(course: Course, assignment: str, student: str) -> dict | None:
    return read_json(result_path(course, assignment, student))


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# --- one writer at a time on the gradebook ----------------------------------------------

_lock_depth = 0
_lock_file = None
_lock_path = None     # the lock file of the course being graded
_locked_init = None   # nbgrader's Gradebook.__init__ once it takes the lock


def serialise_gradebook(lock_path: Path) -> None:
    """Make every nbgrader ``Gradebook`` session in this process hold an exclusive file lock.

    Sessions are short (nbgrader opens one per step), so parallel graders queue
    for a few milliseconds, and SQLite never sees two writers.
    """
    from nbgrader import api

    global _lock_path, _locked_init
    _lock_path = str(lock_path)
    if api.Gradebook.__init__ is _locked_init:  # patched already: only the lock file changes
        return
    original_init, original_close = api.Gradebook.__init__, api.Gradebook.close

    def __init__(self, *args, **kwargs):
        global _lock_depth, _lock_file
        if _lock_depth == 0:
            _lock_file = open(_lock_path, "a")
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

    _locked_init = __init__
    api.Gradebook.__init__ = __init__
    api.Gradebook.close = close


@contextlib.contextmanager
def gradebook(course: Course):
    from nbgrader.api import Gradebook

    serialise_gradebook(course.grading / "gradebook.lock")
    gb = Gradebook(course.db_url, COURSE_ID)
    try:
        yield gb
    finally:
        gb.close()


# --- backups ------------------------------------------------------------------------------

def check_gradebook(path: Path) -> str | None:
    """What is wrong with the gradebook file at ``path`` (None: a sound nbgrader gradebook)."""
    try:
        with open(path, "rb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW)) as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                return "it is not an SQLite database"
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if con.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                return "SQLite's integrity check failed"
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except (OSError, sqlite3.Error) as err:
        return f"it cannot be read ({err})"
    missing = {"assignment", "student", "submitted_assignment", "grade"} - tables
    return f"tables {sorted(missing)} are missing" if missing else None


def backup_gradebook(course: Course) -> Path | None:
    """Copy the gradebook to ``grading/backups/`` (SQLite's online backup); keep the last few."""
    if not course.gradebook.exists():
        return None
    problem = check_gradebook(course.gradebook)
    if problem:
        raise RuntimeError(f"the gradebook {course.gradebook} is damaged before grading: {problem}; "
                           f"restore a copy from {course.grading / 'backups'}")
    folder = course.grading / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = folder / f"gradebook-{stamp}.db"
    source = sqlite3.connect(f"file:{course.gradebook}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target)
        with dest:
            source.backup(dest)
        dest.close()
    finally:
        source.close()
    for old in sorted(folder.glob("gradebook-*.db"))[:-BACKUPS_KEPT]:
        old.unlink()
    return target


def restore_gradebook(course: Course, backup: Path) -> None:
    """Put ``backup`` back as the gradebook (the damaged file is kept beside it)."""
    if course.gradebook.exists() or course.gradebook.is_symlink():
        os.replace(course.gradebook, course.gradebook.with_name(
            f"gradebook.damaged-{datetime.datetime.now():%Y%m%d-%H%M%S}"))
    shutil.copyfile(backup, course.gradebook)


# --- manual grades --------------------------------------------------------------------------

def _manual_path(course: Course, assignment: str, student: str) -> Path:
    return course.grading / "manual" / assignment / f"{student}.json"


def answer_hash(source: str) -> str:
    return hashlib.sha256(source.strip().encode()).hexdigest()[:16]


def manual_answers(course: Course, assignment: str, student: str) -> dict[str, str]:
    """``notebook/grade_id -> hash`` of every written answer in the autograded notebooks."""
    import nbformat

    out = {}
    for name in course.notebooks(assignment):
        path = course.autograded / student / assignment / f"{name}.ipynb"
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - no autograded notebook: no answers
            continue
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and meta.get("solution") and cell.cell_type == "markdown":
                out[f"{name}/{meta.get('grade_id')}"] = answer_hash(cell.source)
    return out


def save_manual_grades(course: Course, assignment: str, student: str) -> dict:
    """Record the submission's manual scores and comments (kept beside the gradebook); return them."""
    if not course.gradebook.exists():
        return {}
    from nbgrader.api import MissingEntry

    saved = read_json(_manual_path(course, assignment, student), {}) or {}
    answers = read_json(result_path(course, assignment, student), {}) or {}
    answers = answers.get("answers", {})
    with gradebook(course) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return saved
        for nb in sub.notebooks:
            for grade in nb.grades:
                key = f"{nb.name}/{grade.name}"
                if grade.manual_score is not None:
                    entry = saved.setdefault(key, {})
                    entry.update(manual_score=grade.manual_score,
                                 needs_manual_grade=bool(grade.needs_manual_grade),
                                 answer=answers.get(key, entry.get("answer")))
            for comment in nb.comments:
                key = f"{nb.name}/{comment.name}"
                if comment.manual_comment:
                    entry = saved.setdefault(key, {})
                    entry.update(manual_comment=comment.manual_comment,
                                 answer=answers.get(key, entry.get("answer")))
    if saved:
        write_json(_manual_path(course, assignment, student), saved)
    return saved


def restore_manual_grades(course: Course, assignment: str, student: str,
                          answers: dict[str, str]) -> list[str]:
    """Put saved manual grades back where the written answer is unchanged.

    Where it changed, the old mark is taken off the gradebook (it stays in
    ``grading/manual/``). Returns the parts whose answer changed since they were
    marked (to mark again).
    """
    saved = read_json(_manual_path(course, assignment, student), {}) or {}
    if not saved:
        return []
    from nbgrader.api import MissingEntry

    stale = []
    with gradebook(course) as gb:
        for key, entry in saved.items():
            notebook, grade_id = key.split("/", 1)
            if entry.get("answer") and answers.get(key) != entry["answer"]:
                # a mark of another answer: the gradebook must not show it for this one
                stale.append(key)
                try:
                    grade = gb.find_grade(grade_id, notebook, assignment, student)
                    grade.manual_score, grade.needs_manual_grade = None, True
                    gb.find_comment(grade_id, notebook, assignment, student).manual_comment = None
                except MissingEntry:
                    pass
                continue
            try:
                if "manual_score" in entry:
                    grade = gb.find_grade(grade_id, notebook, assignment, student)
                    grade.manual_score = entry["manual_score"]
                    grade.needs_manual_grade = entry.get("needs_manual_grade", False)
                if entry.get("manual_comment"):
                    comment = gb.find_comment(grade_id, notebook, assignment, student)
                    comment.manual_comment = entry["manual_comment"]
            except MissingEntry:
                stale.append(key)
        gb.db.commit()
    return stale
