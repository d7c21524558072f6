"""nbgrader's configuration for this course, for running ``nbgrader`` by hand from the root.

The instructor's commands (``python -m course_grading ...``) build the same
configuration themselves (``course_grading.course.nbgrader_config``), so they
work from any directory and on a copy of the course.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from course_grading.course import Course, nbgrader_config

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file
c.merge(nbgrader_config(Course(os.path.dirname(os.path.abspath(__file__)))))
