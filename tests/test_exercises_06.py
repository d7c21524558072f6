"""The grader of assignment 06 (loss functions) is right.

One batch of submissions, graded in parallel by course_grading: the solution earns every
autograded point, the untouched release earns 0, each plausible wrong answer loses exactly its
part, and neither patched NumPy comparisons nor calling gdlib's own losses earns anything.
Wrong answers also break what the notebook states besides the formulas: `y_true` and `y_pred`
are array_like (nested lists and tuples work) and never modified, and predictions of exactly 0
and 1 are clipped in every crossentropy (a one-hot row of probabilities gets a gradient of 0).

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

ASSIGNMENT = "06_loss_functions"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
POINTS = {"test_mean_squared_error": 2.0, "test_binary_crossentropy": 3.0,
          "test_categorical_crossentropy": 3.0, "test_sparse_categorical_crossentropy": 2.0}
TOTAL, WRITTEN = 10.0, 2.0

# the wrong answer of each part in the variant that also patches NumPy's comparisons
PATCHED = ("mse-gradient-sign-error", "bce-gradient-sign-error", "cce-gradient-not-divided-by-batch",
           "scce-gradient-sign-error")

# variant -> (the part it must lose, {solution cell: [(old, new), ...]})
MSE, BCE, CCE, SCCE = ("mean_squared_error", "binary_crossentropy", "categorical_crossentropy",
                       "sparse_categorical_crossentropy")
WRONG = {
    # mean squared error
    "mse-sum-where-the-mean-belongs": ("test_mean_squared_error", {MSE: [
        ("np.mean(np.square(y_true - y_pred), axis=-1)", "np.sum(np.square(y_true - y_pred), axis=-1)")]}),
    "mse-gradient-not-divided-by-batch": ("test_mean_squared_error", {MSE: [
        ("2 * (y_pred - y_true) / y_pred.size", "2 * (y_pred - y_true) / y_pred.shape[-1]")]}),
    "mse-gradient-sign-error": ("test_mean_squared_error", {MSE: [
        ("2 * (y_pred - y_true) / y_pred.size", "2 * (y_true - y_pred) / y_pred.size")]}),
    "mse-gradient-fails-on-lists": ("test_mean_squared_error", {MSE: [
        ("    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)\n    return 2 * (y_pred - y_true) / y_pred.size",
         "    return 2 * (y_pred - y_true) / np.size(y_pred)")]}),
    "mse-gradient-subtracts-in-place": ("test_mean_squared_error", {MSE: [
        ("    return 2 * (y_pred - y_true) / y_pred.size",
         "    y_pred -= y_true  # the error, without a temporary\n    return 2 * y_pred / y_pred.size")]}),
    # binary crossentropy
    "bce-naive-log-sigmoid": ("test_binary_crossentropy", {BCE: [
        ("        loss = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))",
         "        p = 1 / (1 + np.exp(-z))\n        loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))")]}),
    "bce-no-clipping": ("test_binary_crossentropy", {BCE: [
        ("        p = np.clip(y_pred, EPSILON, 1 - EPSILON)\n", "        p = y_pred\n")]}),
    "bce-gradient-sign-error": ("test_binary_crossentropy", {BCE: [
        ("np.where(y_pred >= 0, 1 / (1 + e), e / (1 + e)) - y",
         "y - np.where(y_pred >= 0, 1 / (1 + e), e / (1 + e))")]}),
    "bce-clips-y-pred-in-place": ("test_binary_crossentropy", {BCE: [
        ("        p = np.clip(y_pred, EPSILON, 1 - EPSILON)\n",
         "        p = np.clip(y_pred, EPSILON, 1 - EPSILON, out=y_pred)  # no copy\n")]}),
    "bce-gradient-fails-on-lists": ("test_binary_crossentropy", {BCE: [
        ("    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)\n"
         "    y = y_true * (1 - label_smoothing) + 0.5 * label_smoothing\n    if from_logits:\n        e = ",
         "    y = y_true * (1 - label_smoothing) + 0.5 * label_smoothing\n    if from_logits:\n        e = ")]}),
    # categorical crossentropy
    "cce-no-max-subtraction": ("test_categorical_crossentropy", {CCE: [
        ("        shifted = y_pred - np.max(y_pred, axis=-1, keepdims=True)\n", "        shifted = y_pred\n")]}),
    "cce-probabilities-not-rescaled": ("test_categorical_crossentropy", {CCE: [
        ("        q = y_pred / np.sum(y_pred, axis=-1, keepdims=True)\n        log_p",
         "        q = y_pred\n        log_p")]}),
    "cce-gradient-not-divided-by-batch": ("test_categorical_crossentropy", {CCE: [
        ("    return grad / n\n", "    return grad\n")]}),
    "cce-rescales-y-pred-in-place": ("test_categorical_crossentropy", {CCE: [
        ("        q = y_pred / np.sum(y_pred, axis=-1, keepdims=True)\n        log_p",
         "        q = y_pred\n        q /= np.sum(y_pred, axis=-1, keepdims=True)  # rows that sum to 1\n"
         "        log_p")]}),
    "cce-smooths-y-true-in-place": ("test_categorical_crossentropy", {CCE: [
        ("    y = y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]\n    if from_logits:\n"
         "        shifted",
         "    y = y_true\n    y *= 1 - label_smoothing\n    y += label_smoothing / y.shape[-1]\n    if from_logits:\n"
         "        shifted")]}),
    "cce-fails-on-lists": ("test_categorical_crossentropy", {CCE: [
        ("    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)\n"
         "    y = y_true * (1 - label_smoothing) + label_smoothing / y_true.shape[-1]\n"
         "    if from_logits:\n        shifted",
         "    y = y_true * (1 - label_smoothing) + label_smoothing / len(y_true[0])\n"
         "    if from_logits:\n        shifted")]}),
    "cce-gradient-ignores-the-upper-clip": ("test_categorical_crossentropy", {CCE: [
        ("        inside = (q >= EPSILON) & (q <= 1 - EPSILON)\n",
         "        inside = q >= EPSILON  # a probability of 1 is fine\n")]}),
    # sparse categorical crossentropy
    "scce-no-max-subtraction": ("test_sparse_categorical_crossentropy", {SCCE: [
        ("        shifted = y_pred - np.max(y_pred, axis=-1, keepdims=True)\n", "        shifted = y_pred\n")]}),
    "scce-gradient-sign-error": ("test_sparse_categorical_crossentropy", {SCCE: [
        ("        grad = e / np.sum(e, axis=-1, keepdims=True) - y\n",
         "        grad = y - e / np.sum(e, axis=-1, keepdims=True)\n")]}),
    "scce-gradient-divided-by-entries": ("test_sparse_categorical_crossentropy", {SCCE: [
        ("    return grad / n\n", "    return grad / y_pred.size\n")]}),
    "scce-fails-on-lists": ("test_sparse_categorical_crossentropy", {SCCE: [
        ("    labels, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred)\n    if from_logits:",
         "    labels, y_pred = y_true.astype(int), np.asarray(y_pred)\n    if from_logits:")]}),
    "scce-gradient-ignores-the-upper-clip": ("test_sparse_categorical_crossentropy", {SCCE: [
        ("        inside = (q >= EPSILON) & (q <= 1 - EPSILON)\n",
         "        inside = q >= EPSILON  # a probability of 1 is fine\n")]}),
}

# variant -> how the hidden tests' message starts: the mistake named (None: no diagnosis, and why)
DIAGNOSED = {
    "mse-sum-where-the-mean-belongs": "your loss sums the squared errors of a sample",
    "mse-gradient-not-divided-by-batch": "your gradient is divided by the number of outputs d only",
    "mse-gradient-sign-error": "your gradient has the wrong sign",
    "mse-gradient-fails-on-lists": "your gradient fails when y_true and y_pred are lists",
    "mse-gradient-subtracts-in-place": "your gradient subtracts y_true from the caller's y_pred in place",
    "bce-naive-log-sigmoid": "your loss takes the log of sigmoid(z) computed first",
    "bce-no-clipping": "your loss takes the log of probabilities without clipping them",
    "bce-gradient-sign-error": "your gradient from logits has the wrong sign",
    "bce-clips-y-pred-in-place": "your loss clips the caller's y_pred in place",
    "bce-gradient-fails-on-lists": "your gradient fails when y_true and y_pred are lists",
    "cce-no-max-subtraction": "your loss exponentiates the logits without subtracting each row's maximum",
    "cce-probabilities-not-rescaled": "your loss takes the probabilities as given",
    "cce-gradient-not-divided-by-batch": "your gradient is not divided by the batch size N",
    "cce-rescales-y-pred-in-place": "your loss rescales the caller's y_pred in place",
    "cce-smooths-y-true-in-place": "your loss smooths the caller's y_true in place",
    "cce-fails-on-lists": "your loss fails when y_true and y_pred are lists",
    "cce-gradient-ignores-the-upper-clip": "your gradient is not 0 where a probability was clipped at 1 - EPSILON",
    "scce-no-max-subtraction": "your loss exponentiates the logits without subtracting each row's maximum",
    "scce-gradient-sign-error": "your gradient from logits has the wrong sign",
    "scce-gradient-divided-by-entries": "your gradient is divided by N K",
    "scce-fails-on-lists": "your loss fails when y_true is a list",
    "scce-gradient-ignores-the-upper-clip": "your gradient is not 0 where a probability was clipped at 1 - EPSILON",
}
# variant -> how the visible tests' message starts (None: the visible tests pass it)
VISIBLE = dict.fromkeys(WRONG) | {
    "mse-sum-where-the-mean-belongs": "your loss sums the squared errors of a sample",
    "mse-gradient-not-divided-by-batch": "your gradient is divided by d only",
    "mse-gradient-sign-error": "your gradient has the wrong sign",
    "mse-gradient-subtracts-in-place": "mean_squared_error_gradient changed y_pred",
    "bce-naive-log-sigmoid": "logits of +-1000 must give a finite loss: never take the log of sigmoid(z)",
    "bce-gradient-sign-error": "your gradient from logits has the wrong sign",
    "cce-no-max-subtraction": "logits of +-1000 must give a finite loss: subtract each row's maximum",
    "scce-no-max-subtraction": "logits of +-1000 must give a finite loss: subtract each row's maximum",
    "scce-gradient-sign-error": "your gradient from logits has the wrong sign",
    "scce-gradient-divided-by-entries": "your gradient is divided by N K",
}

PATCH_NUMPY = """np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.isfinite = lambda a, *r, **k: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = lambda *a, **k: None
"""

DELEGATE = {
    MSE: "import gdlib\n\ndef mean_squared_error(y_true, y_pred):\n"
         "    return gdlib.losses.mean_squared_error(y_true, y_pred)\n\n"
         "def mean_squared_error_gradient(y_true, y_pred):\n"
         "    return gdlib.losses.mean_squared_error_gradient(y_true, y_pred)",
    BCE: "from gdlib.losses import binary_crossentropy as _l, binary_crossentropy_gradient as _g\n\n"
         "def binary_crossentropy(*a, **k):\n    return _l(*a, **k)\n\n"
         "def binary_crossentropy_gradient(*a, **k):\n    return _g(*a, **k)",
    CCE: "import gdlib.losses as L\n\n"
         "def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):\n"
         "    return L.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing,\n"
         "                                     reduction=None)(y_true, y_pred)\n\n"
         "def categorical_crossentropy_gradient(*a, **k):\n    return L.categorical_crossentropy_gradient(*a, **k)",
    SCCE: "import sys\n\ndef sparse_categorical_crossentropy(*a, **k):\n"
          "    return sys.modules['gdlib.losses'].sparse_categorical_crossentropy(*a, **k)\n\n"
          "def sparse_categorical_crossentropy_gradient(*a, **k):\n"
          "    return sys.modules['gdlib.losses'].sparse_categorical_crossentropy_gradient(*a, **k)",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("ex06") / "course")
    cells = solution_cells(course, ASSIGNMENT)
    variants = {"solution": {}}
    for name, (_, edits) in WRONG.items():
        variants[name] = mutate(cells, edits)
    # every part wrong, behind patched NumPy comparisons: the visible tests pass, the hidden ones must not
    everywhere = PATCHED
    patched = mutate(cells, combine_edits(*(WRONG[name][1] for name in everywhere)))
    patched[MSE] = PATCH_NUMPY + patched[MSE]
    variants["patched-numpy"] = patched
    variants["delegates-to-gdlib"] = DELEGATE
    make_submission(course, ASSIGNMENT, "release", release=True)
    scores = grade_variants(course, ASSIGNMENT, variants, limits=LIMITS)
    return course, scores



def test_parts_and_point_totals(graded):
    course, _ = graded
    assert cg.test_cells(course, ASSIGNMENT) == POINTS
    assert sum(POINTS.values()) == TOTAL


def test_the_solution_earns_every_autograded_point(graded):
    course, scores = graded
    assert autograded_parts(scores["solution"]) == POINTS
    rec = commands.read_result(course, ASSIGNMENT, "solution")
    assert rec["code_score"] == rec["max_code_score"] == TOTAL
    assert rec["max_score"] == TOTAL + WRITTEN


def test_the_untouched_release_earns_zero(graded):
    course, _ = graded
    rec = commands.read_result(course, ASSIGNMENT, "release")
    assert rec["status"] == "graded"
    assert rec["score"] == 0.0 and rec["max_code_score"] == TOTAL


@pytest.mark.parametrize("variant", sorted(WRONG))
def test_a_wrong_answer_loses_exactly_its_part(graded, variant):
    _, scores = graded
    loses = WRONG[variant][0]
    assert autograded_parts(scores[variant]) == dict(POINTS, **{loses: 0.0})


def test_every_part_has_at_least_two_wrong_answers():
    for part in POINTS:
        assert sum(loses == part for loses, _ in WRONG.values()) >= 2, part


@pytest.mark.parametrize("variant", ["patched-numpy", "delegates-to-gdlib"])
def test_patched_numpy_and_delegating_to_gdlib_earn_nothing(graded, variant):
    _, scores = graded
    assert autograded_parts(scores[variant]) == dict.fromkeys(POINTS, 0.0)


class TestMessages(MessageTests):
    """Each wrong answer is told its mistake, in feedback and by the hidden tests alone; the solution nothing."""
    root, assignment, points, patched = ROOT, ASSIGNMENT, POINTS, PATCHED
    wrong, diagnosed, visible = WRONG, DIAGNOSED, VISIBLE
