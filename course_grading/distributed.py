"""Autograding on a Dask cluster: ``python -m course_grading autograde --scheduler ADDRESS``.

The instructor's process stays the only writer of the gradebook and of the
result records; the cluster's workers only grade. The instructor's process:

1. packs what grading needs (``solutions/`` of the assignments to grade and the
   course's ``gdlib``) into one archive, sent once to every worker;
2. has every worker self-test in its own environment (``Client.run``): each
   assignment's solution must earn every autograded point there;
3. submits one task per submission, with the submission's files; each worker
   grades it exactly as ``autograde`` does on one machine (a long-lived grading
   process, a new bubblewrap sandbox per kernel, the same limits), in a folder of
   its own holding the unpacked course, and returns the record, the autograded
   notebooks and the automatic comments;
4. writes each result into ``grading/`` as it arrives: the autograded notebooks,
   the scores into the gradebook, the record last. So interrupting and resuming,
   regrading and the report behave as on one machine.

A worker that dies in the middle of a submission has it retried on another
worker once (the scheduler's ``allowed_failures`` is set to 1 for the run); if
that one dies too, the submission is *not graded* with that reason.

Workers need the same Python environment as the instructor (the course checkout
or wheel installed with the ``grading`` extra), bubblewrap, root (the sandbox
switches users), and one thread each (``dask worker ADDRESS --nthreads 1``).
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import threading
from pathlib import Path

from distributed import WorkerPlugin

from .course import Course, Limits
from .results import GRADED, gradebook, result_path, submission_hash, write_result

PLUGIN = "course-grading"


# --- what travels to the workers ------------------------------------------------------------

def pack_course(course: Course, assignments: list[str]) -> bytes:
    """A gzipped tar of ``solutions/<assignment>/`` for each assignment and the course's gdlib."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for assignment in sorted(assignments):
            tar.add(course.solutions / assignment, f"solutions/{assignment}",
                    filter=_regular_files_only)
        tar.add(course.library, "gdlib", filter=_regular_files_only)
    return buffer.getvalue()


def _regular_files_only(info: tarfile.TarInfo):
    if "__pycache__" in info.name or not (info.isfile() or info.isdir()):
        return None
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def submission_files(course: Course, assignment: str, student: str) -> dict[str, bytes]:
    """The files of a submission folder (regular files only; the grader checks the folder first)."""
    folder = course.submitted / student / assignment
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


# --- the worker side --------------------------------------------------------------------------

class GradingPlugin(WorkerPlugin):
    """Held by each Dask worker: its unpacked courses and its long-lived grading process.

    One per worker process. Tasks run one at a time (a lock), whatever
    ``--nthreads`` says.
    """

    idempotent = True  # registered by every run; a worker keeps the one it has

    def setup(self, worker=None):
        """Made on the worker (the plugin travels there empty)."""
        from .pool import Run

        self.courses: dict[str, Course] = {}
        self.lock = threading.Lock()
        self.worker = None          # the pool.Worker grading for the current course
        self.worker_course = None
        self.folder = tempfile.mkdtemp(prefix="cg-dask-")
        # its reaper frees the sandboxes, the grading process and this folder even if the
        # Dask worker is killed
        self.run = Run(1)
        self.run.tell(f"dir {self.folder}")

    def teardown(self, worker=None):
        self._stop_worker()
        if self.run is not None:
            self.run.close()
            self.run = None
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def course(self, key: str, bundle: bytes) -> Course:
        """The unpacked course of archive ``key`` (released into its own gradebook once)."""
        if key not in self.courses:
            from .commands import release

            root = Path(self.folder) / key[:16]
            shutil.rmtree(root, ignore_errors=True)
            with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
                tar.extractall(root, filter="data")
            course = Course(root, gdlib=root / "gdlib")
            for assignment in course.assignments():
                release(course, assignment, into=root / "release")
            self.courses[key] = course
        return self.courses[key]

    def _stop_worker(self):
        if self.worker is not None:
            self.worker.close()
            self.worker, self.worker_course = None, None

    def grade(self, key: str, bundle: bytes, limits: Limits, assignment: str, student: str,
              files: dict[str, bytes]) -> dict:
        from .commands import outcome_record
        from .pool import Worker

        with self.lock:
            course = self.course(key, bundle)
            folder = course.submitted / student / assignment
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for name, data in files.items():
                target = (folder / name).resolve()
                if not str(target).startswith(str(folder.resolve()) + os.sep):
                    continue  # a name leading out of the folder: never written
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            result_path(course, assignment, student).unlink(missing_ok=True)
            if self.worker is not None and (self.worker_course is not course
                                            or self.worker.proc.poll() is not None):
                self._stop_worker()
            if self.worker is None:
                self.worker, self.worker_course = Worker(course, limits, self.run, 0), course
                if not self.worker.ready:
                    record = outcome_record(course, limits, (assignment, student), "not started",
                                            self.worker)
                    self._stop_worker()
                    return {"record": record}
            pair = (assignment, student)
            self.worker.send(pair)
            outcome = self.worker.grade(pair, limits.notebook_budget, lambda: None)
            record = outcome_record(course, limits, pair, outcome, self.worker)
            if outcome != "done":
                self.worker, self.worker_course = None, None  # killed: a new one next time
            return {"record": record, **_graded_output(course, assignment, student, record)}


