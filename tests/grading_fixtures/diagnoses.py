"""What a wrong answer is told: the messages of an assignment's test cells, read three ways.

* :func:`graded_message`: the error a graded submission's test cell shows (in the autograded
  notebook, what feedback quotes), from a :func:`course_grading.testing.grade_variants` batch;
* :func:`run_block`: a test cell's visible or hidden tests alone, run in this process on a
  variant's solution cells (as the guard kernel runs a test cell: in a copy of the learner's
  namespace), so the hidden tests' diagnosis of a mistake the visible tests already catch is
  tested too, without a grading batch;
* :func:`unlabelled_asserts`: the ``assert`` statements of a block that have no message;
* :class:`MessageTests`: the tests of these messages every assignment's grader tests share.

The grader tests (``tests/test_exercises_0N.py``) import this module; pytest does not collect it.
"""
from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import nbformat

from course_grading.course import Course
from course_grading.testing import mutate, solution_cells

BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
# Diagnosis.finish puts this between the mistake it names and the first difference
NAMED = "The first difference from the right answer:"


def notebook_path(root: Path, assignment: str) -> Path:
    [path] = sorted((Path(root) / "solutions" / assignment).glob("*.ipynb"))
    return path


def split(source: str) -> tuple[str, str]:
    """``(visible, hidden)``: the cell without its hidden blocks, and its hidden blocks joined in order."""
    visible, hidden = [], []
    inside = False
    for line in source.splitlines():
        if line.strip() == BEGIN:
            inside = True
        elif line.strip() == END:
            inside = False
        else:
            (hidden if inside else visible).append(line)
    return "\n".join(visible) + "\n", "\n".join(hidden) + "\n"


def test_sources(root: Path, assignment: str) -> dict[str, str]:
    """grade_id -> source of every autograded test cell."""
    nb = nbformat.read(notebook_path(root, assignment), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")}


test_sources.__test__ = False  # a helper, not a test


def _error(error: BaseException) -> str:
    """The text the guard kernel publishes for an error: the message of an AssertionError, else 'Name: message'."""
    if isinstance(error, AssertionError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def run_block(root: Path, assignment: str, cells: dict[str, str], part: str, which: str) -> str | None:
    """Run the ``which`` ("visible" or "hidden") tests of test cell ``part`` on a variant; its message, or None.

    ``cells`` maps solution grade_ids to replacement sources (a variant; {} for the solution). Every code
    cell before the test cell runs first, in one namespace, as in a kernel; the block then runs in a copy.
    """
    nb = nbformat.read(notebook_path(root, assignment), as_version=4)
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            grade_id = meta.get("grade_id")
            if grade_id == part:
                visible, hidden = split(cell.source)
                try:
                    exec(compile(visible if which == "visible" else hidden, f"<{part} {which}>", "exec"),
                         dict(namespace))
                except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
                    return _error(error)
                return None
            if meta.get("grade") and not meta.get("solution"):
                continue  # another part's tests
            exec(compile(cells.get(grade_id, cell.source), f"<{grade_id or 'cell'}>", "exec"), namespace)
    raise KeyError(f"no test cell {part} in {assignment}")


def graded_message(course, assignment: str, student: str, part: str) -> str | None:
    """The error a graded submission's test cell ``part`` shows in the autograded notebook, or None."""
    [path] = sorted((course.autograded / student / assignment).glob("*.ipynb"))
    nb = nbformat.read(path, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == part]
    errors = [o for o in cell.outputs if o.output_type == "error"]
    if not errors:
        return None
    [error] = errors
    return error.evalue if error.ename == "AssertionError" else f"{error.ename}: {error.evalue}"


def code_lines(source: str, shortest: int = 20) -> list[str]:
    """The lines of test code long enough that finding one in a message means the message shows code."""
    return [line.strip() for line in source.splitlines()
            if len(line.strip()) >= shortest and not line.strip().startswith("#")]


CODE_MARKERS = re.compile(r"_close\(|_np\.|_r\.|\bdef |\bimport |### (BEGIN|END)|_forbid\(|_Diagnosis\(")


def reveals_code(message: str, source: str) -> list[str]:
    """What in ``message`` is test code: whole lines of ``source``, or a call a message would never say."""
    found = [line for line in code_lines(source) if line in message]
    found += [m.group(0) for m in CODE_MARKERS.finditer(message)]
    return found


def unlabelled_asserts(source: str) -> list[str]:
    """Each ``assert`` in ``source`` without a message, as its source text (a bare AssertionError is a defect)."""
    tree = ast.parse(source)
    return [ast.get_source_segment(source, node) for node in ast.walk(tree)
            if isinstance(node, ast.Assert) and node.msg is None]


def assert_diagnosis(message: str | None, start: str | None) -> None:
    """``message`` (a failing part's) names the mistake its text starts with, ``start``; with None, names none."""
    assert message, "the wrong answer passed the tests"
    if start is None:
        assert NAMED not in message and "known mistakes" not in message, f"a diagnosis where none is due: {message}"
    else:
        assert message.startswith(start) and NAMED in message, f"expected the diagnosis {start!r}: {message}"


class MessageTests:
    """What every assignment's wrong answers are told (issue 12), as tests a grader test module shares.

    A module subclasses it as ``class TestMessages(MessageTests)``, sets the attributes below and
    defines the module-scoped fixture ``graded`` (its grading batch, as ``(course, scores)``);
    ``tests/conftest.py`` runs each test taking ``variant`` once per wrong answer.
    """

    root: Path
    assignment: str
    points: dict     # part -> its points
    wrong: dict      # variant -> (the part it loses, its edits of the solution cells)
    diagnosed: dict  # variant -> how the hidden tests' message starts when they name its mistake, or None
    visible: dict    # variant -> how the visible tests' message starts, or None when they pass it
    patched: tuple   # the wrong answers the "patched-numpy" variant combines behind patched NumPy

    def test_every_wrong_answer_has_its_expected_diagnosis(self):
        assert sorted(self.diagnosed) == sorted(self.visible) == sorted(self.wrong)

    def test_the_hidden_tests_name_the_mistake(self, variant):
        part, edits = self.wrong[variant]
        cells = mutate(solution_cells(Course(self.root), self.assignment), edits)
        message = run_block(self.root, self.assignment, cells, part, "hidden")
        assert_diagnosis(message, self.diagnosed[variant])
        assert reveals_code(message, test_sources(self.root, self.assignment)[part]) == []

    def test_the_feedback_names_the_mistake_and_shows_no_test_code(self, graded, variant):
        course, _ = graded
        part = self.wrong[variant][0]
        message = graded_message(course, self.assignment, variant, part)
        if self.visible[variant] is None:
            assert_diagnosis(message, self.diagnosed[variant])
        else:
            assert message and message.startswith(self.visible[variant]), message
        assert reveals_code(message, test_sources(self.root, self.assignment)[part]) == []

    def test_the_solution_is_told_nothing(self, graded):
        course, _ = graded
        for part in self.points:
            assert graded_message(course, self.assignment, "solution", part) is None
            assert run_block(self.root, self.assignment, {}, part, "hidden") is None
            assert run_block(self.root, self.assignment, {}, part, "visible") is None

    def test_patched_numpy_changes_nothing_a_learner_is_told(self, graded):
        # the guard restores NumPy before each test cell, and the hidden tests compare in plain Python
        course, _ = graded
        assert self.patched
        for variant in self.patched:
            part = self.wrong[variant][0]
            assert graded_message(course, self.assignment, "patched-numpy", part) == \
                graded_message(course, self.assignment, variant, part)
