"""What feedback needs beyond nbgrader's: parts named by their heading, and maths rendered offline.

:class:`NameParts` gives every graded cell the title of the part it belongs to
(the nearest Markdown heading above it, such as "4. Adam"), which the feedback
template (``templates/cg_feedback``) shows instead of "Test cell";
:class:`GetGradesAndMarking` is nbgrader's ``GetGrades`` that also tells which
written answers are still to be marked (their score shows as "to be marked",
never as a 0).
:func:`install_mathjax` copies MathJax (from the ``django-static-mathjax``
wheel the ``grading`` extra installs) next to the feedback, so formulas render
with no network; the template loads it by a relative path.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from nbgrader.preprocessors import GetGrades, NbGraderPreprocessor

MATHJAX_FOLDER = "_mathjax"
# what tex-chtml.js loads at run time: fonts, TeX extensions (autoload), menu, accessibility
MATHJAX_PARTS = ["es5/tex-chtml.js", "es5/output/chtml/fonts", "es5/input/tex/extensions",
                 "es5/ui", "es5/a11y", "es5/adaptors", "LICENSE"]


class NameParts(NbGraderPreprocessor):
    """Store in each graded cell's metadata (``nbgrader.cg_part``) the heading of its part."""

    def preprocess(self, nb, resources):
        heading = None
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                found = re.search(r"^#{1,4}\s+(.+?)\s*#*\s*$", cell.source, flags=re.M)
                if found and not cell.metadata.get("nbgrader", {}).get("grade"):
                    heading = found.group(1)
            meta = cell.metadata.get("nbgrader")
            if meta and (meta.get("grade") or meta.get("task")):
                meta["cg_part"] = heading or meta.get("grade_id", "")
        return nb, resources


class GetGradesAndMarking(GetGrades):
    """nbgrader's ``GetGrades``, and ``nbgrader.score`` None for an answer still to be marked."""

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        if grade.needs_manual_grade and grade.manual_score is None:
            cell.metadata.nbgrader["score"] = None


def mathjax_source() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"
    return folder if (folder / MATHJAX_PARTS[0]).is_file() else None


def install_mathjax(feedback_folder: Path) -> Path | None:
    """Copy MathJax to ``<feedback>/_mathjax`` (once); None if it is not installed."""
    source = mathjax_source()
    target = Path(feedback_folder) / MATHJAX_FOLDER
    if source is None:
        return None
    if not (target / MATHJAX_PARTS[0]).is_file():
        for part in MATHJAX_PARTS:
            src, dst = source / part, target / part
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            else:
                shutil.copyfile(src, dst)
    return target
