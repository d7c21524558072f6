"""The instructor's side of the course: release, collect, autograde, feedback, export, report.

Run ``python -m course_grading --help`` from the course root.  Every command takes
``--course ROOT`` (default: the current directory), the folder that holds
``solutions/`` (nbgrader's source directory) and ``exercises/`` (its release
directory); everything the commands produce goes under ``ROOT/grading/``.
"""
import os
import sys

from .course import Course, Limits

# nbgrader runs the `alembic` script from PATH when it creates a gradebook
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

__all__ = ["Course", "Limits"]