def _graded_output(course: Course, assignment: str, student: str, record: dict) -> dict:
    """The autograded notebooks and nbgrader's automatic comments of a graded submission."""
    if record.get("status") != GRADED:
        return {}
    notebooks = {name: (course.autograded / student / assignment / f"{name}.ipynb").read_bytes()
                 for name in course.notebooks(assignment)}
    comments = {}
    with gradebook(course) as gb:
        for nb in gb.find_submission(assignment, student).notebooks:
            for comment in nb.comments:
                comments[f"{nb.name}/{comment.name}"] = comment.auto_comment
    return {"notebooks": notebooks, "comments": comments}


def grade_task(key: str, bundle: bytes, limits: Limits, assignment: str, student: str,
               files: dict[str, bytes]) -> dict:
    """One submission, graded on the Dask worker that runs this task."""
    from distributed import get_worker

    return get_worker().plugins[PLUGIN].grade(key, bundle, limits, assignment, student, files)


def self_test_task(key: str, bundle: bytes, limits: Limits, assignments: list[str]) -> dict:
    """The self-test, on this worker, of its copy of the course (see :mod:`course_grading.selftest`)."""
    from distributed import get_worker

    from .commands import grade_submissions
    from .selftest import SelfTestFailed, self_test

    plugin = get_worker().plugins[PLUGIN]
    with plugin.lock:
        course = plugin.course(key, bundle)
        try:
            return {"ran": self_test(course, limits, assignments, 1, grade_submissions)}
        except SelfTestFailed as err:
            return {"failed": str(err)}


# --- the instructor's side ----------------------------------------------------------------------

def apply_result(course: Course, pair: tuple[str, str], result: dict) -> dict:
    """Write a worker's result into this course: notebooks, gradebook scores, the record last."""
    from .results import manual_answers, restore_manual_grades, save_manual_grades
    from .worker import forget_submission

    assignment, student = pair
    record = dict(result["record"])
    folder = course.submitted / student / assignment
    record["submission_hash"] = submission_hash(folder)
    save_manual_grades(course, assignment, student)
    if record.get("status") != GRADED:
        forget_submission(course, assignment, student)
        write_result(course, assignment, student, record)
        return record
    graded = course.autograded / student / assignment
    shutil.rmtree(graded, ignore_errors=True)
    graded.mkdir(parents=True)
    for name, data in result["notebooks"].items():
        (graded / f"{name}.ipynb").write_bytes(data)
    with gradebook(course) as gb:
        gb.update_or_create_student(student)
        gb.update_or_create_submission(assignment, student)
        for key, cell in record["cells"].items():
            notebook, grade_id = key.split("/", 1)
            grade = gb.find_grade(grade_id, notebook, assignment, student)
            grade.auto_score = cell["auto_score"]
            grade.needs_manual_grade = cell["needs_manual_grade"]
        for key, text in result.get("comments", {}).items():
            notebook, grade_id = key.split("/", 1)
            gb.find_comment(grade_id, notebook, assignment, student).auto_comment = text
        gb.db.commit()
    answers = manual_answers(course, assignment, student)
    record["remark"] = restore_manual_grades(course, assignment, student, answers)
    record["answers"] = answers
    from .worker import scores

    record.update(scores(course, assignment, student))
    write_result(course, assignment, student, record)
    return record


