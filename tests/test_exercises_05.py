"""The grader of assignment 05 (tuning) is right.

One batch of submissions, graded in parallel by course_grading: the solution earns every
autograded point, the untouched release earns 0, each plausible wrong answer loses exactly its
part (the worst point returned, zip instead of every combination, uniform instead of log-uniform
sampling, EI's sign for maximisation, a forgotten xi, 0/0 where sigma = 0, ...), and neither
patched NumPy/math comparisons nor delegating to gdlib.tuning earn anything. Wrong answers also
break what the docstrings state besides the formulas: the first of tied trials wins, draws are
made trial by trial from `np.random.default_rng(seed)` (fresh with seed=None, never NumPy's global
generator), best values are floats, and EI takes lists (array_like) and is never negative.

Issue 12: a wrong answer is also told which mistake it made, where the tests can tell. DIAGNOSED gives
what the hidden tests name for each wrong answer, VISIBLE what the visible tests name (None where they
pass it, so the graded message is the hidden tests'); messages never show test code.
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

ASSIGNMENT = "05_tuning"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
POINTS = {"test_grid_search": 3.0, "test_random_search": 3.0, "test_expected_improvement": 4.0}

LOG_DRAW = "params[name] = float(10 ** rng.uniform(np.log10(low), np.log10(high)))"

# the wrong answer of each part in the variant that also patches NumPy's comparisons
PATCHED = ("grid-returns-the-worst", "random-uniform-instead-of-log-uniform", "ei-forgets-xi")

# variant -> (the part it must lose, {solution cell: [(old, new), ...]})
WRONG = {
    # grid search
    "grid-returns-the-worst": ("test_grid_search", {"grid_search": [
        ("best_params, best_score = None, math.inf", "best_params, best_score = None, -math.inf"),
        ("if score < best_score:", "if score > best_score:")]}),
    "grid-zip-instead-of-every-combination": ("test_grid_search", {"grid_search": [
        ("itertools.product(*(grid[name] for name in names))", "zip(*(grid[name] for name in names))")]}),
    "grid-first-name-varies-fastest": ("test_grid_search", {"grid_search": [
        ("itertools.product(*(grid[name] for name in names)):\n        params = dict(zip(names, combination))",
         "itertools.product(*(grid[name] for name in reversed(names))):\n"
         "        params = dict(zip(reversed(names), combination))")]}),
    "grid-ties-keep-the-last": ("test_grid_search", {"grid_search": [
        ("if score < best_score:", "if score <= best_score:")]}),
    # random search
    "random-uniform-instead-of-log-uniform": ("test_random_search", {"random_search": [
        (LOG_DRAW, "params[name] = float(rng.uniform(low, high))")]}),
    "random-returns-the-exponent": ("test_random_search", {"random_search": [
        (LOG_DRAW, "params[name] = float(rng.uniform(np.log10(low), np.log10(high)))")]}),
    "random-new-generator-every-trial": ("test_random_search", {"random_search": [
        ("    rng = np.random.default_rng(seed)\n    best_params, best_score = None, math.inf\n"
         "    for _ in range(n_trials):\n",
         "    best_params, best_score = None, math.inf\n    for _ in range(n_trials):\n"
         "        rng = np.random.default_rng(seed)\n")]}),
    "random-ties-keep-the-last": ("test_random_search", {"random_search": [
        ("        if score < best_score:", "        if score <= best_score:")]}),
    "random-draws-name-by-name": ("test_random_search", {"random_search": [
        # vectorised: every trial of the first name, then of the next, instead of trial by trial
        ("    for _ in range(n_trials):\n        params = {}\n"
         "        for name, (low, high, sampling) in space.items():\n"
         "            if sampling == \"log\":\n"
         "                params[name] = float(10 ** rng.uniform(np.log10(low), np.log10(high)))\n"
         "            else:\n"
         "                params[name] = float(rng.uniform(low, high))\n",
         "    columns = {name: 10 ** rng.uniform(np.log10(low), np.log10(high), size=n_trials) if sampling == \"log\"\n"
         "               else rng.uniform(low, high, size=n_trials)\n"
         "               for name, (low, high, sampling) in space.items()}\n"
         "    for trial in range(n_trials):\n"
         "        params = {name: float(column[trial]) for name, column in columns.items()}\n")]}),
    "random-draws-arrays-of-one": ("test_random_search", {"random_search": [
        (LOG_DRAW, "params[name] = 10 ** rng.uniform(np.log10(low), np.log10(high), size=1)"),
        ("params[name] = float(rng.uniform(low, high))", "params[name] = rng.uniform(low, high, size=1)")]}),
    "random-seed-none-means-seed-0": ("test_random_search", {"random_search": [
        ("    rng = np.random.default_rng(seed)\n",
         "    rng = np.random.default_rng(0 if seed is None else seed)\n")]}),
    "random-global-numpy-without-a-seed": ("test_random_search", {"random_search": [
        ("    rng = np.random.default_rng(seed)\n",
         "    rng = np.random.default_rng(seed) if seed is not None else np.random\n")]}),
    # expected improvement
    "ei-sign-for-maximisation": ("test_expected_improvement", {"expected_improvement": [
        ("improvement = best - mu - xi", "improvement = mu - best - xi")]}),
    "ei-forgets-xi": ("test_expected_improvement", {"expected_improvement": [
        ("improvement = best - mu - xi", "improvement = best - mu")]}),
    "ei-divides-by-zero-sigma": ("test_expected_improvement", {"expected_improvement": [
        ("    z = np.divide(improvement, sigma, out=np.zeros_like(improvement), where=positive)\n",
         "    z = improvement / sigma\n"),
        ("    return np.where(positive, np.maximum(ei, 0.0), np.maximum(improvement, 0.0))",
         "    return ei")]}),
    "ei-fails-on-lists": ("test_expected_improvement", {"expected_improvement": [
        ("    mu = np.asarray(mu, dtype=float)\n    sigma = np.asarray(sigma, dtype=float)\n", "")]}),
    "ei-not-clipped-at-zero": ("test_expected_improvement", {"expected_improvement": [
        ("np.where(positive, np.maximum(ei, 0.0), np.maximum(improvement, 0.0))",
         "np.where(positive, ei, np.maximum(improvement, 0.0))")]}),
}

# variant -> how the hidden tests' message starts: the mistake named (None: no diagnosis, and why)
DIAGNOSED = {
    "grid-returns-the-worst": "your search returns the combination with the HIGHEST score",
    "grid-zip-instead-of-every-combination": "your search pairs the lists up as zip does",
    "grid-first-name-varies-fastest": "in your search the FIRST name varies fastest",
    "grid-ties-keep-the-last": "on a tie your search keeps the combination tried last",
    "random-uniform-instead-of-log-uniform": "your search draws the \"log\" hyperparameters uniformly",
    "random-returns-the-exponent": "your search tries the exponents",
    "random-new-generator-every-trial": "your search makes a new generator for every trial",
    "random-ties-keep-the-last": "on a tie your search keeps the trial made last",
    "random-draws-name-by-name": "your search draws every trial of one hyperparameter, then",
    "random-draws-arrays-of-one": "your search draws arrays of one value",
    "random-seed-none-means-seed-0": "with seed=None your search draws the same points as with seed=0",
    "random-global-numpy-without-a-seed": "with seed=None your search draws from NumPy's global generator",
    "ei-sign-for-maximisation": "your EI rewards a HIGHER mean",
    "ei-forgets-xi": "your EI leaves out xi",
    "ei-divides-by-zero-sigma": "your EI divides by sigma where sigma = 0",
    "ei-fails-on-lists": "your function fails when mu and sigma are lists",
    "ei-not-clipped-at-zero": "your EI is slightly negative",
}
# variant -> how the visible tests' message starts (None: the visible tests pass it)
VISIBLE = {
    "grid-returns-the-worst": "your search returns the HIGHEST score",
    "grid-zip-instead-of-every-combination": "your search pairs the lists up as zip does",
    "grid-first-name-varies-fastest": "in your search the FIRST name varies fastest",
    "grid-ties-keep-the-last": None,
    "random-uniform-instead-of-log-uniform": "under 10 % of your draws fall below 1e-3",
    "random-returns-the-exponent": "your search returns the exponents",
    "random-new-generator-every-trial": "every trial drew the same value",
    "random-ties-keep-the-last": None,
    "random-draws-name-by-name": None,
    "random-draws-arrays-of-one": "each value must be a float",
    "random-seed-none-means-seed-0": None,
    "random-global-numpy-without-a-seed": None,
    "ei-sign-for-maximisation": "your EI rewards a HIGHER mean",
    "ei-forgets-xi": "your EI leaves out xi",
    "ei-divides-by-zero-sigma": "mu = y*, sigma = 0, xi = 0: EI = max(0, 0) = 0, but yours is not finite",
    "ei-fails-on-lists": "mu and sigma are array_like, but your function fails on lists",
    "ei-not-clipped-at-zero": None,
}

PATCH_NUMPY = """import math
math.isclose = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
"""

DELEGATE = {
    # the same draws as the stated formula (lo * (hi / lo) ** u), through gdlib's hyperparameters
    "random_search": "from gdlib.tuning import Float\n\ndef random_search(objective, space, n_trials, seed=None):\n"
                     "    rng = np.random.default_rng(seed)\n    best_params, best_score = None, math.inf\n"
                     "    for _ in range(n_trials):\n"
                     "        params = {n: Float(n, lo, hi, sampling=s).from_unit(rng.random()) "
                     "for n, (lo, hi, s) in space.items()}\n"
                     "        score = objective(params)\n"
                     "        if score < best_score:\n            best_params, best_score = params, score\n"
                     "    return best_params, best_score",
    "expected_improvement": "import gdlib.tuning as tuning\n\n"
                            "def expected_improvement(mu, sigma, best, xi=0.01):\n"
                            "    return tuning.expected_improvement(mu, sigma, best, xi)",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("ex05") / "course")
    cells = solution_cells(course, ASSIGNMENT)
    variants = {"solution": {}}
    for name, (_, edits) in WRONG.items():
        variants[name] = mutate(cells, edits)
    # every part wrong, behind patched NumPy comparisons: the visible tests pass, the hidden ones must not
    everywhere = PATCHED
    patched = mutate(cells, combine_edits(*(WRONG[name][1] for name in everywhere)))
    patched["grid_search"] = PATCH_NUMPY + patched["grid_search"]
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
    # random search through gdlib's Float (same numbers) and EI through gdlib earn 0; grid search is the solution's
    assert autograded_parts(scores["delegates-to-gdlib"]) == dict(
        POINTS, test_random_search=0.0, test_expected_improvement=0.0)


class TestMessages(MessageTests):
    """Each wrong answer is told its mistake, in feedback and by the hidden tests alone; the solution nothing."""
    root, assignment, points, patched = ROOT, ASSIGNMENT, POINTS, PATCHED
    wrong, diagnosed, visible = WRONG, DIAGNOSED, VISIBLE
