"""The grader is right: releases are current, solutions earn everything, wrong answers lose their part.

Runs on a temporary copy of the demo course in tests/grading_fixtures/course
(and checks the real course's releases, once solutions/ has assignments).
"""
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Course, Limits, commands  # noqa: E402
from course_grading.testing import copy_course, grade_variants  # noqa: E402

FIXTURE = ROOT / "tests" / "grading_fixtures" / "course"
LIMITS = Limits(cell_timeout=30, notebook_budget=180)

REAL = Course(ROOT)
RELEASE_CASES = ([("fixture", a) for a in Course(FIXTURE).assignments()]
                 + [("real", a) for a in REAL.assignments()])


@pytest.mark.parametrize("which,assignment", RELEASE_CASES)
def test_exercises_are_what_nbgrader_generates(which, assignment, tmp_path):
    course = copy_course(ROOT if which == "real" else FIXTURE, tmp_path / "course")
    assert commands.release_differences(course, assignment) == []


def test_a_stale_release_is_caught(tmp_path):
    course = copy_course(FIXTURE, tmp_path / "course")
    nb_path = next((course.solutions / "01_demo").glob("*.ipynb"))
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source += "\n\nOne more sentence of instructions."
    nbformat.write(nb, nb_path)
    problems = commands.release_differences(course, "01_demo")
    assert len(problems) == 1 and "stale" in problems[0]


