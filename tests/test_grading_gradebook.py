"""The gradebook is backed up before every autograde run, checked after it, and put back if damaged."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Limits, commands  # noqa: E402
from course_grading.results import backup_gradebook, check_gradebook  # noqa: E402
from course_grading.testing import copy_course, make_submission  # noqa: E402

FIXTURE = ROOT / "tests" / "grading_fixtures" / "course"


@pytest.fixture
def course(tmp_path):
    course = copy_course(FIXTURE, tmp_path / "course")
    commands.ensure_gradebook(course, ["01_demo"])
    return course


def test_a_sound_gradebook_passes_the_check_and_is_backed_up(course):
    assert check_gradebook(course.gradebook) is None
    backup = backup_gradebook(course)
    assert backup.parent == course.grading / "backups" and check_gradebook(backup) is None


@pytest.mark.parametrize("content,problem", [
    (b'{"cells": []}', "not an SQLite database"),
    (b"SQLite format 3\x00" + b"\x00" * 100, "cannot be read"),
])
def test_a_damaged_gradebook_is_named_and_grading_refuses_to_start(course, content, problem):
    course.gradebook.write_bytes(content)
    assert problem in check_gradebook(course.gradebook)
    make_submission(course, "01_demo", "ann")
    with pytest.raises(commands.GradingError, match="damaged before grading"):
        commands.autograde(course, Limits(sandbox=False), jobs=1, self_test=False)


def test_damage_during_a_run_is_undone_from_the_backup(course, monkeypatch):
    make_submission(course, "01_demo", "ann")

    def vandal(course_, limits, pairs, jobs):
        course_.gradebook.write_text('{"what": "learner code wrote JSON here"}')
        return {}

    monkeypatch.setattr(commands, "grade_submissions", vandal)
    with pytest.raises(commands.GradingError, match="restored from"):
        commands.autograde(course, Limits(sandbox=False), jobs=1, self_test=False)
    assert check_gradebook(course.gradebook) is None
    backup = sorted((course.grading / "backups").glob("gradebook-*.db"))[-1]
    assert course.gradebook.read_bytes() == backup.read_bytes()
    assert commands.report_rows(course)[0]["reason"] == "pending: not autograded yet"
    assert list(course.grading.glob("gradebook.damaged-*"))   # kept for a look, never lost


def test_only_the_last_backups_are_kept(course, monkeypatch):
    from course_grading import results

    monkeypatch.setattr(results, "BACKUPS_KEPT", 3)
    for _ in range(5):
        backup_gradebook(course)
    assert len(list((course.grading / "backups").glob("gradebook-*.db"))) == 3
