"""Grading as instructors install and run it: an environment failure is never a score.

* A fresh virtual environment with exactly the documented install (``pip install -e '.[grading]'``
  in a copy of the course) grades all seven solutions to full marks through collect, autograde
  and export.
* A copy of the course graded with another checkout's environment (``--course COPY``, or run
  inside the copy) grades with the copy's gdlib.
* The self-test stops a run whose environment cannot give the solutions full marks; during
  grading, an import the solution also needs, or a kernel that cannot start, is "not graded".
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Course, Limits, commands  # noqa: E402
from course_grading.testing import make_submission  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

REAL = Course(ROOT)
WHICH = "WHO = {!r}\n"
PROBE = "import gdlib._which\nprint('gdlib of the', gdlib._which.WHO)\n"


def copy_checkout(dest: Path, who: str) -> Path:
    """A copy of the course as a clone would have it (tracked and new files, not ignored ones)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (dest / "gdlib" / "_which.py").write_text(WHICH.format(who))
    return dest


def solutions_as_handed_in(course: Course, folder: Path, learner: str = "ada") -> Path:
    """Every solution notebook, named as a learner hands it in."""
    folder.mkdir(parents=True, exist_ok=True)
    for assignment in course.assignments():
        for name in course.notebooks(assignment):
            shutil.copy(course.solutions / assignment / f"{name}.ipynb", folder / f"{learner}_{name}.ipynb")
    return folder


