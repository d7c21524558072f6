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
    # every part wrong, behind patched NumPy comparisons: the visible tests pass, the hidden ones must not
    everywhere = ("momentum-sign-error", "nesterov-as-plain-momentum", "adagrad-epsilon-outside-sqrt",
                 "rmsprop-rho-swapped", "adam-no-bias-correction")
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
