"""The grader of assignment 01 (backpropagation) is right.

One batch of submissions, graded in parallel by course_grading: the solution earns every
autograded point, the untouched release earns 0, each plausible wrong answer loses exactly its
part, and neither patched NumPy comparisons nor calling gdlib's own functions earns anything.
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

ASSIGNMENT = "01_backpropagation"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
POINTS = {"test_activation_derivatives": 3.0, "test_dense_backward": 3.0,
          "test_two_layer_gradients": 4.0, "test_numerical_gradient": 2.0, "test_relative_error": 1.0}
TOTAL, WRITTEN = 13.0, 2.0

# variant -> (the part it must lose, {solution cell: [(old, new), ...]})
ACT, DENSE, TWO, NUM, REL = ("activation_derivatives", "dense_backward", "two_layer_gradients",
                             "numerical_gradient", "relative_error")
WRONG = {
    # activation derivatives
    "sigmoid-derivative-sign-error": ("test_activation_derivatives", {ACT: [
        ("    return y * (1 - y)", "    return y * (y - 1)")]}),
    "relu-derivative-one-at-the-kink": ("test_activation_derivatives", {ACT: [
        ("(x > 0).astype(x.dtype)", "(x >= 0).astype(x.dtype)")]}),
    "tanh-derivative-without-the-square": ("test_activation_derivatives", {ACT: [
        ("    return 1 - t * t", "    return 1 - t")]}),
    "relu-derivative-overwrites-x": ("test_activation_derivatives", {ACT: [
        ("    x = np.asarray(x)\n    return (x > 0).astype(x.dtype)",
         "    x = np.asarray(x)\n    x[x > 0] = 1\n    x[x <= 0] = 0\n    return x")]}),
    "sigmoid-derivative-overwrites-the-given-y": ("test_activation_derivatives", {ACT: [
        ("    y = np.asarray(y)\n    return y * (1 - y)", "    y = np.asarray(y)\n    y *= 1 - y\n    return y")]}),
    "relu-derivative-returns-booleans": ("test_activation_derivatives", {ACT: [
        ("(x > 0).astype(x.dtype)", "x > 0")]}),
    "relu-derivative-always-float64": ("test_activation_derivatives", {ACT: [
        ("(x > 0).astype(x.dtype)", "np.where(x > 0, 1.0, 0.0)")]}),
    # Dense backward
    "dense-forgets-the-bias-gradient": ("test_dense_backward", {DENSE: [
        ("grad_bias = grad_output.sum(axis=0)", "grad_bias = np.zeros_like(bias)")]}),
    "dense-transposed-kernel-gradient": ("test_dense_backward", {DENSE: [
        ("grad_kernel = x.T @ grad_output", "grad_kernel = grad_output.T @ x")]}),
    "dense-bias-gradient-mean-not-sum": ("test_dense_backward", {DENSE: [
        ("grad_bias = grad_output.sum(axis=0)", "grad_bias = grad_output.mean(axis=0)")]}),
    "dense-input-gradient-sign-error": ("test_dense_backward", {DENSE: [
        ("grad_input = grad_output @ kernel.T", "grad_input = -grad_output @ kernel.T")]}),
    "dense-bias-gradient-summed-into-grad-output": ("test_dense_backward", {DENSE: [
        ("    grad_bias = grad_output.sum(axis=0)\n",
         "    grad_bias = grad_output[0]  # a view: += below writes into grad_output\n"
         "    for row in grad_output[1:]:\n        grad_bias += row\n")]}),
    "dense-also-takes-the-sgd-step": ("test_dense_backward", {DENSE: [
        ("    grad_bias = grad_output.sum(axis=0)\n",
         "    grad_bias = grad_output.sum(axis=0)\n"
         "    kernel -= 0.01 * grad_kernel\n    bias -= 0.01 * grad_bias\n")]}),
    # two-layer network
    "two-layer-not-divided-by-batch": ("test_two_layer_gradients", {TWO: [
        ("grad_z = (p - y) / n", "grad_z = p - y")]}),
    "two-layer-no-relu-mask": ("test_two_layer_gradients", {TWO: [
        ("grad_z1 = grad_h * (z1 > 0)", "grad_z1 = grad_h")]}),
    "two-layer-mse-mean-over-batch-only": ("test_two_layer_gradients", {TWO: [
        ("grad_z = 2 * (z - y) / (n * z.shape[1])", "grad_z = 2 * (z - y) / n")]}),
    "two-layer-forgets-hidden-bias-gradient": ("test_two_layer_gradients", {TWO: [
        ("grad_b1 = grad_z1.sum(axis=0)", "grad_b1 = np.zeros_like(b1)")]}),
    "two-layer-softmax-overflows-on-large-logits": ("test_two_layer_gradients", {TWO: [
        ("e = np.exp(z - z.max(axis=1, keepdims=True))", "e = np.exp(z)")]}),
    "two-layer-relu-mask-one-at-the-kink": ("test_two_layer_gradients", {TWO: [
        ("grad_z1 = grad_h * (z1 > 0)", "grad_z1 = grad_h * (z1 >= 0)")]}),
    "two-layer-squeezes-the-output": ("test_two_layer_gradients", {TWO: [
        ("    z = h @ w2 + b2\n", "    z = np.squeeze(h @ w2 + b2)\n")]}),
    "two-layer-residual-written-into-y": ("test_two_layer_gradients", {TWO: [
        ("grad_z = 2 * (z - y) / (n * z.shape[1])", "y -= z\n        grad_z = -2 * y / (n * z.shape[1])")]}),
    # numerical gradient
    "numerical-gradient-forward-difference": ("test_numerical_gradient", {NUM: [
        ("        flat_x[i] = original - h\n        f_minus = float(f())\n",
         "        flat_x[i] = original\n        f_minus = float(f())\n"),
        ("(f_plus - f_minus) / (2 * h)", "(f_plus - f_minus) / h")]}),
    "numerical-gradient-divides-by-h": ("test_numerical_gradient", {NUM: [
        ("(f_plus - f_minus) / (2 * h)", "(f_plus - f_minus) / h")]}),
    "numerical-gradient-does-not-restore-x": ("test_numerical_gradient", {NUM: [
        ("        flat_x[i] = original\n        flat_grad", "        flat_grad")]}),
    "numerical-gradient-in-the-dtype-of-x": ("test_numerical_gradient", {NUM: [
        ("grad = np.zeros(x.shape, dtype=np.float64)", "grad = np.zeros_like(x)")]}),
    # relative error
    "relative-error-scaled-by-analytic-only": ("test_relative_error", {REL: [
        ("max(np.linalg.norm(analytic) + np.linalg.norm(numerical), 1e-12)",
         "max(np.linalg.norm(analytic), 1e-12)")]}),
    "relative-error-without-guard": ("test_relative_error", {REL: [
        ("max(np.linalg.norm(analytic) + np.linalg.norm(numerical), 1e-12)",
         "np.linalg.norm(analytic) + np.linalg.norm(numerical)")]}),
    "relative-error-largest-entry": ("test_relative_error", {REL: [
        ("return float(np.linalg.norm(analytic - numerical) / scale)",
         "return float(np.max(np.abs(analytic - numerical)) / scale)")]}),
    "relative-error-subtracts-in-place": ("test_relative_error", {REL: [
        ("    return float(np.linalg.norm(analytic - numerical) / scale)",
         "    analytic -= numerical\n    return float(np.linalg.norm(analytic) / scale)")]}),
    "relative-error-returns-a-numpy-float32": ("test_relative_error", {REL: [
        ("    analytic = np.asarray(analytic, dtype=np.float64)\n"
         "    numerical = np.asarray(numerical, dtype=np.float64)\n", ""),
        ("return float(np.linalg.norm(analytic - numerical) / scale)",
         "return np.linalg.norm(analytic - numerical) / scale")]}),
}

# variant -> how the hidden tests' message starts (the mistake they name), or None where they name none
# (a value of the wrong type or dtype is told so at once: "return numbers in an array with the dtype of x")
DIAGNOSED = {
    "sigmoid-derivative-sign-error": "your sigmoid_derivative matches sigma (sigma - 1)",
    "relu-derivative-one-at-the-kink": "your relu_derivative matches 1 at the kink x = 0",
    "tanh-derivative-without-the-square": "your tanh_derivative matches 1 - tanh(x), without the square",
    "relu-derivative-overwrites-x": "your relu_derivative matches one that writes its 0s and 1s into the caller's x",
    "sigmoid-derivative-overwrites-the-given-y": "your sigmoid_derivative matches one that computes y (1 - y) in the "
                                                 "caller's y",
    "relu-derivative-returns-booleans": None,
    "relu-derivative-always-float64": None,
    "dense-forgets-the-bias-gradient": "your grad_bias matches zeros",
    "dense-transposed-kernel-gradient": "your grad_kernel matches grad_output^T x",
    "dense-bias-gradient-mean-not-sum": "your grad_bias matches the MEAN of grad_output",
    "dense-input-gradient-sign-error": "your grad_input matches -grad_output W^T",
    "dense-bias-gradient-summed-into-grad-output": "your function matches one that adds the batch up in the caller's "
                                                   "grad_output",
    "dense-also-takes-the-sgd-step": "your function matches one that also takes an SGD step",
    "two-layer-not-divided-by-batch": "your gradients match the crossentropy's without the 1/N",
    "two-layer-no-relu-mask": "your gradients match a backward pass without relu's mask",
    "two-layer-mse-mean-over-batch-only": "your gradients match the squared error averaged over the batch only",
    "two-layer-forgets-hidden-bias-gradient": "your grad_b1 matches zeros",
    "two-layer-softmax-overflows-on-large-logits": "your gradients match a softmax computed as exp(z) / sum(exp(z))",
    "two-layer-relu-mask-one-at-the-kink": "your gradients match relu' = 1 at the kink",
    "two-layer-squeezes-the-output": None,  # an AxisError from NumPy at n = 1: named by the visible tests
    "two-layer-residual-written-into-y": "your function matches one that writes the residual into the caller's y",
    "numerical-gradient-forward-difference": "your gradient matches the one-sided difference",
    "numerical-gradient-divides-by-h": "your gradient matches the central difference divided by h",
    "numerical-gradient-does-not-restore-x": "your function matches one that leaves each entry of x at x_i - h",
    "numerical-gradient-in-the-dtype-of-x": None,
    "relative-error-scaled-by-analytic-only": "your relative error matches ||a - n|| / ||a||",
    "relative-error-without-guard": "your relative error matches ||a - n|| / (||a|| + ||n||) without the guard",
    "relative-error-largest-entry": "your relative error matches the largest entry of |a - n|",
    "relative-error-subtracts-in-place": "your function matches one that subtracts in place",
    "relative-error-returns-a-numpy-float32": None,
}
# variant -> how the visible tests' message starts (what the learner reads before handing in, and in the
# feedback), or None where the visible examples cannot see the mistake (the feedback shows the hidden diagnosis)
VISIBLE = {
    "sigmoid-derivative-sign-error": "sigmoid'(0) = -1/4: the sign is flipped",
    "relu-derivative-one-at-the-kink": "relu'(0) = 1: as Keras and TensorFlow, relu' is 0 at the kink",
    "tanh-derivative-without-the-square": "tanh'(1) = 1 - tanh(1): the square is missing",
    "relu-derivative-overwrites-x": "relu_derivative must not change x",
    "sigmoid-derivative-overwrites-the-given-y": "given y = sigmoid(x), return y (1 - y) as a new array",
    "relu-derivative-returns-booleans": "return relu' as numbers with the dtype of x (float64), not bool",
    "relu-derivative-always-float64": "relu' of float32 x is float32",
    "dense-forgets-the-bias-gradient": "grad_bias is all zeros",
    "dense-transposed-kernel-gradient": "grad_kernel has shape (3, 2), the transpose of the kernel's",
    "dense-bias-gradient-mean-not-sum": "grad_bias = [1, 0.5, 1.5], the MEAN over the batch",
    "dense-input-gradient-sign-error": "grad_input = [[1, -2]]: the sign is flipped",
    "dense-bias-gradient-summed-into-grad-output": "grad_output must not change",
    "dense-also-takes-the-sgd-step": "kernel and bias must not change",
    "two-layer-not-divided-by-batch": "grad_b2 = 2 (p - y): the 1/N of the batch mean is missing",
    "two-layer-no-relu-mask": "grad_b1 has no relu mask",
    "two-layer-mse-mean-over-batch-only": "grad_b2 = 2 (z - y) / N: the mean squared error also averages",
    "two-layer-forgets-hidden-bias-gradient": "grad_b1 is all zeros",
    "two-layer-softmax-overflows-on-large-logits": "logits of 1000 give NaN or inf",
    "two-layer-relu-mask-one-at-the-kink": "grad_b1 uses relu'(0) = 1 at the kink",
    "two-layer-squeezes-the-output": "a batch of one sample fails",
    "two-layer-residual-written-into-y": "y must not change (y -= z writes into the caller's array)",
    "numerical-gradient-forward-difference": "the gradient is 2 x + h: a one-sided difference",
    "numerical-gradient-divides-by-h": "the gradient is 4 x, twice 2 x",
    "numerical-gradient-does-not-restore-x": "x must be restored",
    "numerical-gradient-in-the-dtype-of-x": "return the gradient in float64 whatever the dtype of x",
    "relative-error-scaled-by-analytic-only": "4 / 5 = ||a - n|| / ||a||",
    "relative-error-without-guard": "both gradients 0 give NaN (0 / 0)",
    "relative-error-largest-entry": "1 / sqrt(2): the largest entry of |a - n|",
    "relative-error-subtracts-in-place": "relative_error must not change its inputs",
    "relative-error-returns-a-numpy-float32": "return a Python float (float(...)), also for float32 gradients",
}

# the wrong answer of each part in the variant that also patches NumPy's comparisons
PATCHED = ("sigmoid-derivative-sign-error",
           "dense-transposed-kernel-gradient",
           "two-layer-no-relu-mask",
           "numerical-gradient-divides-by-h",
           "relative-error-scaled-by-analytic-only")

PATCH_NUMPY = """np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
"""

DELEGATE = {
    ACT: "import gdlib\n\ndef relu_derivative(x, y=None):\n    return gdlib.activations.relu_derivative(x, y)\n\n"
         "def sigmoid_derivative(x, y=None):\n    return gdlib.activations.sigmoid_derivative(x, y)\n\n"
         "def tanh_derivative(x, y=None):\n    return gdlib.activations.tanh_derivative(x, y)",
    DENSE: "from gdlib.layers import Dense\n\ndef dense_backward(x, kernel, bias, grad_output):\n"
           "    layer = Dense(kernel.shape[1]); layer.build((None, kernel.shape[0]))\n"
           "    layer.kernel, layer.bias = kernel, bias\n    layer.forward(x)\n"
           "    gx = layer.backward(grad_output)\n    return gx, layer.gradients[0], layer.gradients[1]",
    TWO: "import gdlib\n\ndef two_layer_gradients(x, y, w1, b1, w2, b2, loss='categorical_crossentropy'):\n"
         "    def f():\n        z = gdlib.activations.relu(x @ w1 + b1) @ w2 + b2\n"
         "        out = gdlib.activations.softmax(z) if loss == 'categorical_crossentropy' else z\n"
         "        return gdlib.losses.get(loss)(y, out)\n"
         "    return tuple(gdlib.gradcheck.numerical_gradient(f, p) for p in (w1, b1, w2, b2))",
    NUM: "import gdlib.gradcheck as _gc\n\ndef numerical_gradient(f, x, h=1e-5):\n"
         "    return _gc.numerical_gradient(f, x, h)",
    REL: "import sys\n\ndef relative_error(analytic, numerical):\n"
         "    return sys.modules['gdlib.gradcheck'].relative_error(analytic, numerical)",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("ex01") / "course")
    cells = solution_cells(course, ASSIGNMENT)
    variants = {"solution": {}}
    for name, (_, edits) in WRONG.items():
        variants[name] = mutate(cells, edits)
    # every part wrong, behind patched NumPy comparisons (which the guard restores before each test cell)
    everywhere = PATCHED
    patched = mutate(cells, combine_edits(*(WRONG[name][1] for name in everywhere)))
    patched[ACT] = PATCH_NUMPY + patched[ACT]
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


# --- the messages name the mistake (issue 12) ---------------------------------------------------


class TestMessages(MessageTests):
    """Each wrong answer is told its mistake, in feedback and by the hidden tests alone; the solution nothing."""
    root, assignment, points, patched = ROOT, ASSIGNMENT, POINTS, PATCHED
    wrong, diagnosed, visible = WRONG, DIAGNOSED, VISIBLE
