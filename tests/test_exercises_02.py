"""The grader of assignment 02 (gradient descent) is right.

One batch of submissions, graded in parallel by course_grading: the solution earns every
autograded point, the untouched release earns 0, each plausible wrong answer loses exactly its
part (a training loop is graded with correct helpers, so a wrong `minibatches` or `mse_gradient`
costs points once), and neither patched NumPy comparisons nor delegating to gdlib earn anything.
The solution's mini-batch loop is also checked against gdlib's own `Sequential.fit`.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_grading import Course, Limits, commands  # noqa: E402
from course_grading import testing as cg  # noqa: E402  (cg.test_cells: not collected by pytest)
from course_grading.testing import (autograded_parts, combine_edits, copy_course,  # noqa: E402
                                    grade_variants, make_submission, mutate, solution_cells)

sys.path.insert(0, str(ROOT / "tests"))
from grading_fixtures.diagnoses import MessageTests  # noqa: E402

ASSIGNMENT = "02_gradient_descent"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
POINTS = {"test_minibatches": 2.0, "test_gradient": 2.0, "test_batch_gradient_descent": 2.0,
          "test_stochastic_gradient_descent": 2.0, "test_minibatch_gradient_descent": 3.0}

UPDATE = ("w = w - learning_rate * grad_w\n", "b = b - learning_rate * grad_b\n")

# variant -> (the part it must lose, {solution cell: [(old, new), ...]})
WRONG = {
    # the iterator
    "minibatches-drops-last-batch": ("test_minibatches", {"minibatches": [
        ("    for start in range(0, n, batch_size):", "    for start in range(0, n - batch_size + 1, batch_size):")]}),
    "minibatches-x-and-y-shuffled-apart": ("test_minibatches", {"minibatches": [
        ("    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)\n",
         "    rng = np.random.default_rng(seed)\n"
         "    order = rng.permutation(n) if shuffle else np.arange(n)\n"
         "    y_order = rng.permutation(n) if shuffle else np.arange(n)\n"),
        ("yield x[batch], y[batch]", "yield x[batch], y[y_order[start:start + batch_size]]")]}),
    "minibatches-never-shuffles": ("test_minibatches", {"minibatches": [
        ("np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)", "np.arange(n)")]}),
    "minibatches-draws-even-without-shuffling": ("test_minibatches", {"minibatches": [
        ("    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)\n",
         "    order = np.random.default_rng(seed).permutation(n)\n"
         "    if not shuffle:\n        order = np.arange(n)\n")]}),
    "minibatches-yields-lists": ("test_minibatches", {"minibatches": [
        ("        yield x[batch], y[batch]", "        yield [x[i] for i in batch], [y[i] for i in batch]")]}),
    "minibatches-shuffles-x-and-y-in-place": ("test_minibatches", {"minibatches": [
        ("    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)\n",
         "    if shuffle:\n        order = np.random.default_rng(seed).permutation(n)\n"
         "        x[:], y[:] = x[order], y[order]\n"),
        ("        batch = order[start:start + batch_size]\n        yield x[batch], y[batch]",
         "        yield x[start:start + batch_size], y[start:start + batch_size]")]}),
    # the gradient
    "gradient-sum-instead-of-mean": ("test_gradient", {"mse_gradient": [
        ("grad_w = 2.0 / n * (x.T @ r)", "grad_w = 2.0 * (x.T @ r)"),
        ("grad_b = 2.0 / n * float(np.sum(r))", "grad_b = 2.0 * float(np.sum(r))")]}),
    "gradient-sign-error": ("test_gradient", {"mse_gradient": [
        ("r = x @ w + b - y", "r = y - (x @ w + b)")]}),
    "gradient-without-the-2": ("test_gradient", {"mse_gradient": [
        ("grad_w = 2.0 / n * (x.T @ r)", "grad_w = (x.T @ r) / n"),
        ("grad_b = 2.0 / n * float(np.sum(r))", "grad_b = float(np.sum(r)) / n")]}),
    "gradient-w-as-a-list": ("test_gradient", {"mse_gradient": [
        ("grad_w = 2.0 / n * (x.T @ r)",
         "grad_w = [2.0 / n * float(np.sum(x[:, j] * r)) for j in range(x.shape[1])]")]}),
    "gradient-squeezes-the-residuals": ("test_gradient", {"mse_gradient": [
        ("r = x @ w + b - y  # residuals", "r = np.squeeze(x @ w + b - y)  # residuals")]}),
    "gradient-residuals-written-into-y": ("test_gradient", {"mse_gradient": [
        ("    r = x @ w + b - y  # residuals, shape (n,)\n",
         "    y -= x @ w + b  # minus the residuals, without a new array\n    r = -y\n")]}),
    # batch gradient descent
    "batch-forgets-bias-update": ("test_batch_gradient_descent", {"batch_gradient_descent": [
        ("        " + UPDATE[1], "")]}),
    "batch-bias-gradient-after-weight-step": ("test_batch_gradient_descent", {"batch_gradient_descent": [
        ("        grad_w, grad_b = mse_gradient(x, y, w, b)\n        " + UPDATE[0],
         "        grad_w, _ = mse_gradient(x, y, w, b)\n        " + UPDATE[0]
         + "        _, grad_b = mse_gradient(x, y, w, b)\n")]}),
    "batch-step-uphill": ("test_batch_gradient_descent", {"batch_gradient_descent": [
        ("        " + UPDATE[0] + "        " + UPDATE[1],
         "        w = w + learning_rate * grad_w\n        b = b + learning_rate * grad_b\n")]}),
    "batch-updates-w-in-place": ("test_batch_gradient_descent", {"batch_gradient_descent": [
        ("    w = np.array(w, dtype=float)\n", ""),
        ("        " + UPDATE[0], "        w -= learning_rate * grad_w\n")]}),
    # stochastic gradient descent
    "sgd-shuffles-once-same-order-every-epoch": ("test_stochastic_gradient_descent", {
        "stochastic_gradient_descent": [
            ("    rng = np.random.default_rng(seed)\n    for _ in range(epochs):\n",
             "    for _ in range(epochs):\n        rng = np.random.default_rng(seed)\n")]}),
    "sgd-never-shuffles": ("test_stochastic_gradient_descent", {"stochastic_gradient_descent": [
        ("rng.permutation(len(x))", "range(len(x))")]}),
    "sgd-forgets-bias-update": ("test_stochastic_gradient_descent", {"stochastic_gradient_descent": [
        ("            " + UPDATE[1], "")]}),
    "sgd-updates-w-in-place": ("test_stochastic_gradient_descent", {"stochastic_gradient_descent": [
        ("w = np.array(w, dtype=float)", "w = np.asarray(w, dtype=float)"),
        ("            " + UPDATE[0], "            w -= learning_rate * grad_w\n")]}),
    "sgd-returns-b-as-a-0d-array": ("test_stochastic_gradient_descent", {"stochastic_gradient_descent": [
        ("    b = float(b)\n", "    b = np.array(b, dtype=float)\n"),
        ("            " + UPDATE[1], "            b -= learning_rate * grad_b\n")]}),
    # mini-batch gradient descent
    "minibatch-loop-drops-last-batch": ("test_minibatch_gradient_descent", {"minibatch_gradient_descent": [
        ("            grad_w, grad_b = mse_gradient(x_batch, y_batch, w, b)\n",
         "            if len(y_batch) < batch_size:\n                continue\n"
         "            grad_w, grad_b = mse_gradient(x_batch, y_batch, w, b)\n")]}),
    "minibatch-loop-shuffles-once-same-order-every-epoch": ("test_minibatch_gradient_descent", {
        "minibatch_gradient_descent": [("in minibatches(x, y, batch_size, shuffle=shuffle, seed=rng):",
                                         "in minibatches(x, y, batch_size, shuffle=shuffle, seed=seed):")]}),
    "minibatch-loop-sum-instead-of-mean": ("test_minibatch_gradient_descent", {"minibatch_gradient_descent": [
        ("            " + UPDATE[0] + "            " + UPDATE[1],
         "            w = w - learning_rate * len(y_batch) * grad_w\n"
         "            b = b - learning_rate * len(y_batch) * grad_b\n")]}),
    "minibatch-loop-updates-w-in-place": ("test_minibatch_gradient_descent", {"minibatch_gradient_descent": [
        ("w = np.array(w, dtype=float)", "w = np.asarray(w, dtype=float)"),
        ("            " + UPDATE[0], "            w -= learning_rate * grad_w\n")]}),
    "minibatch-loop-returns-b-as-a-0d-array": ("test_minibatch_gradient_descent", {"minibatch_gradient_descent": [
        ("    b = float(b)\n", "    b = np.array(b, dtype=float)\n"),
        ("            " + UPDATE[1], "            b -= learning_rate * grad_b\n")]}),
}

# variant -> how the hidden tests' message starts (the mistake they name), or None where they name none
# (a value of the wrong type is told so at once: "grad_w must be a NumPy array, not list")
DIAGNOSED = {
    "minibatches-drops-last-batch": "your batches match an epoch that drops the last, smaller batch",
    "minibatches-x-and-y-shuffled-apart": "your batches match x and y shuffled with two different permutations",
    "minibatches-never-shuffles": "your batches match an epoch that never shuffles",
    "minibatches-draws-even-without-shuffling": "your batches match an epoch that draws a permutation even with "
                                                "shuffle=False",
    "minibatches-yields-lists": None,
    "minibatches-shuffles-x-and-y-in-place": "your batches match shuffling x and y in place",
    "gradient-sum-instead-of-mean": "your gradient matches the SUM over the samples",
    "gradient-sign-error": "your gradient matches the right one with its sign flipped",
    "gradient-without-the-2": "your gradient matches 1/n x^T r, without the 2",
    "gradient-w-as-a-list": None,
    "gradient-squeezes-the-residuals": None,  # a ValueError from NumPy at n = 1: named by the visible tests
    "gradient-residuals-written-into-y": "your function matches one that writes the residuals into the caller's y",
    "batch-forgets-bias-update": "your loop matches one that never updates b",
    "batch-bias-gradient-after-weight-step": "your loop matches one that takes dL/db after the weight step",
    "batch-step-uphill": "your loop matches steps uphill",
    "batch-updates-w-in-place": "your loop matches one that updates the caller's w in place",
    "sgd-shuffles-once-same-order-every-epoch": "your loop matches one that makes a new Generator every epoch",
    "sgd-never-shuffles": "your loop matches one that never shuffles",
    "sgd-forgets-bias-update": "your loop matches one that never updates b",
    "sgd-updates-w-in-place": "your loop matches one that updates the caller's w in place",
    "sgd-returns-b-as-a-0d-array": None,
    "minibatch-loop-drops-last-batch": "your loop matches one that skips the last, smaller batch",
    "minibatch-loop-shuffles-once-same-order-every-epoch": "your loop matches one that makes a new Generator every "
                                                           "epoch",
    "minibatch-loop-sum-instead-of-mean": "your loop matches steps scaled by the batch size",
    "minibatch-loop-updates-w-in-place": "your loop matches one that updates the caller's w in place",
    "minibatch-loop-returns-b-as-a-0d-array": None,
}
# variant -> how the visible tests' message starts (what the learner reads before handing in, and in the
# feedback), or None where the visible examples cannot see the mistake (the feedback shows the hidden diagnosis)
IN_PLACE = "the w you are given must not change (w -= ... updates it in place)"
VISIBLE = {
    "minibatches-drops-last-batch": "batches of 2 and 2: the last, smaller batch is dropped",
    "minibatches-x-and-y-shuffled-apart": "shuffled, x rows no longer stay with their y",
    "minibatches-never-shuffles": "with shuffle=True the samples come in their order 0, 1, ..., 4",
    "minibatches-draws-even-without-shuffling": "with shuffle=False your minibatches drew from the Generator",
    "minibatches-yields-lists": "yield each batch as two NumPy arrays",
    "minibatches-shuffles-x-and-y-in-place": "minibatches must not change x or y",
    "gradient-sum-instead-of-mean": "grad_w = 4, grad_b = 2: the SUM over the samples",
    "gradient-sign-error": "grad_w = -2, grad_b = -1: the sign is flipped",
    "gradient-without-the-2": "grad_w = 1, grad_b = 0.5: the 2 of the square's derivative is missing",
    "gradient-w-as-a-list": "grad_w must be a NumPy array (x.T @ r), not list",
    "gradient-squeezes-the-residuals": "with a single sample (n = 1) your gradient fails",
    "gradient-residuals-written-into-y": "mse_gradient must not change y",
    "batch-forgets-bias-update": "b did not move: update b too",
    "batch-bias-gradient-after-weight-step": "b = 0.41: dL/db was taken after the weight step",
    "batch-step-uphill": "w = -1.3, b = -0.8: the step goes uphill",
    "batch-updates-w-in-place": IN_PLACE,
    "sgd-shuffles-once-same-order-every-epoch": "2 epochs give w = 0.842752, b = 0.314496, what a new Generator every "
                                                "epoch",
    "sgd-never-shuffles": "2 epochs give w = 0.285952, b = 0.427264, what visiting the samples in the order 0, 1, 2",
    "sgd-forgets-bias-update": "b did not move: update b too",
    "sgd-updates-w-in-place": IN_PLACE,
    "sgd-returns-b-as-a-0d-array": "return b as a Python float, not ndarray",
    "minibatch-loop-drops-last-batch": "2 epochs give w = 0.996528, b = -0.525204, what skipping the last",
    "minibatch-loop-shuffles-once-same-order-every-epoch": "2 epochs give w = 1.387121, b = -1.020302, what the same "
                                                           "order every epoch",
    "minibatch-loop-sum-instead-of-mean": "5 steps give what steps scaled by the batch size give",
    "minibatch-loop-updates-w-in-place": IN_PLACE,
    "minibatch-loop-returns-b-as-a-0d-array": "return b as a Python float, not ndarray",
}

# the wrong answer of each part in the variant that also patches NumPy's comparisons
PATCHED = ("minibatches-drops-last-batch",
           "gradient-sign-error",
           "batch-forgets-bias-update",
           "sgd-never-shuffles",
           "minibatch-loop-shuffles-once-same-order-every-epoch")

PATCH_NUMPY = """np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_almost_equal = lambda *a, **k: None
"""

_FIT = """import gdlib

