"""The grader of assignment 03 (learning rate) is right.

One batch of submissions, graded in parallel by course_grading: the solution earns every
autograded point, the untouched release earns 0, each plausible wrong answer loses exactly its
part (a schedule off by one step, a staircase not floored, decay per epoch instead of per step,
1/lambda_max, the smallest eigenvalue, ...), and neither patched NumPy/math comparisons nor
delegating to gdlib's schedules earn anything.
"""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Limits, commands  # noqa: E402
from course_grading import testing as cg  # noqa: E402  (cg.test_cells: not collected by pytest)
from course_grading.testing import (autograded_parts, combine_edits, copy_course,  # noqa: E402
                                    grade_variants, make_submission, mutate, solution_cells)

sys.path.insert(0, str(ROOT / "tests"))
from grading_fixtures.diagnoses import MessageTests  # noqa: E402

ASSIGNMENT = "03_learning_rate"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
POINTS = {"test_exponential_decay": 2.0, "test_inverse_time_decay": 2.0,
          "test_piecewise_constant_decay": 2.0, "test_learning_rates_during_fit": 2.0,
          "test_largest_stable_learning_rate": 2.0}

FLOOR = "    if staircase:\n        p = math.floor(p)\n"

# variant -> (the part it must lose, {solution cell: [(old, new), ...]})
WRONG = {
    # exponential decay
    "exponential-staircase-not-floored": ("test_exponential_decay", {"exponential_decay": [(FLOOR, "")]}),
    "exponential-off-by-one-step": ("test_exponential_decay", {"exponential_decay": [
        ("    p = step / decay_steps", "    p = (step + 1) / decay_steps")]}),
    "exponential-e-instead-of-decay-rate": ("test_exponential_decay", {"exponential_decay": [
        ("    return initial_learning_rate * decay_rate ** p",
         "    return initial_learning_rate * math.exp(-decay_rate * p)")]}),
    "exponential-returns-a-0d-array": ("test_exponential_decay", {"exponential_decay": [
        (FLOOR + "    return initial_learning_rate * decay_rate ** p",
         "    return np.where(staircase, initial_learning_rate * decay_rate ** math.floor(p),\n"
         "                    initial_learning_rate * decay_rate ** p)")]}),
    # inverse-time decay
    "inverse-time-staircase-not-floored": ("test_inverse_time_decay", {"inverse_time_decay": [(FLOOR, "")]}),
    "inverse-time-forgets-decay-steps": ("test_inverse_time_decay", {"inverse_time_decay": [
        ("    p = step / decay_steps", "    p = step")]}),
    "inverse-time-returns-a-0d-array": ("test_inverse_time_decay", {"inverse_time_decay": [
        (FLOOR + "    return initial_learning_rate / (1 + decay_rate * p)",
         "    return np.where(staircase, initial_learning_rate / (1 + decay_rate * math.floor(p)),\n"
         "                    initial_learning_rate / (1 + decay_rate * p))")]}),
    # piecewise constant
    "piecewise-boundary-step-gets-next-value": ("test_piecewise_constant_decay", {"piecewise_constant_decay": [
        ("        if step <= boundary:", "        if step < boundary:")]}),
    "piecewise-last-interval-keeps-previous-value": ("test_piecewise_constant_decay", {
        "piecewise_constant_decay": [("    return values[-1]", "    return value")]}),
    "piecewise-appends-a-sentinel-to-boundaries": ("test_piecewise_constant_decay", {"piecewise_constant_decay": [
        ("    for boundary, value in zip(boundaries, values):\n",
         "    boundaries.append(math.inf)  # the last value applies up to infinity\n"
         "    for boundary, value in zip(boundaries, values):\n")]}),
    "piecewise-returns-a-0d-array": ("test_piecewise_constant_decay", {"piecewise_constant_decay": [
        ("    for boundary, value in zip(boundaries, values):\n        if step <= boundary:\n"
         "            return value\n    return values[-1]",
         "    return np.select([step <= boundary for boundary in boundaries], values[:-1], values[-1])")]}),
    # steps, not epochs
    "fit-decays-per-epoch": ("test_learning_rates_during_fit", {"learning_rates_during_fit": [
        ("    return [float(schedule(step)) for step in range(epochs * steps_per_epoch)]",
         "    return [float(schedule(epoch)) for epoch in range(epochs) for _ in range(steps_per_epoch)]")]}),
    "fit-forgets-the-partial-batch": ("test_learning_rates_during_fit", {"learning_rates_during_fit": [
        ("math.ceil(n_samples / batch_size)", "n_samples // batch_size")]}),
    "fit-counts-steps-from-1": ("test_learning_rates_during_fit", {"learning_rates_during_fit": [
        ("range(epochs * steps_per_epoch)", "range(1, epochs * steps_per_epoch + 1)")]}),
    "fit-returns-an-array": ("test_learning_rates_during_fit", {"learning_rates_during_fit": [
        ("    return [float(schedule(step)) for step in range(epochs * steps_per_epoch)]",
         "    return np.array([schedule(step) for step in range(epochs * steps_per_epoch)])")]}),
    # largest stable learning rate
    "stable-one-over-lambda-max": ("test_largest_stable_learning_rate", {"largest_stable_learning_rate": [
        ("return 2.0 / float(", "return 1.0 / float(")]}),
    "stable-smallest-eigenvalue": ("test_largest_stable_learning_rate", {"largest_stable_learning_rate": [
        ("np.max(np.linalg.eigvalsh(A))", "np.min(np.linalg.eigvalsh(A))")]}),
    "stable-largest-diagonal-entry": ("test_largest_stable_learning_rate", {"largest_stable_learning_rate": [
        ("np.max(np.linalg.eigvalsh(A))", "np.max(np.diag(A))")]}),
    "stable-adds-jitter-to-A-in-place": ("test_largest_stable_learning_rate", {"largest_stable_learning_rate": [
        ("    return 2.0 / float(",
         "    A += 1e-12 * np.eye(len(A))  # jitter, for numerical stability\n    return 2.0 / float(")]}),
    "stable-returns-a-one-element-array": ("test_largest_stable_learning_rate", {"largest_stable_learning_rate": [
        ("return 2.0 / float(np.max(np.linalg.eigvalsh(A)))", "return 2.0 / np.linalg.eigvalsh(A)[-1:]")]}),
}

