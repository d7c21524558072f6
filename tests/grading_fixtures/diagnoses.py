"""What a wrong answer is told: the messages of an assignment's test cells, read three ways.

* :func:`graded_message`: the error a graded submission's test cell shows (in the autograded
  notebook, what feedback quotes), from a :func:`course_grading.testing.grade_variants` batch;
* :func:`run_block`: a test cell's visible or hidden tests alone, run in this process on a
  variant's solution cells (as the guard kernel runs a test cell: in a copy of the learner's
  namespace), so the hidden tests' diagnosis of a mistake the visible tests already catch is
  tested too, without a grading batch;
* :func:`unlabelled_asserts`: the ``assert`` statements of a block that have no message.

The grader tests (``tests/test_exercises_0N.py``) import this module; pytest does not collect it.
"""
from __future__ import annotations

import ast
import re
import warnings
from pathlib import Path

import nbformat

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
