"""course_grading.testing's helpers for listing wrong answers (no grading needed)."""

import pytest

from course_grading.testing import autograded_parts, combine_edits, mutate

CELLS = {"f": "def f(x):\n    return x + 1\n", "g": "def g(x):\n    return 2 * x\n"}


def test_mutate_applies_each_replacement_to_its_cell_only():
    out = mutate(CELLS, {"f": [("x + 1", "x - 1")]})
    assert out == {"f": "def f(x):\n    return x - 1\n"}
    assert CELLS["f"].endswith("x + 1\n")  # the solution itself is untouched


@pytest.mark.parametrize("old", ["x + 2", "x"])
def test_mutate_refuses_a_replacement_that_is_not_exactly_once_in_the_cell(old):
    # "x + 2" is absent; "x" occurs three times: either way the wrong answer would not be what it claims
    with pytest.raises(ValueError, match="not once"):
        mutate(CELLS, {"f": [(old, "y")]})


def test_combine_edits_makes_one_submission_wrong_in_every_part():
    edits = combine_edits({"f": [("x + 1", "x - 1")]}, {"g": [("2 * x", "3 * x")]},
                          {"f": [("def f", "def f")]})
    assert edits == {"f": [("x + 1", "x - 1"), ("def f", "def f")], "g": [("2 * x", "3 * x")]}
    assert mutate(CELLS, edits)["g"].endswith("3 * x\n")


def test_autograded_parts_drops_status_keys_and_fails_when_not_graded():
    assert autograded_parts({"test_f": 2.0, "_status": "graded", "_reason": ""}) == {"test_f": 2.0}
    with pytest.raises(AssertionError, match="kernel died"):
        autograded_parts({"_status": "not graded", "_reason": "crashed: the kernel died"})
