"""Hostile and broken submissions: each gets one clear outcome, nobody else's grade moves, the sandbox holds.

One batch on a temporary copy of the demo course, with short limits.  Needs
bubblewrap (`apt-get install bubblewrap`; .ci/run installs it).
"""
import json
import shutil
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
from course_grading.testing import copy_course, make_submission  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

FIXTURE = ROOT / "tests" / "grading_fixtures" / "course"
LIMITS = Limits(cell_timeout=4, interrupt_grace=2, notebook_budget=90, memory=2 * 2**30,
                processes=64, output=200_000)
SOFTPLUS_OK = ("def softplus(x):\n    x = np.asarray(x, dtype=float)\n"
               "    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))\n")


def _cases(course, port):
    sol = course.solutions / "01_demo" / "demo.ipynb"
    other = course.submitted / "honest" / "01_demo" / "demo.ipynb"
    other_graded = course.autograded / "honest" / "01_demo" / "demo.ipynb"
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
        f"_try('write-outside', lambda: open({str(outside)!r}, 'w').write('x'))\n"
        f"_try('connect-local', lambda: socket.create_connection(('127.0.0.1', {port}), timeout=2))\n"
        "_try('connect-internet', lambda: socket.create_connection(('1.1.1.1', 53), timeout=2))\n"
        "open('inside.txt', 'w').write('a file in my own folder is fine')\n"
        + SOFTPLUS_OK)
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
    # 14 submissions, 2 at a time: far below one budget (90 s) per cell of the swallowing one
    assert elapsed < 240


def test_the_sandbox_held(batch):
    course, _, _, connected, _ = batch
    text = outputs(course, "probe")
    assert "LEAK" not in text
    for what in ("read-solutions", "read-gradebook", "read-other", "read-other-autograded",
                 "write-outside",
                 "connect-local", "connect-internet"):
        assert f"blocked {what}" in text
    assert not (course.root / "escaped.txt").exists()
    assert (course.autograded / "probe" / "01_demo" / "inside.txt").exists()
    assert not connected


def test_limits_bit(batch):
    course, _, _, _, _ = batch
    forked = outputs(course, "forkbomb")
    assert "forked" in forked and int(forked.split("forked")[1].split()[0]) < LIMITS.processes
    assert "MemoryError" in outputs(course, "membomb")
    size = (course.autograded / "output" / "01_demo" / "demo.ipynb").stat().st_size
    assert size < 2 * LIMITS.output


def test_grading_again_gives_the_same_gradebook(batch):
    course, _, _, _, export1 = batch
    commands.autograde(course, LIMITS, jobs=2, force=True)
    assert commands.export(course, course.grading / "second.csv").read_text() == export1


def test_an_interrupted_run_resumes_and_loses_nothing(batch):
    course, _, _, _, export1 = batch
    for student in ("honest", "output", "shadow"):
        commands.result_path(course, "01_demo", student).unlink()
    proc = subprocess.Popen([sys.executable, "-m", "course_grading", "--course", str(course.root),
                             "autograde", "--jobs=1", "--cell-timeout=4"], cwd=ROOT)
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
    first = course.autograded / "a-probe" / "01_demo" / "demo.ipynb"
    make_submission(course, "01_demo", "a-probe", {"softplus": UID_PROBE + SOFTPLUS_OK})
    make_submission(course, "01_demo", "b-probe", {"softplus": (
        UID_PROBE + "try:\n"
        f"    open({str(first)!r}).read()\n    print('LEAK')\n"
        "except OSError as e:\n    print('blocked', type(e).__name__)\n" + SOFTPLUS_OK)})
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
    assert uids[0] != uids[1] and all(u >= 61000 for u in uids)
    assert "blocked" in outputs(course, "b-probe") and "LEAK" not in outputs(course, "b-probe")
    assert score(rows, "a-probe") == score(rows, "b-probe") == ("graded", 5.0)


def test_a_submission_past_its_budget_is_killed_and_the_next_one_still_graded(in_a_row):
    course, rows = in_a_row
    assert rows["c-slow"]["status"] == "not graded"
    assert "budget of 6 s" in rows["c-slow"]["reason"]
    assert not (course.autograded / "c-slow").exists() or not any(
        (course.autograded / "c-slow").rglob("*.ipynb"))
    # its kernel was started while c-slow ran, in the process that was killed: graded anew
    assert score(rows, "d-honest") == ("graded", 5.0)