WRONG = {
    # softplus: the naive formula overflows to inf at x = 1000 (the visible test catches it)
    "softplus-naive": {"softplus": "def softplus(x):\n    return np.log(1 + np.exp(x))"},
    # softplus: a sign error inside the exponential; passes the visible test at 0
    "softplus-sign": {"softplus": "def softplus(x):\n    x = np.asarray(x, dtype=float)\n"
                                  "    return np.maximum(x, 0) + np.log1p(np.exp(np.abs(x)))"},
    # the MSE gradient without the factor 2
    "mse-no-two": {"mse_gradient": "def mse_gradient(y_true, y_pred):\n"
                                   "    return (np.asarray(y_pred) - np.asarray(y_true)) / len(y_true)"},
    # a sum where the mean belongs: right only when n == 1 ... and n == 2 in the visible test? no:
    # the visible test has n = 2, so this one is caught by the hidden gradient check only
    "mse-sum": {"mse_gradient": "def mse_gradient(y_true, y_pred):\n"
                                "    return 2.0 * (np.asarray(y_pred) - np.asarray(y_true))"},
    # wrong answers behind patched numpy helpers: the visible tests pass, the hidden ones do not
    "patched-numpy": {
        "softplus": "np.allclose = lambda *a, **k: True\n"
                    "np.testing.assert_allclose = lambda *a, **k: None\n"
                    "np.isfinite = lambda a: np.ones(np.shape(a), dtype=bool)\n"
                    "def softplus(x):\n    return np.zeros_like(np.asarray(x, dtype=float))",
        "mse_gradient": "def mse_gradient(y_true, y_pred):\n    return np.zeros(len(y_true))"},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One batch: the solution, the untouched release, the wrong answers, collected files."""
    course = copy_course(FIXTURE, tmp_path_factory.mktemp("graded") / "course")
    incoming = tmp_path_factory.mktemp("incoming")
    shutil.copy(course.solutions / "01_demo" / "demo.ipynb", incoming / "sol_demo.ipynb")
    shutil.copy(course.exercises / "01_demo" / "demo.ipynb", incoming / "blank_demo.ipynb")
    (incoming / "carol").mkdir()
    shutil.copy(course.solutions / "01_demo" / "demo.ipynb", incoming / "carol" / "demo.ipynb")
    shutil.copy(course.solutions / "01_demo" / "demo.ipynb", incoming / "dave_Demo_final.ipynb")
    archive = tmp_path_factory.mktemp("zip") / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in incoming.rglob("*.ipynb"):
            zf.write(path, Path("export") / path.relative_to(incoming))
    collected = commands.collect(course, archive)
    scores = grade_variants(course, "01_demo", WRONG, limits=LIMITS)
    text, rows = commands.report(course)
    return course, collected, scores, {(r["student"], r["assignment"]): r for r in rows}, text


def test_collect_reads_the_naming_schemes_and_reports_misnamed_files(graded):
    course, collected, _, _, _ = graded
    assert sorted(c["student"] for c in collected["collected"]) == ["blank", "carol", "sol"]
    assert [(m["file"], m["kind"], m["detail"]) for m in collected["problems"]] == [
        ("export/dave_Demo_final.ipynb", "misnamed", "expected a name like dave_demo.ipynb")]


def test_the_solution_earns_every_autograded_point(graded):
    course, _, _, rows, _ = graded
    for student in ("sol", "carol"):
        rec = commands.read_result(course, "01_demo", student)
        assert rec["status"] == "graded"
        assert rec["code_score"] == rec["max_code_score"] == 5.0
        assert rows[(student, "01_demo")]["status"] == "graded"


def test_the_untouched_release_earns_zero_without_stopping_the_run(graded):
    course, _, _, rows, _ = graded
    rec = commands.read_result(course, "01_demo", "blank")
    assert rec["status"] == "graded" and rec["score"] == 0.0 and rec["max_score"] == 6.0
    assert rows[("sol", "01_demo")]["score"] >= 5.0  # graded in the same batch


@pytest.mark.parametrize("variant,loses", [
    ("softplus-naive", "test_softplus"), ("softplus-sign", "test_softplus"),
    ("mse-no-two", "test_mse_gradient"), ("mse-sum", "test_mse_gradient")])
def test_a_wrong_answer_loses_exactly_its_part(graded, variant, loses):
    _, _, scores, _, _ = graded
    full = {"test_softplus": 2.0, "test_mse_gradient": 3.0}
    expected = dict(full, **{loses: 0.0})
    got = {k: v for k, v in scores[variant].items() if not k.startswith("_")}
    assert scores[variant]["_status"] == "graded"
    assert got == expected


def test_patching_numpy_comparisons_does_not_fool_hidden_tests(graded):
    _, _, scores, _, _ = graded
    assert scores["patched-numpy"]["test_softplus"] == 0.0
    assert scores["patched-numpy"]["test_mse_gradient"] == 0.0


def test_report_tells_missing_and_misnamed_apart_from_zero(graded):
    course, _, _, rows, text = graded
    assert rows[("dave", "01_demo")]["status"] == "not graded"
    assert "misnamed" in rows[("dave", "01_demo")]["reason"]
    assert "dave_demo.ipynb" in rows[("dave", "01_demo")]["reason"]
    assert rows[("blank", "01_demo")]["status"] == "graded"
    assert (course.grading / "report.txt").read_text() == text
    assert len(text.strip().splitlines()) == 1 + len(rows)


def test_feedback_never_shows_hidden_tests_and_export_writes_every_grade(graded):
    course, _, _, _, _ = graded
    made = commands.feedback(course, "01_demo")["made"]
    assert ("01_demo", "sol") in made and ("01_demo", "patched-numpy") in made
    for html in course.feedback.rglob("*.html"):
        text = html.read_text()
        # neither the hidden tests' code nor a traceback quoting it; only the assertion message
        # neither visible nor hidden test code: parts, points and the tests' messages only
        for secret in ("HIDDEN TESTS", "_rng", "_loss", "abs(_g[_i]", "assert np.allclose(softplus",
                       "np.isfinite(softplus"):
            assert secret not in text, (html, secret)
    wrong = (course.feedback / "mse-no-two" / "01_demo" / "demo.html").read_text()
    assert "AssertionError" in wrong
    csv_text = commands.export(course, fmt="nbgrader").read_text()
    assert csv_text.count("\n01_demo,") == len(list(course.submitted.iterdir()))
    lms = commands.export(course).read_text().splitlines()
    assert lms[0] == "student,01_demo,01_demo note"
    lines = {line.split(",")[0]: line for line in lms[1:]}
    assert lines["sol"].startswith("sol,5,") and lines["blank"].startswith("blank,0,")
    # nothing handed in under the right name: blank, never 0, and the reason beside it
    assert lines["dave"].startswith("dave,,misnamed: export/dave_Demo_final.ipynb")


def test_the_test_cells_helper_is_not_collected_as_a_test():
    from course_grading.testing import test_cells

    assert test_cells.__test__ is False
