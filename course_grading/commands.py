"""The instructor's commands, one per step: release, collect, autograde, feedback, export, report."""
from __future__ import annotations

import contextlib
import csv
import difflib
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from .course import COURSE_ID, Course, Limits, nbgrader_config
from .tamper import scan_submission
from .worker import (GRADED, NOT_GRADED, forget_submission, gradebook, read_result,
                     result_path, serialise_gradebook, submission_hash, write_result)

STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


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


# --- collect --------------------------------------------------------------------------------

def _iter_input(source: Path, workdir: Path):
    """Yield (relative path, absolute path) of every notebook in a folder or zip."""
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                name = info.filename
                if info.is_dir() or "__MACOSX" in name or ".ipynb_checkpoints" in name:
                    continue
                target = (workdir / name).resolve()
                if not str(target).startswith(str(workdir.resolve()) + os.sep):
                    continue  # a path escaping the folder: ignore it
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        root = workdir
    elif source.is_dir():
        root = source
    else:
        raise GradingError(f"{source} is neither a folder nor a zip file")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not any(part.startswith(".") or part == "__MACOSX"
                                      for part in rel.parts):
            yield rel, path


def _parse_name(rel: Path, index: dict[str, str]):
    """(student, notebook) from ``alice_demo.ipynb`` or ``alice/demo.ipynb``; notebook None if unknown."""
    stem = rel.stem if rel.suffix == ".ipynb" else rel.name
    if rel.suffix == ".ipynb":
        for nb in sorted(index, key=len, reverse=True):
            if stem.endswith("_" + nb) and len(stem) > len(nb) + 1:
                return stem[: -len(nb) - 1], nb
        if len(rel.parts) >= 2 and stem in index:
            return rel.parts[-2], stem
    if "_" in stem:
        return stem.split("_", 1)[0], None
    return (rel.parts[-2] if len(rel.parts) >= 2 else None), None


def _guess_notebook(rel: Path, student: str | None, index: dict[str, str]) -> str | None:
    stem = rel.stem.lower()
    if student and stem.startswith(student.lower() + "_"):
        stem = stem[len(student) + 1:]
    if len(index) == 1:
        return next(iter(index))
    guess = difflib.get_close_matches(stem, list(index), n=1, cutoff=0.3)
    return guess[0] if guess else None


def collect(course: Course, source: Path) -> dict:
    """Copy submissions into ``grading/submitted/<student>/<assignment>/<notebook>.ipynb``.

    Files are named ``<student>_<notebook>.ipynb`` (``alice_demo.ipynb``) or
    ``<student>/<notebook>.ipynb``, anywhere in the folder or zip.  Other files
    are reported as misnamed, with the name expected, and remembered for the report.
    """
    course.ensure_dirs()
    index = course.notebook_index()
    collected, problems = [], []
    with tempfile.TemporaryDirectory(prefix="cg-collect-") as tmp:
        for rel, path in _iter_input(Path(source), Path(tmp)):
            student, nb = _parse_name(rel, index)
            if student is not None and not STUDENT_ID.match(student):
                student = None
            if nb is None or student is None:
                guess = _guess_notebook(rel, student, index)
                expected = f"{student or '<student>'}_{guess or '<notebook>'}.ipynb"
                problems.append({"file": str(rel), "student": student,
                                 "assignment": index.get(guess),
                                 "reason": "misnamed", "expected": expected})
                continue
            dest = course.submitted / student / index[nb] / f"{nb}.ipynb"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            collected.append({"file": str(rel), "student": student, "assignment": index[nb]})
    log_path = course.grading / "collect.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {"misnamed": []}
    fresh = {(c["student"], c["assignment"]) for c in collected}
    kept = [p for p in log["misnamed"] if (p["student"], p["assignment"]) not in fresh
            and p["file"] not in {q["file"] for q in problems}]
    log["misnamed"] = kept + problems
    log_path.write_text(json.dumps(log, indent=1, sort_keys=True))
    return {"collected": collected, "misnamed": problems}


# --- autograde ------------------------------------------------------------------------------

def submissions(course: Course, assignment: str | None = None) -> list[tuple[str, str]]:
    """Every (assignment, student) with a folder under ``grading/submitted``."""
    wanted = set(_selected(course, assignment))
    pairs = []
    if course.submitted.is_dir():
        for sdir in sorted(course.submitted.iterdir()):
            if sdir.is_dir():
                for adir in sorted(sdir.iterdir()):
                    if adir.is_dir() and adir.name in wanted:
                        pairs.append((adir.name, sdir.name))
    return pairs


def _limit_args(limits: Limits) -> list[str]:
    return [f"--cell-timeout={limits.cell_timeout}", f"--interrupt-grace={limits.interrupt_grace}",
            f"--budget={limits.notebook_budget}", f"--memory={limits.memory}",
            f"--processes={limits.processes}", f"--output={limits.output}",
            f"--file-size={limits.file_size}"] + ([] if limits.sandbox else ["--no-sandbox"])