def connect(scheduler):
    """A ``distributed.Client`` for ``scheduler`` (an address, or a Client already made)."""
    from distributed import Client

    if hasattr(scheduler, "submit"):
        return scheduler, False
    return Client(scheduler), True


def _prepare(client, course: Course, assignments: list[str]):
    bundle = pack_course(course, assignments)
    key = hashlib.sha256(bundle).hexdigest()
    client.register_plugin(GradingPlugin(), name=PLUGIN)
    # retried on another worker once if its worker dies, then reported (see the module docstring)
    client.run_on_scheduler(lambda dask_scheduler: setattr(dask_scheduler, "allowed_failures", 1))
    # a task's result, not scattered data: if every worker holding it dies, it is made again
    return key, client.submit(_the_bundle, bundle, key=f"cg-bundle-{key}")


def _the_bundle(bundle: bytes) -> bytes:
    return bundle


def self_test_on_cluster(course: Course, limits: Limits, assignments: list[str], scheduler) -> dict:
    """Run the self-test on every worker (a task pinned to each); raise ``SelfTestFailed``
    naming the workers that fail."""
    from .selftest import SelfTestFailed

    client, own = connect(scheduler)
    try:
        key, bundle = _prepare(client, course, assignments)
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise SelfTestFailed(f"the scheduler {client.scheduler.address} has no workers")
        futures = [client.submit(self_test_task, key, bundle, limits, assignments, pure=False,
                                 workers=[w], allow_other_workers=False) for w in workers]
        outcomes = dict(zip(workers, client.gather(futures)))
    finally:
        if own:
            client.close()
    failed = {worker: out["failed"] for worker, out in outcomes.items() if "failed" in out}
    if failed:
        raise SelfTestFailed("\n".join(f"on worker {w}: {text}" for w, text in failed.items()))
    return outcomes


def grade_on_cluster(course: Course, limits: Limits, pairs: list[tuple[str, str]],
                     scheduler) -> dict[tuple[str, str], dict]:
    """Grade ``pairs`` on the cluster; return every submission's record (written here)."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    from .commands import _not_graded

    if not pairs:
        return {}
    client, own = connect(scheduler)
    done = {}
    try:
        key, bundle = _prepare(client, course, sorted({a for a, _ in pairs}))
        futures = {}
        for pair in pairs:
            result_path(course, *pair).unlink(missing_ok=True)
            future = client.submit(grade_task, key, bundle, limits, pair[0], pair[1],
                                   submission_files(course, *pair), pure=False,
                                   key=f"grade-{pair[0]}-{pair[1]}-{os.urandom(4).hex()}")
            futures[future] = pair
        for future in as_completed(futures):
            pair = futures[future]
            try:
                done[pair] = apply_result(course, pair, future.result())
            except KilledWorker:
                done[pair] = _not_graded(course, *pair, "grading error: the Dask worker grading "
                                                        "it died, and so did the one that retried it",
                                         retry=True)
            except Exception as err:  # noqa: BLE001 - one submission never stops the others
                done[pair] = _not_graded(course, *pair, f"grading error on the cluster: "
                                                        f"{type(err).__name__}: {str(err)[:200]}",
                                         retry=True)
    finally:
        if own:
            client.close()
    return done

