"""Mark written answers in a spreadsheet: export them to CSV, import the filled-in scores.

For a large class, marking in JupyterLab's formgrader means opening every
notebook. Instead::

    python -m course_grading written export            # grading/written.csv
    (fill in the score and comment columns, in any spreadsheet program)
    python -m course_grading written import grading/written.csv

One row per learner and written question: ``student, assignment, notebook,
question, part, max_score, answer, answer_id, score, comment``. Rows whose score
is left blank are skipped (still to be marked). The import checks every row
first (known learner and question, a number between 0 and ``max_score``, the
answer unchanged since the export) and changes nothing unless all are right,
listing each problem with its row number.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import nbformat

from .course import Course
from .results import (GRADED, answer_hash, gradebook, read_result, save_manual_grades)

FIELDS = ["student", "assignment", "notebook", "question", "part", "max_score", "answer",
          "answer_id", "score", "comment"]


class WrittenError(ValueError):
    """The CSV file cannot be imported; nothing was changed."""


def _answers(course: Course, assignment: str, student: str):
    """(notebook, grade_id, part heading, answer source) of every written answer."""
    from .feedback import NameParts

    for name in course.notebooks(assignment):
        path = course.autograded / student / assignment / f"{name}.ipynb"
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - not graded: nothing to mark
            continue
        NameParts().preprocess(nb, {})
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and meta.get("solution") and cell.cell_type == "markdown":
                yield name, meta["grade_id"], meta.get("cg_part", ""), cell.source


def export_written(course: Course, to: Path | None = None, assignment: str | None = None) -> Path:
    """Every written answer of every graded submission, with its current score, to CSV."""
    from .commands import submissions

    to = Path(to) if to else course.grading / "written.csv"
    rows = []
    with gradebook(course) as gb:
        for a, s in submissions(course, assignment):
            record = read_result(course, a, s)
            if not record or record.get("status") != GRADED:
                continue
            for notebook, grade_id, part, source in _answers(course, a, s):
                grade = gb.find_grade(grade_id, notebook, a, s)
                comment = gb.find_comment(grade_id, notebook, a, s)
                rows.append({"student": s, "assignment": a, "notebook": notebook,
                             "question": grade_id, "part": part, "max_score": f"{grade.max_score:g}",
                             "answer": source, "answer_id": answer_hash(source),
                             "score": "" if grade.manual_score is None else f"{grade.manual_score:g}",
                             "comment": comment.manual_comment or ""})
    to.parent.mkdir(parents=True, exist_ok=True)
    with open(to, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return to


def import_written(course: Course, source: Path) -> dict:
    """Apply the scores and comments of a filled-in export; raise :class:`WrittenError` if any row is wrong."""
    from nbgrader.api import MissingEntry

    try:
        with open(source, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [f for f in ("student", "assignment", "notebook", "question", "score")
                       if f not in (reader.fieldnames or [])]
            if missing:
                raise WrittenError(f"{source}: columns {missing} are missing; use the file "
                                   "`written export` writes")
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise WrittenError(f"{source} cannot be read as CSV ({err})") from None
    problems, changes = [], []
    with gradebook(course) as gb:
        for number, row in enumerate(rows, start=2):
            text = (row.get("score") or "").strip()
            comment = (row.get("comment") or "").strip()
            if not text and not comment:
                continue
            where = f"row {number} ({row.get('student')}, {row.get('question')})"
            try:
                grade = gb.find_grade(row["question"], row["notebook"], row["assignment"],
                                      row["student"])
            except MissingEntry:
                problems.append(f"{where}: no such learner, assignment or question in the gradebook")
                continue
            current = {(n, g): src for n, g, _, src in
                       _answers(course, row["assignment"], row["student"])}
            answer = current.get((row["notebook"], row["question"]))
            if answer is None:
                problems.append(f"{where}: not a written answer of a graded submission")
                continue
            if row.get("answer_id") and row["answer_id"] != answer_hash(answer):
                problems.append(f"{where}: the answer changed since the export (a new submission?): "
                                "export again and mark the new answer")
                continue
            score = None
            if text:
                try:
                    score = float(text.replace(",", "."))
                except ValueError:
                    problems.append(f"{where}: score {text!r} is not a number")
                    continue
                if not math.isfinite(score) or not 0 <= score <= grade.max_score:
                    problems.append(f"{where}: score {text} is outside 0..{grade.max_score:g}")
                    continue
            changes.append((row, score, comment))
        if problems:
            raise WrittenError(f"{source}: nothing was imported, because:\n  " + "\n  ".join(problems))
        for row, score, comment in changes:
            if score is not None:
                grade = gb.find_grade(row["question"], row["notebook"], row["assignment"],
                                      row["student"])
                grade.manual_score = score
                grade.needs_manual_grade = False
            if comment:
                gb.find_comment(row["question"], row["notebook"], row["assignment"],
                                row["student"]).manual_comment = comment
        gb.db.commit()
    for pair in {(row["assignment"], row["student"]) for row, _, _ in changes}:
        save_manual_grades(course, *pair)
    return {"scores": sum(s is not None for _, s, _ in changes),
            "comments": sum(bool(c) for _, _, c in changes)}
