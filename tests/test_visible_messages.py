"""Every assertion a learner can see says what is wrong (issue 12).

The visible tests of each graded part are what a learner runs before handing in: an ``assert``
without a message fails with a bare ``AssertionError`` that names nothing, which is a defect.
The hidden blocks are left out (the learner never sees them; their messages are tested by each
assignment's grader tests). Assignments 05-07 are being reworked for issue 12 at the same time:
they are expected to pass, and marked ``xfail(strict=False)`` until that work is committed.
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from grading_fixtures.diagnoses import split, test_sources, unlabelled_asserts  # noqa: E402

IN_PROGRESS = {"05_tuning", "06_loss_functions", "07_compile_summary"}
ASSIGNMENTS = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb"))


def test_every_assignment_is_checked():
    assert len(ASSIGNMENTS) == 7 and IN_PROGRESS <= set(ASSIGNMENTS)


def test_a_bare_assert_is_found_and_a_labelled_one_is_not():
    source = 'assert x == 1, "x is 1"\nif y:\n    assert y > 0\nassert (z\n        == 2), f"z is {z}"\n'
    assert unlabelled_asserts(source) == ["assert y > 0"]


@pytest.mark.parametrize("assignment", [
    pytest.param(a, marks=pytest.mark.xfail(strict=False, reason="issue 12: reworked in parallel"))
    if a in IN_PROGRESS else a for a in ASSIGNMENTS])
def test_every_visible_assert_has_a_message(assignment):
    bare = {part: unlabelled_asserts(split(source)[0])
            for part, source in test_sources(ROOT, assignment).items()}
    assert bare and not any(bare.values()), {part: found for part, found in bare.items() if found}
