"""Written answers: marked in a spreadsheet, kept across regrades, and told apart in feedback.

One batch on the demo course (two learners, one written answer each), with every step run
through the command line, `--course` after the command's name as instructors.md shows it.
"""
import csv
import re
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Limits, commands  # noqa: E402
from course_grading.cli import main as cli  # noqa: E402
from course_grading.results import gradebook  # noqa: E402
from course_grading.testing import copy_course, make_submission  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

FIXTURE = ROOT / "tests" / "grading_fixtures" / "course"


def _grade(course, student):
    with gradebook(course) as gb:
        g = gb.find_grade("explain_stability", "demo", "01_demo", student)
        return g.manual_score, g.needs_manual_grade, g.score


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    course = copy_course(FIXTURE, tmp_path_factory.mktemp("manual") / "course")
    incoming = tmp_path_factory.mktemp("in")
    for student in ("ann", "ben"):
        shutil.copy(course.solutions / "01_demo" / "demo.ipynb", incoming / f"{student}_demo.ipynb")
    assert cli(["collect", "--course", str(course.root), str(incoming)]) == 0
    assert cli(["autograde", "--course", str(course.root), "--jobs", "2", "--cell-timeout", "30"]) == 0
    assert cli(["feedback", "--course", str(course.root)]) == 0
    before = (course.feedback / "ann" / "01_demo" / "demo.html").read_text()
    assert cli(["written", "export", "--course", str(course.root)]) == 0
    return course, before


def _rows(course):
    with open(course.grading / "written.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, rows[0].keys())
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_export_has_one_row_per_written_answer(marked):
    course, _ = marked
    rows = _rows(course)
    assert [(r["student"], r["question"], r["max_score"], r["score"]) for r in rows] == [
        ("ann", "explain_stability", "1", ""), ("ben", "explain_stability", "1", "")]
    assert "overflows to infinity" in rows[0]["answer"] and rows[0]["part"] == "3. In your own words"


def test_feedback_says_written_answers_are_still_to_be_marked(marked, capsys):
    course, before = marked
    assert "still to be marked" in before and "to be marked / 1.0" in before
    # parts are named by their heading, never "Test cell"
    assert "Tests of 1. Softplus without overflow" in before and "Test cell" not in before
    assert re.search(r"Your answer: 3\. In your own words", before)
    # maths with no network: MathJax from the feedback folder, no CDN
    assert 'src="../../_mathjax/es5/tex-chtml.js"' in before and "cdn" not in before.lower()
    assert (course.feedback / "_mathjax" / "es5" / "tex-chtml.js").is_file()
    _, rows = commands.report(course)
    assert all("written answers await manual grading" in r["reason"] for r in rows)


def test_a_wrong_import_changes_nothing_and_names_every_bad_row(marked, tmp_path):
    course, _ = marked
    rows = _rows(course)
    rows[0]["score"] = "5"                    # more than the question's 1 point
    rows[1]["score"] = "one"
    bad = _write(tmp_path / "bad.csv", rows)
    assert cli(["written", "import", "--course", str(course.root), str(bad)]) == 1
    assert _grade(course, "ann")[0] is None and _grade(course, "ben")[0] is None


def test_an_import_marks_and_force_regrading_keeps_the_marks(marked, tmp_path):
    course, _ = marked
    rows = _rows(course)
    rows[0].update(score="0.5", comment="Say why -|x| <= 0 matters.")
    rows[1]["score"] = ""                     # ben: still to be marked
    good = _write(tmp_path / "good.csv", rows)
    assert cli(["written", "import", "--course", str(course.root), str(good)]) == 0
    assert _grade(course, "ann") == (0.5, False, 0.5)
    assert _grade(course, "ben")[:2] == (None, True)
    commands.autograde(course, Limits(cell_timeout=30), jobs=2, force=True)
    assert _grade(course, "ann") == (0.5, False, 0.5)       # kept, and still marked as done
    out = commands.feedback(course)
    assert ("01_demo", "ben") in out["pending"] and ("01_demo", "ann") not in out["pending"]
    html = (course.feedback / "ann" / "01_demo" / "demo.html").read_text()
    assert "still to be marked" not in html and "Say why" in html
    text, _ = commands.report(course)
    assert re.search(r"ann +01_demo +graded 5\.5 / 6\n", text)
    # a new submission with another answer: the mark no longer applies
    make_submission(course, "01_demo", "ann", {"explain_stability": "Because floats overflow."})
    commands.autograde(course, Limits(cell_timeout=30), jobs=1)
    assert _grade(course, "ann")[:2] == (None, True)
    row = {r["student"]: r for r in commands.report_rows(course)}["ann"]
    assert "changed since marked: demo/explain_stability" in row["reason"]
