"""Shared pytest configuration.

The demo course under ``grading_fixtures/`` holds notebooks that the grading
tests copy and grade; they are data, not notebooks for nbval to run.

Every grading test grades a fresh copy of a course, and ``autograde`` first
grades each assignment's solution (its self-test). The self-test remembers a
pass by a hash of the solution and the environment, in ``COURSE_GRADING_CACHE``:
one folder for the whole session, so each solution is self-tested once per
environment, not once per copy.
"""
import os
import tempfile

collect_ignore = ["grading_fixtures"]

os.environ.setdefault("COURSE_GRADING_CACHE", tempfile.mkdtemp(prefix="cg-selftest-cache-"))


def pytest_generate_tests(metafunc):
    """Run a shared message test (grading_fixtures.diagnoses.MessageTests) once per wrong answer of its module."""
    wrong = getattr(metafunc.cls, "wrong", None)
    if wrong is not None and "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", sorted(wrong))
