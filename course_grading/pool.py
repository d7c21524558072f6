"""The grading processes of one autograde run, and how the run talks to them.

A run (:class:`Run`) owns a private folder (sockets and reports of its
kernels), a block of sandbox users, and a reaper process
(:mod:`course_grading.reaper`) that frees both, and kills every grading process
and kernel, when the run ends in any way, SIGKILL included.

Each slot (one per job) has one long-lived grading process
(``python -m course_grading _serve``, :func:`course_grading.worker.serve`) and
two sandbox users, taken in turns. The slot and its process speak JSON, one
object per line:

====================================  ====================================================
process -> slot                        slot -> process
====================================  ====================================================
``{"ready": pid}`` once started
                                       ``{"assignment", "student", "log"}``: a submission
``{"begin": [assignment, student]}``
                                       the next submission, or ``{"next": null}``
``{"done": [assignment, student]}``
                                       (end of input: the process exits)
====================================  ====================================================

The process starts the kernel of the next submission while it grades the
current one. A submission's budget runs from its "begin"; a process that
outlives it, or dies, is killed (with its kernels) and the slot starts a new one
for the submissions left.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .course import Course, Limits

PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
UID_FIRST = 62000          # sandbox users: blocks of UID_BLOCK from here
UID_BLOCK = 64
UID_BLOCKS = 256


def allocate_uids(jobs: int):
    """(first uid, open lock file) of a block of sandbox users no other run on this machine holds."""
    if 2 * jobs > UID_BLOCK:
        raise ValueError(f"at most {UID_BLOCK // 2} parallel jobs")
    folder = Path(tempfile.gettempdir()) / "course-grading-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    for block in range(UID_BLOCKS):
        first = UID_FIRST + block * UID_BLOCK
        lock = open(folder / f"{first}.lock", "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return first, lock
    raise RuntimeError(f"all {UID_BLOCKS} blocks of sandbox users are in use on this machine")


class Run:
    """One autograde run's private folder, sandbox users and reaper."""

    def __init__(self, jobs: int):
        self.folder = tempfile.mkdtemp(prefix="cg-run-")
        self.first_uid, lock = allocate_uids(jobs)
        self.reaper = subprocess.Popen(
            [sys.executable, "-m", "course_grading.reaper"], stdin=subprocess.PIPE,
            start_new_session=True, pass_fds=(lock.fileno(),), cwd=PACKAGE_PARENT,
            env=dict(os.environ, PYTHONPATH=PACKAGE_PARENT + os.pathsep
                     + os.environ.get("PYTHONPATH", "")))
        lock.close()  # the reaper holds it now, until everything is freed
        self._lock = threading.Lock()
        self.tell(f"dir {self.folder}")
        self.tell(f"uids {self.first_uid} {self.first_uid + UID_BLOCK - 1}")

    def uids(self, slot: int) -> tuple[int, int]:
        return self.first_uid + 2 * slot, self.first_uid + 2 * slot + 1

    def tell(self, line: str) -> None:
        with self._lock, contextlib.suppress(OSError, ValueError):
            self.reaper.stdin.write((line + "\n").encode())
            self.reaper.stdin.flush()

    def close(self) -> None:
        """Free everything now (the reaper would do it anyway when this process ends)."""
        with contextlib.suppress(OSError):
            self.reaper.stdin.close()
        self.reaper.wait()


class Worker:
    """One long-lived grading process of one slot, and the pipe to it."""

    STARTUP_TIMEOUT = 120

    def __init__(self, course: Course, limits: Limits, run: Run, slot: int):
        first, second = run.uids(slot)
        cmd = [sys.executable, "-m", "course_grading", "_serve", "--course", str(course.root),
               "--gdlib", str(course.library), "--run-dir", run.folder,
               f"--uids={first},{second}"] + limits.to_arguments()
        env = dict(os.environ,
                   PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.course, self.run = course, run
        logs = course.grading / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"worker{slot}.log", "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log, env=env, cwd=PACKAGE_PARENT,
                                         start_new_session=True)
        run.tell(f"pgid {self.proc.pid}")
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

        ``after()`` is called when it begins and returns the next submission to send (or None).
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
        self.run.tell(f"ended {self.proc.pid}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            self.run.tell(f"ended {self.proc.pid}")


def grade_all(course: Course, limits: Limits, pairs: list[tuple[str, str]], jobs: int,
              on_result) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """Grade every (assignment, student) in ``pairs`` with ``jobs`` grading processes.

    ``on_result(pair, outcome, worker)`` is called once per submission, with
    ``outcome`` 'done', 'timeout', 'died' or 'not started', and returns its record.
    Returns the records by submission, and the tracebacks of slots that failed.
    """
    run = Run(jobs)
    tasks: queue.Queue[tuple[str, str]] = queue.Queue()
    for pair in pairs:
        tasks.put(pair)
    done: dict[tuple[str, str], dict] = {}
    errors: list[str] = []

    def take():
        try:
            return tasks.get_nowait()
        except queue.Empty:
            return None

    def slot(k: int) -> None:
        worker, pair = None, take()
        try:
            while pair is not None:
                if worker is None:
                    worker = Worker(course, limits, run, k)
                    if not worker.ready:
                        worker.kill()
                        done[pair] = on_result(pair, "not started", worker)
                        worker, pair = None, take()
                        continue
                    worker.send(pair)
                sent = []

                def after():
                    sent.append(take())
                    return sent[0]

                outcome = worker.grade(pair, limits.notebook_budget, after)
                done[pair] = on_result(pair, outcome, worker)
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
        except Exception:  # noqa: BLE001 - the other slots go on; this one's submissions are marked
            import traceback
            errors.append(traceback.format_exc())
        finally:
            if worker is not None:
                worker.close()

    # daemon threads: an interrupted run stops at once (the reaper frees what it held) and resumes
    threads = [threading.Thread(target=slot, args=(k,), name=f"grader-{k}", daemon=True)
               for k in range(jobs)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        run.close()
    return done, errors