# variant -> how the hidden tests' message starts (the mistake they name), or None where they name none
# (a value of the wrong type is told so at once: "return the learning rate as a float, not ndarray")
DIAGNOSED = {
    "exponential-staircase-not-floored": "your rate matches the smooth decay also when staircase=True",
    "exponential-off-by-one-step": "your rate matches exponential decay one step ahead",
    "exponential-e-instead-of-decay-rate": "your rate matches eta_0 exp(-r t/s)",
    "exponential-returns-a-0d-array": None,
    "inverse-time-staircase-not-floored": "your rate matches the smooth decay also when staircase=True",
    "inverse-time-forgets-decay-steps": "your rate matches eta_0 / (1 + r t), without decay_steps",
    "inverse-time-returns-a-0d-array": None,
    "piecewise-boundary-step-gets-next-value": "your rate matches a schedule that switches AT each boundary",
    "piecewise-last-interval-keeps-previous-value": "your rate matches a schedule that keeps the next-to-last value",
    "piecewise-appends-a-sentinel-to-boundaries": "your function matches one that appends to the caller's `boundaries`",
    "piecewise-returns-a-0d-array": None,
    "fit-decays-per-epoch": "your rates match a schedule asked once per epoch",
    "fit-forgets-the-partial-batch": "your rates match floor(n / B) updates per epoch",
    "fit-counts-steps-from-1": "your rates match steps counted from 1",
    "fit-returns-an-array": None,
    "stable-one-over-lambda-max": "your rate matches 1 / lambda_max",
    "stable-smallest-eigenvalue": "your rate matches 2 / lambda_min",
    "stable-largest-diagonal-entry": "your rate matches 2 / (the largest diagonal entry of A)",
    "stable-adds-jitter-to-A-in-place": "your function matches one that adds a small jitter to the caller's A",
    "stable-returns-a-one-element-array": None,
}
# variant -> how the visible tests' message starts (what the learner reads before handing in, and in the
# feedback), or None where the visible examples cannot see the mistake (the feedback shows the hidden diagnosis)
FLOAT = "return the learning rate as a Python float, not an array"
VISIBLE = {
    "exponential-staircase-not-floored": "staircase=True gives the smooth rate 0.1 * 0.5 ** 1.9",
    "exponential-off-by-one-step": "step 0 gives 0.1 * 0.5 ** (1 / 10): the step is off by one",
    "exponential-e-instead-of-decay-rate": "step 5 gives 0.1 * exp(-0.5 * 5 / 10)",
    "exponential-returns-a-0d-array": FLOAT,
    "inverse-time-staircase-not-floored": "staircase=True gives the smooth rate 1 / (1 + 1.5)",
    "inverse-time-forgets-decay-steps": "step 10 gives 1 / (1 + 1 * 10): decay_steps is missing",
    "inverse-time-returns-a-0d-array": FLOAT,
    "piecewise-boundary-step-gets-next-value": "steps 10 and 20 get the next value",
    "piecewise-last-interval-keeps-previous-value": "after the last boundary your rate stays 0.01",
    "piecewise-appends-a-sentinel-to-boundaries": "the lists you are given must not change",
    "piecewise-returns-a-0d-array": "return each learning rate as a Python float, not an array",
    "fit-decays-per-epoch": "the rate changes once per epoch",
    "fit-forgets-the-partial-batch": "4 rates: 2 updates per epoch, floor(10 / 4)",
    "fit-counts-steps-from-1": "steps 1..6: the first update is step t = 0",
    "fit-returns-an-array": "return a list of Python floats, not an array",
    "stable-one-over-lambda-max": "eta = 0.1 = 1 / lambda_max",
    "stable-smallest-eigenvalue": "eta = 2 = 2 / lambda_min",
    "stable-largest-diagonal-entry": None,  # the example's A is diagonal
    "stable-adds-jitter-to-A-in-place": "A must not change (A += ... writes into the caller's matrix)",
    "stable-returns-a-one-element-array": FLOAT,
}