def run(python, *args, cwd):
    # as an instructor's shell has it: no test-session self-test cache, no PYTHONPATH
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "COURSE_GRADING_CACHE")}
    out = subprocess.run([str(python), "-m", "course_grading", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def full_marks(course_root: Path) -> dict:
    """assignment -> (code score, max code score) of every record under grading/results."""
    out = {}
    for path in (course_root / "grading" / "results").glob("*/*.json"):
        record = json.loads(path.read_text())
        out[record["assignment"]] = (record["status"], record.get("code_score"),
                                     record.get("max_code_score"), record.get("reason"))
    return out


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A copy of the course and a new venv with exactly `pip install -e '.[grading]'`."""
    base = tmp_path_factory.mktemp("fresh")
    course = copy_checkout(base / "course", "fresh copy")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    start = time.monotonic()
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-e",
                    f"{course}[grading]"], check=True, timeout=1200)
    installed = time.monotonic() - start
    return course, venv / "bin" / "python", installed


def test_the_documented_install_grades_every_solution_to_full_marks(fresh, tmp_path):
    course, python, _ = fresh
    incoming = solutions_as_handed_in(Course(course), tmp_path / "in")
    out = run(python, "collect", str(incoming), cwd=course)
    assert "collected 7 notebook(s)" in out
    start = time.monotonic()
    out = run(python, "autograde", "--jobs", "2", cwd=course)
    elapsed = time.monotonic() - start
    assert "autograded 7 submission(s): 7 graded, 0 not graded" in out, out
    marks = full_marks(course)
    assert sorted(marks) == REAL.assignments()
    for assignment, (status, score, maximum, reason) in marks.items():
        assert status == "graded" and score == maximum > 0, (assignment, reason)
    run(python, "export", cwd=course)
    with open(course / "grading" / "grades.csv") as fh:
        row = next(csv.DictReader(fh))
    assert row["student"] == "ada" and all(row[a] for a in REAL.assignments())
    print(f"\nfresh venv: autograde of 7 solutions, self-test included: {elapsed:.1f} s")


def test_the_self_test_is_remembered_for_the_same_environment(fresh, tmp_path):
    course, python, _ = fresh
    incoming = solutions_as_handed_in(Course(course), tmp_path / "in", learner="bea")
    run(python, "collect", str(incoming), cwd=course)
    start = time.monotonic()
    out = run(python, "autograde", "--jobs", "2", "--assignment", "03_learning_rate", cwd=course)
    assert "1 graded" in out
    cached = list((course / "grading" / "selftest").glob("*.json"))
    assert len(cached) == 7 and all(json.loads(p.read_text())["passed"] for p in cached)
    print(f"\nsecond run, self-test remembered: {time.monotonic() - start:.1f} s for one submission")


@pytest.mark.parametrize("how", ["--course", "inside"])
def test_a_copy_graded_with_another_checkouts_venv_uses_the_copys_gdlib(tmp_path, how):
    copy = copy_checkout(tmp_path / "copy", "copy")
    (ROOT / "gdlib" / "_which.py").exists() and pytest.fail("the checkout must not have _which.py")
    make_submission(Course(copy), "03_learning_rate", "probe",
                    {"exponential_decay": PROBE + _solution_cell(copy)})
    python = ROOT / ".venv" / "bin" / "python" if (ROOT / ".venv").exists() else Path(sys.executable)
    if how == "inside":
        out = run(python, "autograde", "--jobs", "1", cwd=copy)
    else:
        out = run(python, "autograde", "--course", str(copy), "--jobs", "1", cwd=ROOT)
    assert "1 graded" in out, out
    record = json.loads((copy / "grading" / "results" / "03_learning_rate" / "probe.json").read_text())
    assert record["code_score"] == record["max_code_score"] == 10.0
    graded = (copy / "grading" / "autograded" / "probe" / "03_learning_rate" / "learning_rate.ipynb")
    assert "gdlib of the copy" in graded.read_text()


def _solution_cell(course_root: Path) -> str:
    from course_grading.testing import solution_cells
    return solution_cells(Course(course_root), "03_learning_rate")["exponential_decay"]


def test_a_broken_environment_stops_the_run_before_any_learner_is_graded(tmp_path):
    # the course's gdlib cannot be imported: a module its package needs is missing
    course = Course(copy_checkout(tmp_path / "copy", "broken copy"))
    (course.root / "gdlib" / "schedules.py").unlink()
    make_submission(course, "03_learning_rate", "ada")
    with pytest.raises(commands.GradingError) as caught:
        commands.autograde(course, Limits(cell_timeout=60), jobs=2)
    message = str(caught.value)
    assert "self-test failed" in message and "03_learning_rate" in message
    assert "gdlib could not be imported in the kernel" in message and "schedules" in message
    assert not (course.results / "03_learning_rate" / "ada.json").exists()


def test_environment_errors_during_grading_are_not_graded_never_zero(tmp_path):
    limits = Limits(cell_timeout=60)
    broken = Course(copy_checkout(tmp_path / "broken", "broken copy"))
    (broken.root / "gdlib" / "schedules.py").unlink()              # gdlib not importable
    make_submission(broken, "03_learning_rate", "ada")
    # a module the solution imports that `import gdlib` does not (gdlib imports datasets on first use)
    partial = Course(copy_checkout(tmp_path / "partial", "partial copy"))
    (partial.root / "gdlib" / "datasets.py").unlink()
    make_submission(partial, "07_compile_summary", "ada")
    make_submission(partial, "03_learning_rate", "bea")           # and a kernel that cannot start
    done = commands.autograde(broken, limits, jobs=1, self_test=False)
    assert done[0]["status"] == "not graded"
    assert done[0]["reason"].startswith("environment: gdlib could not be imported"), done[0]
    done = {r["student"]: r for r in commands.autograde(partial, limits, jobs=1, self_test=False,
                                                         assignment="07_compile_summary")}
    assert done["ada"]["status"] == "not graded" and done["ada"]["reason"].startswith("environment: ")
    assert "gdlib.datasets" in done["ada"]["reason"], done["ada"]
    done = commands.autograde(partial, Limits(cell_timeout=60, memory=60 * 2**20), jobs=1,
                              self_test=False, assignment="03_learning_rate")
    assert done[0]["status"] == "not graded" and done[0]["reason"].startswith("environment: "), done
    for course in (broken, partial):
        _, rows = commands.report(course)
        assert all(r.get("score") is None for r in rows)
