"""Helpers for testing a course's grader: build submissions, grade them, read the scores.

Exercise authors list wrong answers; :func:`grade_variants` turns each into a
submission (the solution notebook with some solution cells replaced), grades
them all in one parallel batch and returns the points each test cell earned::

    scores = grade_variants(course, "04_optimizers", {
        "adam-no-bias-correction": {"adam_update": "def adam_update(...): ..."},
    })
    assert scores["adam-no-bias-correction"]["test_adam_update"] == 0
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from . import commands
from .course import Course, Limits


def copy_course(source: Path, dest: Path) -> Course:
    """A throw-away copy of a course's ``solutions/`` and ``exercises/`` (no grading output)."""
    source, dest = Path(source), Path(dest)
    for name in ("solutions", "exercises"):
        if (source / name).is_dir():
            shutil.copytree(source / name, dest / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return Course(dest)


def solution_cells(course: Course, assignment: str) -> dict[str, str]:
    """grade_id -> source of every solution cell of the assignment's notebooks."""
    out = {}
    for name in course.notebooks(assignment):
        nb = nbformat.read(course.solutions / assignment / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                out[meta["grade_id"]] = cell.source
    return out


def test_cells(course: Course, assignment: str) -> dict[str, float]:
    """grade_id -> points of every autograded test cell."""
    out = {}
    for name in course.notebooks(assignment):
        nb = nbformat.read(course.solutions / assignment / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and cell.cell_type == "code":
                out[meta["grade_id"]] = float(meta["points"])
    return out


# a helper, not a test: pytest must not collect it when a test module imports it by name
test_cells.__test__ = False


def make_submission(course: Course, assignment: str, student: str,
                    replacements: dict[str, str] | None = None, *, release: bool = False) -> Path:
    """Put a submission in ``grading/submitted``: the solution (or the release) with cells replaced."""
    replacements = dict(replacements or {})
    folder = course.submitted / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    base = course.exercises if release else course.solutions
    for name in course.notebooks(assignment):
        nb = nbformat.read(base / assignment / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in replacements:
                cell.source = replacements.pop(grade_id)
        nbformat.write(nb, folder / f"{name}.ipynb")
    if replacements:
        raise KeyError(f"no cells with grade_id {sorted(replacements)} in {assignment}")
    return folder


def student_id(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name).strip("-.") or "variant"


def grade_variants(course: Course, assignment: str, variants: dict[str, dict[str, str]],
                   limits: Limits | None = None, jobs: int | None = None) -> dict[str, dict]:
    """Grade each variant (name -> {solution grade_id: replacement source}) as one student.

    Returns name -> {test grade_id: points earned}, plus ``"_status"``/``"_reason"``
    keys telling whether the submission was graded at all.
    """
    ids = {name: student_id(name) for name in variants}
    if len(set(ids.values())) != len(ids):
        raise ValueError("variant names must differ after turning them into student ids")
    for name, replacements in variants.items():
        make_submission(course, assignment, ids[name], replacements)
    commands.autograde(course, limits, jobs=jobs, assignment=assignment)
    out = {}
    for name, sid in ids.items():
        rec = commands.read_result(course, assignment, sid)
        scores = {key.split("/", 1)[1]: cell["auto_score"]
                  for key, cell in (rec.get("cells") or {}).items() if cell["kind"] == "autograded"}
        scores["_status"] = rec["status"]
        scores["_reason"] = rec.get("reason", "")
        out[name] = scores
    return out


def mutate(cells: dict[str, str], edits: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """A wrong answer: solution cells with each ``(old, new)`` replacement applied.

    ``cells`` maps grade_id -> source (:func:`solution_cells`); ``edits`` maps a
    grade_id to its replacements. Each ``old`` must occur exactly once in its cell,
    so a solution edited later cannot silently turn a wrong answer into the right one.
    """
    out = {}
    for cell, pairs in edits.items():
        source = out.get(cell, cells[cell])
        for old, new in pairs:
            if source.count(old) != 1:
                raise ValueError(f"{old!r} occurs {source.count(old)} times in cell {cell}, not once")
            source = source.replace(old, new)
        out[cell] = source
    return out


def combine_edits(*edits: dict[str, list[tuple[str, str]]]) -> dict[str, list[tuple[str, str]]]:
    """Several wrong answers' edits as one submission's (a variant wrong in every part)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for edit in edits:
        for cell, pairs in edit.items():
            out.setdefault(cell, []).extend(pairs)
    return out


def autograded_parts(scores: dict) -> dict[str, float]:
    """The points per autograded part of one :func:`grade_variants` result; fails if it was not graded."""
    assert scores["_status"] == "graded", scores["_reason"]
    return {k: v for k, v in scores.items() if not k.startswith("_")}