def _not_graded(course: Course, assignment: str, student: str, reason: str, **extra) -> dict:
    record = {"assignment": assignment, "student": student, "status": NOT_GRADED, "reason": reason,
              "submission_hash": submission_hash(course.submitted / student / assignment), **extra}
    write_result(course, assignment, student, record)
    return record


class _Worker:
    """One long-lived grading process (``_serve``) of one slot, and the pipe to it.

    The process imports nbgrader once and grades the submissions sent to it one at
    a time, each with new sandboxed kernels; it is told the next submission as it
    begins one, so it can start that one's kernel early.  A submission's budget runs
    from its "begin"; a process that outlives it, or dies, is killed (with its
    kernels) and the caller starts a new one for the submissions still to grade.
    """

    STARTUP_TIMEOUT = 120

    def __init__(self, course: Course, limits: Limits, slot: int):
        cmd = [sys.executable, "-m", "course_grading", "--course", str(course.root), "_serve",
               f"--slot={slot}"] + _limit_args(limits)
        env = dict(os.environ,
                   PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.course = course
        logs = course.grading / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"worker{slot}.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, env=env, cwd=PACKAGE_PARENT,
                                         start_new_session=True)
        self._buffer = b""
        self.ready = self._readline(time.monotonic() + self.STARTUP_TIMEOUT) is not None

    def _readline(self, deadline: float) -> dict | None:
        """The next answer of the process; None if it died or the deadline passed."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def log_path(self, pair: tuple[str, str]) -> Path:
        return self.course.grading / "logs" / pair[0] / f"{pair[1]}.log"

    def send(self, message: dict | tuple[str, str]) -> bool:
        if isinstance(message, tuple):
            log = self.log_path(message)
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_bytes(b"")
            message = {"assignment": message[0], "student": message[1], "log": str(log)}
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except OSError:
            return False

    def grade(self, pair: tuple[str, str], budget: float, after) -> str:
        """Wait for the submission ``pair`` (already sent): 'done', 'timeout' or 'died'.

        ``after()`` is called when it begins and returns the next submission to send
        (or None).
        """
        answer = self._readline(time.monotonic() + self.STARTUP_TIMEOUT)
        if answer is None or answer.get("begin") != list(pair):
            return self._ended()
        following = after()
        if not self.send(following if following is not None else {"next": None}):
            return self._ended()
        answer = self._readline(time.monotonic() + budget)
        if answer is not None and answer.get("done") == list(pair):
            return "done"
        return self._ended()

    def _ended(self) -> str:
        died = self.proc.poll() is not None
        self.kill()
        return "died" if died else "timeout"

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def _record_after(course: Course, pair: tuple[str, str], outcome: str, worker: _Worker,
                  limits: Limits) -> dict:
    """The result record of a submission its worker finished, or the reason it did not."""
    assignment, student = pair
    if outcome == "timeout":
        forget_submission(course, assignment, student)
        shutil.rmtree(course.autograded / student / assignment, ignore_errors=True)
        return _not_graded(course, assignment, student,
                           f"timeout: the submission ran past its budget of "
                           f"{limits.notebook_budget} s")
    record = read_result(course, assignment, student)
    if record is None:
        record = _not_graded(course, assignment, student,
                             f"grading error: the grading process exited with code "
                             f"{worker.proc.poll()} (see {worker.log_path(pair)})", retry=True)
    return record


def _grade_slot(course: Course, limits: Limits, slot: int, tasks: queue.Queue,
                done: dict) -> None:
    """Grade submissions from ``tasks`` with one grading process, replaced when it dies."""
    def take():
        try:
            return tasks.get_nowait()
        except queue.Empty:
            return None

    worker, pair = None, take()
    try:
        while pair is not None:
            if worker is None:
                worker = _Worker(course, limits, slot)
                if not worker.ready:
                    code = worker.proc.poll()
                    worker.kill()
                    worker = None
                    done[pair] = _not_graded(
                        course, *pair, f"grading error: the grading process did not start "
                        f"(exit code {code}; see {course.grading / 'logs' / f'worker{slot}.log'})",
                        retry=True)
                    pair = take()
                    continue
                worker.send(pair)
            sent = []

            def after():
                sent.append(take())
                return sent[0]

            outcome = worker.grade(pair, limits.notebook_budget, after)
            done[pair] = _record_after(course, pair, outcome, worker, limits)
            following = sent[0] if sent else None
            if outcome != "done":
                worker = None  # killed: the submission sent ahead goes to a new process
                if following is None:
                    following = take()
            elif following is None:
                following = take()
                if following is not None:
                    worker.send(following)
            pair = following
    finally:
        if worker is not None:
            worker.close()


def autograde(course: Course, limits: Limits | None = None, *, jobs: int | None = None,
              assignment: str | None = None, force: bool = False) -> list[dict]:
    """Autograde every submission not yet graded in its current form, ``jobs`` at a time.

    A submission whose record exists and whose files are unchanged is skipped,
    so running again after an interruption grades only what is left;
    ``force`` grades everything again.  Never stops on a bad submission.
    """
    limits = limits or Limits()
    if limits.sandbox:
        from .sandbox import bwrap_available
        if not bwrap_available():
            raise GradingError("bubblewrap (bwrap) is not installed: `apt-get install bubblewrap`, "
                               "or pass --no-sandbox only if you trust every submission")
    course.ensure_dirs()
    pairs = submissions(course, assignment)
    ensure_gradebook(course, sorted({a for a, _ in pairs}))
    todo = []
    for a, s in pairs:
        old = read_result(course, a, s)
        if force or old is None or old.get("retry") or old.get("submission_hash") != submission_hash(
                course.submitted / s / a):
            result_path(course, a, s).unlink(missing_ok=True)
            todo.append((a, s))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(todo)))
    tasks: queue.Queue[tuple[str, str]] = queue.Queue()
    for pair in todo:
        tasks.put(pair)
    done: dict[tuple[str, str], dict] = {}

    errors: list[str] = []

    def run(slot: int) -> None:
        try:
            _grade_slot(course, limits, slot, tasks, done)
        except Exception:  # noqa: BLE001 - the other slots go on; its submissions are marked
            import traceback
            errors.append(traceback.format_exc())

    # the threads start the processes, which die with the thread that started them (and with
    # this process: daemon threads, so an interrupted run stops at once and resumes later)
    threads = [threading.Thread(target=run, args=(k,), name=f"grader-{k}", daemon=True)
               for k in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for pair in todo:
        if pair not in done:
            done[pair] = read_result(course, *pair) or _not_graded(
                course, *pair, "grading error: " + (errors[-1].strip().splitlines()[-1][:200]
                                                    if errors else "not reached"), retry=True)
    return [done[pair] for pair in todo]


# --- feedback, export -------------------------------------------------------------------------

def feedback(course: Course, assignment: str | None = None) -> list[tuple[str, str]]:
    """HTML feedback for every graded submission, hidden tests removed."""
    api = _api(course)
    made = []
    for a, s in submissions(course, assignment):
        if not (course.autograded / s / a).exists():
            continue
        out = api.generate_feedback(a, s, force=True)
        if not out["success"]:
            raise GradingError(f"generate_feedback {a} {s} failed:\n{out.get('log', '')}")
        made.append((a, s))
    return made


def export(course: Course, to: Path | None = None) -> Path:
    """nbgrader's CSV export of the gradebook (one row per student and assignment)."""
    from nbgrader.plugins import CsvExportPlugin

    to = Path(to) if to else course.grading / "grades.csv"
    to.parent.mkdir(parents=True, exist_ok=True)
    course.ensure_dirs()
    with gradebook(course) as gb:
        CsvExportPlugin(to=str(to)).export(gb)
    return to