# the wrong answer of each part in the variant that also patches NumPy's comparisons
PATCHED = ("exponential-off-by-one-step",
           "inverse-time-staircase-not-floored",
           "piecewise-boundary-step-gets-next-value",
           "fit-decays-per-epoch",
           "stable-one-over-lambda-max")

PATCH_NUMPY = """import math
math.isclose = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
"""

DELEGATE = {
    "exponential_decay": "from gdlib.schedules import ExponentialDecay\n\n"
                         "def exponential_decay(step, initial_learning_rate, decay_steps, decay_rate, "
                         "staircase=False):\n    return ExponentialDecay(initial_learning_rate, decay_steps, "
                         "decay_rate, staircase)(step)",
    "inverse_time_decay": "import gdlib\n\ndef inverse_time_decay(*args, staircase=False):\n"
                          "    step, rest = args[0], args[1:]\n"
                          "    return gdlib.schedules.InverseTimeDecay(*rest, staircase=staircase)(step)",
    "piecewise_constant_decay": "import importlib\n\ndef piecewise_constant_decay(step, boundaries, values):\n"
                                "    schedules = importlib.import_module('gdlib.schedules')\n"
                                "    return schedules.PiecewiseConstantDecay(boundaries, values)(step)",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("ex03") / "course")
    cells = solution_cells(course, ASSIGNMENT)
    variants = {"solution": {}}
    for name, (_, edits) in WRONG.items():
        variants[name] = mutate(cells, edits)
    # every part wrong, behind patched NumPy comparisons (which the guard restores before each test cell)
    everywhere = PATCHED
    patched = mutate(cells, combine_edits(*(WRONG[name][1] for name in everywhere)))
    patched["exponential_decay"] = PATCH_NUMPY + patched["exponential_decay"]
    variants["patched-numpy"] = patched
    variants["delegates-to-gdlib"] = DELEGATE
    make_submission(course, ASSIGNMENT, "release", release=True)
    scores = grade_variants(course, ASSIGNMENT, variants, limits=LIMITS)
    return course, scores



def test_parts_and_point_totals(graded):
    course, _ = graded
    assert cg.test_cells(course, ASSIGNMENT) == POINTS
    assert sum(POINTS.values()) == 10.0


def test_the_solution_earns_every_autograded_point(graded):
    course, scores = graded
    assert autograded_parts(scores["solution"]) == POINTS
    rec = commands.read_result(course, ASSIGNMENT, "solution")
    assert rec["code_score"] == rec["max_code_score"] == 10.0
    assert rec["max_score"] == 12.0  # plus the written question


def test_the_untouched_release_earns_zero(graded):
    course, _ = graded
    rec = commands.read_result(course, ASSIGNMENT, "release")
    assert rec["status"] == "graded"
    assert rec["score"] == 0.0 and rec["max_code_score"] == 10.0


@pytest.mark.parametrize("variant", sorted(WRONG))
def test_a_wrong_answer_loses_exactly_its_part(graded, variant):
    _, scores = graded
    loses = WRONG[variant][0]
    assert autograded_parts(scores[variant]) == dict(POINTS, **{loses: 0.0})


def test_every_part_has_at_least_two_wrong_answers():
    for part in POINTS:
        assert sum(loses == part for loses, _ in WRONG.values()) >= 2, part


def test_patched_numpy_earns_nothing(graded):
    _, scores = graded
    assert autograded_parts(scores["patched-numpy"]) == dict.fromkeys(POINTS, 0.0)


def test_delegating_to_gdlib_earns_nothing(graded):
    _, scores = graded
    # the schedules delegate to gdlib.schedules and earn 0; parts 4 and 5 are the solution's
    assert autograded_parts(scores["delegates-to-gdlib"]) == dict(
        POINTS, test_exponential_decay=0.0, test_inverse_time_decay=0.0, test_piecewise_constant_decay=0.0)


# --- the messages name the mistake (issue 12) ---------------------------------------------------


class TestMessages(MessageTests):
    """Each wrong answer is told its mistake, in feedback and by the hidden tests alone; the solution nothing."""
    root, assignment, points, patched = ROOT, ASSIGNMENT, POINTS, PATCHED
    wrong, diagnosed, visible = WRONG, DIAGNOSED, VISIBLE
