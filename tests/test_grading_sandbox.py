"""Hostile and broken submissions: each gets one clear outcome, nobody else's grade moves, the sandbox holds.

One batch on a temporary copy of the demo course, with short limits, plus a run in a row
(one grading process) and a run killed with SIGKILL. Needs bubblewrap
(`apt-get install bubblewrap`; .ci/run installs it).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Limits, commands  # noqa: E402
from course_grading.reaper import processes_of  # noqa: E402
from course_grading.results import check_gradebook  # noqa: E402
from course_grading.testing import copy_course, make_submission  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

FIXTURE = ROOT / "tests" / "grading_fixtures" / "course"
LIMITS = Limits(cell_timeout=4, interrupt_grace=2, notebook_budget=90, memory=2 * 2**30,
                processes=64, output=200_000, disk=32 * 2**20)
SOFTPLUS_OK = ("def softplus(x):\n    x = np.asarray(x, dtype=float)\n"
               "    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))\n")


def _cases(course, port):
    sol = course.solutions / "01_demo" / "demo.ipynb"
    other = course.submitted / "honest" / "01_demo" / "demo.ipynb"
    other_graded = course.autograded / "honest" / "01_demo" / "demo.ipynb"
    mine_graded = course.autograded / "probe" / "01_demo"
    outside = course.root / "escaped.txt"
    probe = (
        "import os, socket\n"
        "def _try(what, f):\n"
        "    try:\n        f()\n        print('LEAK', what)\n"
        "    except Exception as e:\n        print('blocked', what, type(e).__name__)\n"
        f"_try('read-solutions', lambda: open({str(sol)!r}).read())\n"
        f"_try('read-gradebook', lambda: open({str(course.gradebook)!r}, 'rb').read())\n"
        f"_try('read-other', lambda: open({str(other)!r}).read())\n"
        f"_try('read-other-autograded', lambda: open({str(other_graded)!r}).read())\n"
        f"_try('write-own-autograded', lambda: open({str(mine_graded / 'x.txt')!r}, 'w').write('x'))\n"
        f"_try('write-outside', lambda: open({str(outside)!r}, 'w').write('x'))\n"
        f"_try('connect-local', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2))\n"
        "_try('connect-internet', lambda: socket.create_connection(('1.1.1.1', 53), timeout=2))\n"
        "open('inside.txt', 'w').write('a file in my own working folder is fine')\n"
        "print('wrote', os.getcwd(), open('inside.txt').read())\n"
        + SOFTPLUS_OK)
    # learner code replacing its own notebook and files near it by links into the grader's files
    links = (
        "import os\n"
        f"for target in ({str(course.gradebook)!r}, '../../../gradebook.db', {str(sol)!r}, '/etc/passwd'):\n"
        "    name = 'link-' + str(abs(hash(target)))\n"
        "    os.symlink(target, name)\n"
        "os.symlink('../../../gradebook.db', 'demo.ipynb')\n"
        "os.mkfifo('a-fifo')\n"
        "os.mkfifo('/tmp/another-fifo')\n"
        "print('links made', sorted(os.listdir('.')))\n" + SOFTPLUS_OK)
    disk = ("import errno\n_written = 0\ntry:\n"
            "    with open('/tmp/work/big', 'wb') as _f:\n"
            "        for _ in range(96):\n"
            "            _f.write(b'x' * 2**20)\n            _written += 1\n"
            "except OSError as e:\n    print('disk full after', _written, 'MiB', errno.errorcode[e.errno])\n"
            + SOFTPLUS_OK)
    display_flood = ("from IPython.display import display\n"
                     "_h = display({'text/plain': 'start'}, raw=True, display_id=True)\n"
                     "for _ in range(600):\n"
                     "    _h.update({'text/plain': 'y' * 20000}, raw=True)\n" + SOFTPLUS_OK)
    comm_flood = ("from comm import create_comm\n"
                  "_c = create_comm(target_name='flood')\n"
                  "for _ in range(300):\n    _c.send({'blob': 'z' * 100000})\n" + SOFTPLUS_OK)
    return {
        "honest": {},
        "loop": {"softplus": "while True:\n    pass\n" + SOFTPLUS_OK},
        "swallow": {"softplus": "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n"
                                "    except KeyboardInterrupt:\n        pass\n"},
        "exit": {"softplus": "import os\nos._exit(1)\n"},
        "sysexit": {"softplus": "import sys\nsys.exit(0)\n" + SOFTPLUS_OK},
        "membomb": {"softplus": "_big = np.empty(4 * 10**8)\n" + SOFTPLUS_OK},
        "forkbomb": {"softplus": "import os, time\n_n = 0\ntry:\n    for _ in range(400):\n"
                                 "        if os.fork() == 0:\n            time.sleep(60)\n"
                                 "            os._exit(0)\n        _n += 1\n"
                                 "except OSError:\n    pass\nprint('forked', _n)\n" + SOFTPLUS_OK},
        "output": {"softplus": "for _ in range(20000):\n    print('x' * 1000)\n" + SOFTPLUS_OK},
        "error-flood": {"softplus": SOFTPLUS_OK + "raise ValueError('e' * 5_000_000)\n"},
        "display-flood": {"softplus": display_flood},
        "comm-flood": {"softplus": comm_flood},
        "disk": {"softplus": disk},
        "links": {"softplus": links},
        "probe": {"softplus": probe},
        "shadow": {},
        "deleted-tests": {},
        "edited-tests": {"softplus": "def softplus(x):\n    return np.zeros(np.shape(x))"},
        "stripped": {},
    }


def _edit(path, fn):
    nb = nbformat.read(path, as_version=4)
    fn(nb)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = copy_course(FIXTURE, tmp_path_factory.mktemp("hostile") / "course")
    course.ensure_dirs()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    cases = _cases(course, listener.getsockname()[1])
    for student, replacements in cases.items():
        make_submission(course, "01_demo", student, replacements)
    folder = lambda s: course.submitted / s / "01_demo"  # noqa: E731
    (folder("shadow") / "numpy.py").write_text("raise ImportError('shadowed numpy')\n")
    (folder("shadow") / "gdlib.py").write_text("raise ImportError('shadowed gdlib')\n")
    _edit(folder("deleted-tests") / "demo.ipynb",
          lambda nb: setattr(nb, "cells", [c for c in nb.cells if "visible tests" not in c.source]))

    def edit_tests(nb):
        for c in nb.cells:
            if "visible tests" in c.source:
                c.source = "pass"
    _edit(folder("edited-tests") / "demo.ipynb", edit_tests)

    def strip(nb):
        for c in nb.cells:
            c.metadata = {}
    _edit(folder("stripped") / "demo.ipynb", strip)
    (course.submitted / "badjson" / "01_demo").mkdir(parents=True)
    (course.submitted / "badjson" / "01_demo" / "demo.ipynb").write_text('{"cells": [ oops')
    # a submission folder that itself holds a link: never read, never graded
    make_submission(course, "01_demo", "linked-folder")
    os.symlink(course.solutions / "01_demo" / "demo.ipynb", folder("linked-folder") / "extra.ipynb")
    start = time.monotonic()
    commands.autograde(course, LIMITS, jobs=2)
    elapsed = time.monotonic() - start
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    export1 = commands.export(course, course.grading / "first.csv").read_text()
    _, rows = commands.report(course)
    rows = {r["student"]: r for r in rows}
    return course, rows, elapsed, connected, export1


def outputs(course, student):
    nb = nbformat.read(course.autograded / student / "01_demo" / "demo.ipynb", as_version=4)
    return "".join(o.get("text", "") + o.get("ename", "") + o.get("evalue", "") for c in nb.cells
                   for o in c.get("outputs", []))


def score(rows, student):
    r = rows[student]
    return (r["status"], r.get("score"))


def test_honest_submission_keeps_full_marks(batch):
    _, rows, _, _, _ = batch
    assert score(rows, "honest") == ("graded", 5.0)


@pytest.mark.parametrize("student,expected", [
    ("loop", ("graded", 3.0)),            # interrupted: softplus never defined
    ("sysexit", ("graded", 3.0)),         # SystemExit is an error in its own cell
    ("membomb", ("graded", 3.0)),         # MemoryError ends its own cell only
    ("forkbomb", ("graded", 5.0)),        # fork fails at the process cap
    ("output", ("graded", 5.0)),          # output capped
    ("error-flood", ("graded", 5.0)),     # a 5 MB error message: capped, its own cell only
    ("display-flood", ("graded", 5.0)),   # 12 MB of display updates: capped
    ("comm-flood", ("graded", 5.0)),      # 30 MB of widget messages: dropped
    ("disk", ("graded", 5.0)),            # the private /tmp fills up at the disk cap
    ("links", ("graded", 5.0)),           # links and FIFOs stay inside the sandbox
    ("probe", ("graded", 5.0)),           # every escape attempt failed, grading went on
    ("shadow", ("graded", 5.0)),          # numpy.py / gdlib.py next to the notebook ignored
    ("deleted-tests", ("graded", 5.0)),   # test cells restored from the gradebook
    ("edited-tests", ("graded", 3.0)),    # restored tests still catch the wrong softplus
])
def test_outcome(batch, student, expected):
    _, rows, _, _, _ = batch
    assert score(rows, student) == expected, rows[student]


@pytest.mark.parametrize("student,reason", [
    ("swallow", "ignored the interrupt"),
    ("exit", "kernel died"),
    ("badjson", "invalid notebook JSON"),
    ("linked-folder", "extra.ipynb is a symbolic link"),
])
def test_not_graded_with_its_reason(batch, student, reason):
    _, rows, _, _, _ = batch
    assert rows[student]["status"] == "not graded" and reason in rows[student]["reason"]


def test_stripped_metadata_gets_one_clear_line(batch):
    _, rows, _, _, _ = batch
    r = rows["stripped"]
    assert r["status"] == "not graded" and "lost its nbgrader metadata" in r["reason"]


def test_swallowed_interrupt_ends_fast(batch):
    course, _, elapsed, _, _ = batch
    log = commands.read_result(course, "01_demo", "swallow")["log_tail"]
    assert "InterruptIgnored" in log
    # 22 submissions, 2 at a time: far below one budget (90 s) per cell of the swallowing one
    assert elapsed < 240


def test_the_sandbox_held(batch):
    course, _, _, connected, _ = batch
    text = outputs(course, "probe")
    assert "LEAK" not in text
    for what in ("read-solutions", "read-gradebook", "read-other", "read-other-autograded",
                 "write-own-autograded", "write-outside", "connect-local", "connect-internet"):
        assert f"blocked {what}" in text
    assert not (course.root / "escaped.txt").exists()
    # the learner's code works in a private folder that never reaches the grader's files
    assert "wrote /tmp/work a file in my own working folder is fine" in text
    assert not list(course.grading.rglob("inside.txt")) and not list(course.grading.rglob("x.txt"))
    assert not connected


def test_links_made_by_learner_code_never_reach_the_grader(batch):
    course, rows, _, _, export1 = batch
    assert "links made" in outputs(course, "links")
    assert check_gradebook(course.gradebook) is None
    planted = course.submitted / "linked-folder" / "01_demo" / "extra.ipynb"  # by the test itself
    for path in course.grading.rglob("*"):
        assert path == planted or (not path.is_symlink() and (path.is_file() or path.is_dir())), path
    # every later command still works on the same gradebook
    assert "links,5" in export1 and rows["honest"]["status"] == "graded"


def test_limits_bit(batch):
    course, _, _, _, _ = batch
    forked = outputs(course, "forkbomb")
    assert "forked" in forked and int(forked.split("forked")[1].split()[0]) < LIMITS.processes
    assert "MemoryError" in outputs(course, "membomb")
    full = outputs(course, "disk")
    assert "disk full after" in full and "ENOSPC" in full
    assert int(full.split("disk full after")[1].split()[0]) <= LIMITS.disk // 2**20
    for student in ("output", "error-flood", "display-flood", "comm-flood"):
        size = (course.autograded / student / "01_demo" / "demo.ipynb").stat().st_size
        assert size < 2 * LIMITS.output + 20_000, (student, size)
    assert "dropped by the grader" in outputs(course, "display-flood")


def test_feedback_never_stops_for_one_learners_folder(batch):
    course, _, _, _, _ = batch
    odd = course.autograded / "honest" / "01_demo"
    shutil.copy(odd / "demo.ipynb", odd / "extra-copy.ipynb")      # an extra notebook: fine
    os.mkfifo(course.autograded / "links" / "01_demo" / "pipe")      # a FIFO: that learner only
    out = commands.feedback(course, "01_demo")
    made = {s for _, s in out["made"]}
    skipped = {s: why for _, s, why in out["skipped"]}
    assert "honest" in made and "probe" in made
    assert "links" in skipped and "FIFO" in skipped["links"]
    assert "badjson" in skipped and "not graded" in skipped["badjson"]
    assert not (course.feedback / "links").exists()


def test_grading_again_gives_the_same_gradebook(batch):
    course, _, _, _, export1 = batch
    commands.autograde(course, LIMITS, jobs=2, force=True)
    assert commands.export(course, course.grading / "second.csv").read_text() == export1


def test_an_interrupted_run_resumes_and_loses_nothing(batch):
    course, _, _, _, export1 = batch
    for student in ("honest", "output", "shadow"):
        commands.result_path(course, "01_demo", student).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "course_grading", "autograde", "--course",
                             str(course.root), "--jobs=1", "--cell-timeout=4"], cwd=ROOT)
    deadline = time.monotonic() + 120
    while commands.read_result(course, "01_demo", "honest") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    done = commands.autograde(course, LIMITS, jobs=2)
    assert 1 <= len(done) <= 3
    assert commands.export(course, course.grading / "third.csv").read_text() == export1


# --- one grading process in a row: kernels started ahead, budgets, replaced processes -------

UID_PROBE = "import os\nprint('uid', os.getuid())\n"


@pytest.fixture(scope="module")
def in_a_row(tmp_path_factory):
    """One grading process (jobs=1) grades, in name order: two probes, a submission that
    outlives its budget, and an honest one whose kernel was started while the slow one ran."""
    course = copy_course(FIXTURE, tmp_path_factory.mktemp("row") / "course")
    make_submission(course, "01_demo", "a-probe", {"softplus": UID_PROBE + (
        "open('/tmp/work/mine.txt', 'w').write('secret of a')\n") + SOFTPLUS_OK})
    make_submission(course, "01_demo", "b-probe", {"softplus": (
        UID_PROBE + "import os\nprint('sees', sorted(os.listdir('/tmp/work')))\n" + SOFTPLUS_OK)})
    make_submission(course, "01_demo", "c-slow", {
        "softplus": "import time\ntime.sleep(3.5)\n" + SOFTPLUS_OK,
        "mse_gradient": "import time\ntime.sleep(3.5)\n"})
    make_submission(course, "01_demo", "d-honest")
    limits = Limits(cell_timeout=5, interrupt_grace=2, notebook_budget=6, memory=2 * 2**30,
                    processes=64, output=200_000)
    commands.autograde(course, limits, jobs=1)
    _, rows = commands.report(course)
    return course, {r["student"]: r for r in rows}


def test_consecutive_kernels_of_one_process_are_different_users_and_sandboxes(in_a_row):
    course, rows = in_a_row
    uids = [int(outputs(course, s).split("uid")[1].split()[0]) for s in ("a-probe", "b-probe")]
    assert uids[0] != uids[1] and all(u >= 62000 for u in uids)
    assert "sees []" in outputs(course, "b-probe")   # a's files died with a's sandbox
    assert score(rows, "a-probe") == score(rows, "b-probe") == ("graded", 5.0)


def test_a_submission_past_its_budget_is_killed_and_the_next_one_still_graded(in_a_row):
    course, rows = in_a_row
    assert rows["c-slow"]["status"] == "not graded"
    assert "budget of 6 s" in rows["c-slow"]["reason"]
    assert not (course.autograded / "c-slow").exists() or not any(
        (course.autograded / "c-slow").rglob("*.ipynb"))
    # its kernel was started while c-slow ran, in the process that was killed: graded anew
    assert score(rows, "d-honest") == ("graded", 5.0)


# --- SIGKILL of autograde ----------------------------------------------------------------------

def _processes_mentioning(text):
    """Pids whose command line mentions ``text`` (a run folder: its kernels' connection files)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if text in open(f"/proc/{entry}/cmdline", "rb").read().decode(errors="replace"):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def test_a_sigkilled_autograde_leaves_no_sandbox_kernel_or_socket_folder(tmp_path):
    course = copy_course(FIXTURE, tmp_path / "course")
    for student in ("a", "b"):
        make_submission(course, "01_demo", student, {"softplus": "while True:\n    pass\n"})
    before = set(Path("/tmp").glob("cg-run-*"))
    proc = subprocess.Popen([sys.executable, "-m", "course_grading", "autograde", "--course",
                             str(course.root), "--jobs=2", "--cell-timeout=600"], cwd=ROOT)
    def uid(pid):
        try:
            return int(open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[0])
        except OSError:
            return -1

    deadline, uids, run = time.monotonic() + 120, set(), None
    while time.monotonic() < deadline and run is None:
        time.sleep(0.2)
        for folder in set(Path("/tmp").glob("cg-run-*")) - before:
            uids = {uid(p) for p in _processes_mentioning(str(folder))} - {-1}
            if sum(u >= 62000 for u in uids) >= 2:   # two sandboxed kernels, as their own users
                run = folder
                break
    assert run is not None, "no kernels started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (_processes_mentioning(str(run)) or run.exists()):
        time.sleep(0.2)
    assert _processes_mentioning(str(run)) == []
    assert processes_of(range(min(u for u in uids if u >= 62000), max(uids) + 1)) == []
    assert not run.exists()
    assert _processes_mentioning(f"_serve --course {course.root}") == []
