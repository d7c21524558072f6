"""The grader of assignment 04 (optimizers) is right.

One batch of submissions, graded in parallel by course_grading: the solution earns every
autograded point, the untouched release earns 0, each plausible wrong answer loses exactly its
part, and neither patched NumPy comparisons, a patched gdlib reference, nor calling gdlib's own
update rule earns anything. Wrong answers include breaking what the docstrings state besides the
rule: the gradient is not modified, the state is updated in place, `m` is unused (and may be None)
when momentum is 0, and a gradient of exact zeros still moves the weights.
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

ASSIGNMENT = "04_optimizers"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
POINTS = {"test_momentum": 2.0, "test_nesterov": 2.0, "test_adagrad": 2.0, "test_rmsprop": 3.0,
          "test_adam": 3.0}

# variant -> (the part it must lose, {solution cell: [(old, new), ...]})
WRONG = {
    # momentum (the nesterov=False branch only)
    "momentum-sign-error": ("test_momentum", {"sgd_update": [
        ("        variable += m  # w <- w + m", "        variable -= m")]}),
    "momentum-pytorch-convention": ("test_momentum", {"sgd_update": [
        ("    m *= momentum  # m <- mu m - eta g\n",
         "    if not nesterov:\n        m *= momentum\n        m += gradient\n"
         "        variable -= learning_rate * m\n        return variable\n"
         "    m *= momentum  # m <- mu m - eta g\n")]}),
    "momentum-ignored": ("test_momentum", {"sgd_update": [
        ("        variable += m  # w <- w + m", "        variable -= learning_rate * gradient")]}),
    "momentum-scales-the-gradient-in-place": ("test_momentum", {"sgd_update": [
        ("    m *= momentum  # m <- mu m - eta g\n",
         "    if not nesterov:\n        gradient *= learning_rate  # eta g, without a temporary\n"
         "        m *= momentum\n        m -= gradient\n        variable += m\n        return variable\n"
         "    m *= momentum  # m <- mu m - eta g\n")]}),
    "momentum-0-still-updates-m": ("test_momentum", {"sgd_update": [
        ("    if momentum == 0:", "    if m is None:")]}),
    # Nesterov
    "nesterov-as-plain-momentum": ("test_nesterov", {"sgd_update": [
        ("        variable += momentum * m - learning_rate * gradient", "        variable += m")]}),
    "nesterov-old-velocity": ("test_nesterov", {"sgd_update": [
        ("    m *= momentum  # m <- mu m - eta g\n",
         "    m_old = m.copy()\n    m *= momentum  # m <- mu m - eta g\n"),
        ("        variable += momentum * m - learning_rate * gradient",
         "        variable += momentum * m_old - learning_rate * gradient")]}),
    "nesterov-scales-the-gradient-in-place": ("test_nesterov", {"sgd_update": [
        ("        variable += momentum * m - learning_rate * gradient",
         "        gradient *= learning_rate\n        variable += momentum * m - gradient")]}),
    "nesterov-needs-a-velocity-at-momentum-0": ("test_nesterov", {"sgd_update": [
        ("    if momentum == 0:", "    if momentum == 0 and not nesterov:")]}),
    # Adagrad
    "adagrad-epsilon-outside-sqrt": ("test_adagrad", {"adagrad_update": [
        ("np.sqrt(accumulator + epsilon)", "(np.sqrt(accumulator) + epsilon)")]}),
    "adagrad-accumulator-not-in-place": ("test_adagrad", {"adagrad_update": [
        ("accumulator += np.square(gradient)", "accumulator = accumulator + np.square(gradient)")]}),
    "adagrad-step-before-accumulating": ("test_adagrad", {"adagrad_update": [
        ("    accumulator += np.square(gradient)  # a <- a + g^2\n"
         "    variable -= learning_rate * gradient / np.sqrt(accumulator + epsilon)\n",
         "    variable -= learning_rate * gradient / np.sqrt(accumulator + epsilon)\n"
         "    accumulator += np.square(gradient)\n")]}),
    "adagrad-divides-the-gradient-in-place": ("test_adagrad", {"adagrad_update": [
        ("    variable -= learning_rate * gradient / np.sqrt(accumulator + epsilon)\n",
         "    gradient /= np.sqrt(accumulator + epsilon)\n    variable -= learning_rate * gradient\n")]}),
    # RMSprop
    "rmsprop-epsilon-outside-sqrt": ("test_rmsprop", {"rmsprop_update": [
        ("np.sqrt(v + epsilon)", "(np.sqrt(v) + epsilon)")]}),
    "rmsprop-rho-swapped": ("test_rmsprop", {"rmsprop_update": [
        ("    v *= rho  # v <- rho v + (1 - rho) g^2\n    v += (1 - rho) * np.square(gradient)",
         "    v *= 1 - rho\n    v += rho * np.square(gradient)")]}),
    "rmsprop-momentum-ignored": ("test_rmsprop", {"rmsprop_update": [
        ("    if momentum > 0:", "    if False:")]}),
    "rmsprop-delta-aliases-the-gradient": ("test_rmsprop", {"rmsprop_update": [
        ("    delta = learning_rate * gradient / denominator\n",
         "    delta = gradient  # a name for the step, not a copy\n    delta *= learning_rate\n"
         "    delta /= denominator\n")]}),
    "rmsprop-velocity-not-in-place": ("test_rmsprop", {"rmsprop_update": [
        ("    v *= rho  # v <- rho v + (1 - rho) g^2\n    v += (1 - rho) * np.square(gradient)",
         "    v = rho * v + (1 - rho) * np.square(gradient)")]}),
    "rmsprop-returns-early-on-a-zero-gradient": ("test_rmsprop", {"rmsprop_update": [
        ("    v *= rho  # v <- rho v + (1 - rho) g^2\n",
         "    if not np.any(gradient):\n        return variable  # nothing to learn from\n"
         "    v *= rho  # v <- rho v + (1 - rho) g^2\n")]}),
    # Adam
    "adam-no-bias-correction": ("test_adam", {"adam_update": [
        ("alpha = learning_rate * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)",
         "alpha = learning_rate")]}),
    "adam-epsilon-as-in-the-paper": ("test_adam", {"adam_update": [
        ("variable -= alpha * m / (np.sqrt(second) + epsilon)",
         "variable -= learning_rate * (m / (1 - beta_1 ** t)) / "
         "(np.sqrt(second / (1 - beta_2 ** t)) + epsilon)")]}),
    "adam-step-off-by-one": ("test_adam", {"adam_update": [
        ("    t = iteration + 1", "    t = iteration")]}),
    "adam-amsgrad-ignored": ("test_adam", {"adam_update": [
        ("        second = v_hat\n", "")]}),
    "adam-squares-the-gradient-in-place": ("test_adam", {"adam_update": [
        ("    v += (1 - beta_2) * np.square(gradient)",
         "    np.square(gradient, out=gradient)  # g^2, without a temporary\n    v += (1 - beta_2) * gradient")]}),
    "adam-moments-not-in-place": ("test_adam", {"adam_update": [
        ("    m *= beta_1  # m <- beta_1 m + (1 - beta_1) g\n    m += (1 - beta_1) * gradient\n"
         "    v *= beta_2  # v <- beta_2 v + (1 - beta_2) g^2\n    v += (1 - beta_2) * np.square(gradient)\n",
         "    m = beta_1 * m + (1 - beta_1) * gradient\n    v = beta_2 * v + (1 - beta_2) * np.square(gradient)\n")]}),
    "adam-v-hat-not-in-place": ("test_adam", {"adam_update": [
        ("        np.maximum(v_hat, v, out=v_hat)  # v_hat <- max(v_hat, v)\n        second = v_hat\n",
         "        v_hat = np.maximum(v_hat, v)\n        second = v_hat\n")]}),
    "adam-lazy-update-skips-zero-gradients": ("test_adam", {"adam_update": [
        ("    variable -= alpha * m / (np.sqrt(second) + epsilon)",
         "    variable -= np.where(gradient != 0, alpha * m / (np.sqrt(second) + epsilon), 0)")]}),
}

# variant -> how the hidden tests' message starts (the mistake they name), or None where they name none
MOMENTUM, NESTEROV = "see chapter 4, Momentum, equation (4.2)", "see chapter 4, Nesterov Momentum, equation (4.3)"
DIAGNOSED = {
    "momentum-sign-error": "your update matches momentum with the step's sign flipped",
    "momentum-pytorch-convention": "your update matches PyTorch's momentum",
    "momentum-ignored": "your update matches plain gradient descent (w <- w - eta g) with the velocity updated",
    "momentum-scales-the-gradient-in-place": "your update matches momentum that multiplies the gradient by eta in "
                                             "place",
    "momentum-0-still-updates-m": "your update matches momentum that still updates m when momentum is 0",
    # plain momentum and Nesterov with the old velocity are the same step (w + m = w + mu m_old - eta g): one name
    "nesterov-as-plain-momentum": "your update with nesterov=True matches plain momentum",
    "nesterov-old-velocity": "your update with nesterov=True matches plain momentum",
    "nesterov-scales-the-gradient-in-place": "your update matches Nesterov's step that multiplies the gradient",
    "nesterov-needs-a-velocity-at-momentum-0": None,  # a TypeError on m = None: named by the visible tests
    "adagrad-epsilon-outside-sqrt": "your update matches Adagrad with epsilon outside the square root",
    "adagrad-accumulator-not-in-place": "your update matches Adagrad that builds a new accumulator",
    "adagrad-step-before-accumulating": "your update matches Adagrad that takes the step before adding",
    "adagrad-divides-the-gradient-in-place": "your update matches Adagrad that divides the gradient in place",
    "rmsprop-epsilon-outside-sqrt": "your update matches RMSprop with epsilon outside the square root when it is "
                                    "not centered",
    "rmsprop-rho-swapped": "your update matches RMSprop with rho and 1 - rho swapped",
    "rmsprop-momentum-ignored": "your update matches RMSprop without its momentum",
    "rmsprop-delta-aliases-the-gradient": "your update matches RMSprop that computes the step in the gradient's",
    "rmsprop-velocity-not-in-place": "your update matches RMSprop that builds a new v",
    "rmsprop-returns-early-on-a-zero-gradient": "your update matches RMSprop that returns early on a gradient of zeros",
    "adam-no-bias-correction": "your update matches Adam without bias correction",
    "adam-epsilon-as-in-the-paper": "your update matches Adam as the paper writes it",
    "adam-step-off-by-one": "your update matches Adam with the step off by one",
    "adam-amsgrad-ignored": "your update matches AMSGrad that updates v_hat but divides by sqrt(v)",
    "adam-squares-the-gradient-in-place": "your update matches Adam that squares the gradient in place",
    "adam-moments-not-in-place": "your update matches Adam that builds new m and v",
    "adam-v-hat-not-in-place": "your update matches AMSGrad that builds a new v_hat",
    "adam-lazy-update-skips-zero-gradients": "your update matches a lazy Adam",
}
# variant -> how the visible tests' message starts (what the learner reads before handing in, and in the
# feedback), or None where the visible examples cannot see the mistake (the feedback shows the hidden diagnosis)
GRADIENT_CHANGED = "the gradient must not change: an in-place operation on it"
VISIBLE = {
    "momentum-sign-error": "w = w - m = 0.75: the step's sign is flipped",
    "momentum-pytorch-convention": "m = mu m + g = 2.45: that is PyTorch's momentum",
    "momentum-ignored": "w = w - eta g = 0.8: the velocity is updated but not used",
    "momentum-scales-the-gradient-in-place": GRADIENT_CHANGED + " (gradient *= learning_rate)",
    "momentum-0-still-updates-m": "momentum 0: m = -eta g = -0.2, so your update still updates m",
    "nesterov-as-plain-momentum": "with nesterov=True, w = w + m' = 1.25: that is plain momentum",
    "nesterov-old-velocity": "with nesterov=True, w = w + m' = 1.25: that is plain momentum",
    "nesterov-scales-the-gradient-in-place": GRADIENT_CHANGED + " (gradient *= learning_rate)",
    "nesterov-needs-a-velocity-at-momentum-0": "momentum 0 with nesterov=True is plain SGD, which needs no velocity",
    "adagrad-epsilon-outside-sqrt": "w = w - eta g / (sqrt(a) + epsilon): epsilon is outside the square root",
    "adagrad-accumulator-not-in-place": "the accumulator is still 0.1: update the caller's array in place",
    "adagrad-step-before-accumulating": "w = w - eta g / sqrt(0.1 + epsilon): the step uses the accumulator before",
    "adagrad-divides-the-gradient-in-place": GRADIENT_CHANGED + " (gradient /= ...)",
    "rmsprop-epsilon-outside-sqrt": None,  # the example has epsilon = 0
    "rmsprop-rho-swapped": "v = (1 - rho) v + rho g^2 = 3.6: rho and 1 - rho are swapped",
    "rmsprop-momentum-ignored": None,  # the example has no momentum
    "rmsprop-delta-aliases-the-gradient": GRADIENT_CHANGED + " (delta = gradient; delta *= ...)",
    "rmsprop-velocity-not-in-place": "v is still 0: update the caller's array in place",
    "rmsprop-returns-early-on-a-zero-gradient": None,  # the example's gradient is not zero
    "adam-no-bias-correction": "w = [0.9685, 0.9684]: each weight moved by about 3.16 eta, what Adam without bias",
    "adam-epsilon-as-in-the-paper": None,  # 1e-4 apart from Keras's on the example
    "adam-step-off-by-one": "w is NaN after the first step: with t = iteration = 0",
    "adam-amsgrad-ignored": None,  # the example has no v_hat
    "adam-squares-the-gradient-in-place": GRADIENT_CHANGED + " (np.square(gradient, out=gradient))",
    "adam-moments-not-in-place": "m and v are still 0: update the caller's arrays in place",
    "adam-v-hat-not-in-place": None,  # the example has no v_hat
    "adam-lazy-update-skips-zero-gradients": None,  # the example's gradient has no zeros
}

# the wrong answer of each part in the variant that also patches NumPy's comparisons
PATCHED = ("momentum-sign-error",
           "nesterov-as-plain-momentum",
           "adagrad-epsilon-outside-sqrt",
           "rmsprop-rho-swapped",
           "adam-no-bias-correction")

PATCH_NUMPY = """np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
"""

DELEGATE = {
    "sgd_update": "import gdlib\n\ndef sgd_update(variable, gradient, m, learning_rate, momentum=0.0, "
                  "nesterov=False):\n    return gdlib.optimizers.sgd_update(variable, gradient, m, "
                  "learning_rate, momentum, nesterov)",
    "adagrad_update": "from gdlib.optimizers.adagrad import adagrad_update as _mine\n\n"
                      "def adagrad_update(*args, **kwargs):\n    return _mine(*args, **kwargs)",
    "rmsprop_update": "import importlib\n\ndef rmsprop_update(*args, **kwargs):\n"
                      "    return importlib.import_module('gdlib.optimizers').rmsprop_update(*args, **kwargs)",
    "adam_update": "import gdlib.optimizers\n\ndef adam_update(*args, _f=gdlib.optimizers.Adam, **kwargs):\n"
                   "    from gdlib.optimizers.adam import adam_update as f\n    return f(*args, **kwargs)",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("ex04") / "course")
    cells = solution_cells(course, ASSIGNMENT)
    variants = {"solution": {}}
    for name, (_, edits) in WRONG.items():
        variants[name] = mutate(cells, edits)
    # every part wrong, behind patched NumPy comparisons (which the guard restores before each test cell)
    everywhere = PATCHED
    patched = mutate(cells, combine_edits(*(WRONG[name][1] for name in everywhere)))
    patched["sgd_update"] = PATCH_NUMPY + patched["sgd_update"]
    variants["patched-numpy"] = patched
    # a wrong Adam installed as gdlib's own, hoping the hidden test compares with it
    wrong_adam = mutate(cells, WRONG["adam-no-bias-correction"][1])["adam_update"]
    variants["patched-gdlib-reference"] = {"adam_update": wrong_adam + (
        "\n\nimport gdlib.optimizers, gdlib.optimizers.adam\n"
        "gdlib.optimizers.adam.adam_update = gdlib.optimizers.adam_update = adam_update")}
    variants["delegates-to-gdlib"] = DELEGATE
    make_submission(course, ASSIGNMENT, "release", release=True)
    scores = grade_variants(course, ASSIGNMENT, variants, limits=LIMITS)
    return course, scores



def test_parts_and_point_totals(graded):
    course, _ = graded
    assert cg.test_cells(course, ASSIGNMENT) == POINTS
    assert sum(POINTS.values()) == 12.0


def test_the_solution_earns_every_autograded_point(graded):
    course, scores = graded
    assert autograded_parts(scores["solution"]) == POINTS
    rec = commands.read_result(course, ASSIGNMENT, "solution")
    assert rec["code_score"] == rec["max_code_score"] == 12.0
    assert rec["max_score"] == 14.0  # plus the written question


def test_the_untouched_release_earns_zero(graded):
    course, _ = graded
    rec = commands.read_result(course, ASSIGNMENT, "release")
    assert rec["status"] == "graded"
    assert rec["score"] == 0.0 and rec["max_code_score"] == 12.0


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


def test_a_patched_gdlib_reference_does_not_move_the_target(graded):
    _, scores = graded
    assert autograded_parts(scores["patched-gdlib-reference"]) == dict(POINTS, test_adam=0.0)


# --- the messages name the mistake (issue 12) ---------------------------------------------------


class TestMessages(MessageTests):
    """Each wrong answer is told its mistake, in feedback and by the hidden tests alone; the solution nothing."""
    root, assignment, points, patched = ROOT, ASSIGNMENT, POINTS, PATCHED
    wrong, diagnosed, visible = WRONG, DIAGNOSED, VISIBLE