def _fit(x, y, w, b, learning_rate, epochs, batch_size, shuffle, seed):
    model = gdlib.models.Sequential([gdlib.layers.Input(shape=(x.shape[1],)), gdlib.layers.Dense(1)])
    model.compile(optimizer=gdlib.optimizers.SGD(learning_rate), loss="mse")
    model.set_weights([np.reshape(w, (-1, 1)), np.array([b])])
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=shuffle, seed=seed, verbose=0)
    kernel, bias = model.get_weights()
    return kernel[:, 0].astype(float), float(bias[0])

"""
DELEGATE = {
    "mse_gradient": "from gdlib.losses import MeanSquaredError\n\ndef mse_gradient(x, y, w, b):\n"
                    "    g = MeanSquaredError().gradient(y[:, None], (x @ w + b)[:, None])[:, 0]\n"
                    "    return x.T @ g, float(g.sum())",
    "batch_gradient_descent": _FIT + "def batch_gradient_descent(x, y, w, b, learning_rate, epochs):\n"
                              "    return _fit(x, y, w, b, learning_rate, epochs, len(x), False, None)",
    "stochastic_gradient_descent": _FIT + "def stochastic_gradient_descent(x, y, w, b, learning_rate, epochs, "
                                   "seed=None):\n    return _fit(x, y, w, b, learning_rate, epochs, 1, True, seed)",
    "minibatch_gradient_descent": _FIT + "def minibatch_gradient_descent(x, y, w, b, learning_rate, epochs, "
                                  "batch_size=32, shuffle=True, seed=None):\n"
                                  "    return _fit(x, y, w, b, learning_rate, epochs, batch_size, shuffle, seed)",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("ex02") / "course")
    cells = solution_cells(course, ASSIGNMENT)
    variants = {"solution": {}}
    for name, (_, edits) in WRONG.items():
        variants[name] = mutate(cells, edits)
    # every part wrong, behind patched NumPy comparisons (which the guard restores before each test cell)
    everywhere = PATCHED
    patched = mutate(cells, combine_edits(*(WRONG[name][1] for name in everywhere)))
    patched["minibatches"] = PATCH_NUMPY + patched["minibatches"]
    variants["patched-numpy"] = patched
    variants["delegates-to-gdlib"] = DELEGATE
    make_submission(course, ASSIGNMENT, "release", release=True)
    scores = grade_variants(course, ASSIGNMENT, variants, limits=LIMITS)
    return course, scores



def test_parts_and_point_totals(graded):
    course, _ = graded
    assert cg.test_cells(course, ASSIGNMENT) == POINTS
    assert sum(POINTS.values()) == 11.0


def test_the_solution_earns_every_autograded_point(graded):
    course, scores = graded
    assert autograded_parts(scores["solution"]) == POINTS
    rec = commands.read_result(course, ASSIGNMENT, "solution")
    assert rec["code_score"] == rec["max_code_score"] == 11.0
    assert rec["max_score"] == 13.0  # plus the written question


def test_the_untouched_release_earns_zero(graded):
    course, _ = graded
    rec = commands.read_result(course, ASSIGNMENT, "release")
    assert rec["status"] == "graded"
    assert rec["score"] == 0.0 and rec["max_code_score"] == 11.0


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
    # `minibatches` has no gdlib counterpart to call; every other part delegates and earns 0
    assert autograded_parts(scores["delegates-to-gdlib"]) == dict.fromkeys(POINTS, 0.0) | {"test_minibatches": 2.0}


def test_the_solution_trains_exactly_like_gdlib_fit():
    """The exercise's convention (one rng, a new permutation each epoch, last batch kept) is fit's."""
    from gdlib import layers, models, optimizers

    namespace = {"np": np}
    for source in solution_cells(Course(ROOT), ASSIGNMENT).values():
        if source.lstrip().startswith("def "):
            exec(source, namespace)
    gen = np.random.default_rng(3)
    for batch_size, shuffle, n in [(4, True, 13), (1, True, 9), (13, False, 13), (5, False, 12)]:
        x = gen.normal(size=(n, 2)).astype(np.float32)
        y = (x @ np.array([1.5, -2.0]) + 0.5).astype(np.float32)
        w0, b0 = gen.normal(size=2).astype(np.float32), np.float32(0.3)
        model = models.Sequential([layers.Input(shape=(2,)), layers.Dense(1)])
        model.compile(optimizer=optimizers.SGD(0.05), loss="mse")
        model.set_weights([w0.reshape(2, 1), np.array([b0])])
        model.fit(x, y, batch_size=batch_size, epochs=3, shuffle=shuffle, seed=7, verbose=0)
        w, b = namespace["minibatch_gradient_descent"](x.astype(float), y.astype(float), w0, b0, 0.05, 3,
                                                       batch_size=batch_size, shuffle=shuffle, seed=7)
        kernel, bias = model.get_weights()
        np.testing.assert_allclose(kernel[:, 0], w, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bias[0], b, rtol=1e-5, atol=1e-6)


# --- the messages name the mistake (issue 12) ---------------------------------------------------


class TestMessages(MessageTests):
    """Each wrong answer is told its mistake, in feedback and by the hidden tests alone; the solution nothing."""
    root, assignment, points, patched = ROOT, ASSIGNMENT, POINTS, PATCHED
    wrong, diagnosed, visible = WRONG, DIAGNOSED, VISIBLE