# --- report ---------------------------------------------------------------------------------

def _students(course: Course) -> list[str]:
    names = set()
    roster = course.root / "roster.txt"
    for path in (roster, course.grading / "roster.txt"):
        if path.exists():
            names |= {line.strip() for line in path.read_text().splitlines()
                      if line.strip() and not line.startswith("#")}
    if course.submitted.is_dir():
        names |= {p.name for p in course.submitted.iterdir() if p.is_dir()}
    log_path = course.grading / "collect.json"
    if log_path.exists():
        names |= {p["student"] for p in json.loads(log_path.read_text())["misnamed"] if p["student"]}
    return sorted(names)


def _flags(course: Course, assignment: str, folder: Path) -> str:
    """What the learner's own cells do to the hidden tests' footing ('' if nothing); never raises."""
    try:
        return "; ".join(scan_submission(folder, course.exercises / assignment))
    except Exception as err:  # noqa: BLE001 - a flag, never a reason not to report the grade
        return f"could not scan the submission ({type(err).__name__})"


def report_rows(course: Course) -> list[dict]:
    """One row per student and assignment: graded with its score, or not graded and why.

    A graded row's ``flagged`` says what in the learner's own cells tampers with
    what hidden tests rely on (see :mod:`course_grading.tamper`); '' if nothing.
    """
    log_path = course.grading / "collect.json"
    misnamed = json.loads(log_path.read_text())["misnamed"] if log_path.exists() else []
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
            bad = [m for m in misnamed if m["student"] == student and m["assignment"] == a]
            if not folder.exists():
                if bad:
                    row.update(status=NOT_GRADED, reason=f"misnamed: got {bad[0]['file']!r}, "
                                                         f"expected {bad[0]['expected']!r}")
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
                if rec.get("cell_timeouts"):
                    note.append(f"{rec['cell_timeouts']} cell(s) timed out")
                row.update(status=GRADED, score=score, max_score=max_score, reason="; ".join(note),
                           flagged=_flags(course, a, folder))
            else:
                row.update(status=NOT_GRADED, reason=rec["reason"])
            rows.append(row)
    return rows


def report(course: Course) -> tuple[str, list[dict]]:
    """Write ``grading/report.txt`` and ``grading/report.csv``; return the text and the rows."""
    rows = report_rows(course)
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
        lines.append(f"{r['student']:<{width}}  {r['assignment']:<{awidth}}  {outcome}")
    text = "\n".join(lines) + "\n"
    (course.grading / "report.txt").write_text(text)
    with open(course.grading / "report.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, ["student", "assignment", "status", "score", "max_score",
                                     "reason", "flagged"])
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in writer.fieldnames})
    return text, rows
