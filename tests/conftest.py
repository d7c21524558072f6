"""Shared pytest configuration.

The demo course under ``grading_fixtures/`` holds notebooks that the grading
tests copy and grade; they are data, not notebooks for nbval to run.
"""

collect_ignore = ["grading_fixtures"]
