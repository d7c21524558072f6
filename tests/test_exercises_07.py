"""The grader of assignment 07 (compile and summary) is right.

One batch of submissions, graded in parallel by course_grading: the solution earns every
autograded point, the untouched release earns 0, each plausible wrong answer loses exactly its
part (a parameter count without biases or counting the input, (512,) instead of (None, 512),
a model that is not trained enough for 95 % test accuracy, ...), and neither patched NumPy
comparisons nor asking gdlib for the counts earn anything. The trained model is tested on images
and labels its code cannot have loaded (the default split's test images, the digits renamed in
the training data passed in), so a model trained on the notebook's globals or on the test split
loses its part, and so does one whose predict returns logits where probabilities are documented.

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

ASSIGNMENT = "07_compile_summary"
LIMITS = Limits(cell_timeout=60, notebook_budget=300)
POINTS = {"test_count_params": 3.0, "test_output_shapes": 2.0, "test_build_and_train": 4.0}

SHAPES = "[(None,) + tuple(input_shape[:-1]) + (u,) for u in units]"

# the wrong answer of each part in the variant that also patches NumPy's comparisons
PATCHED = ("count-without-biases", "shapes-flatten-the-input", "train-model-not-trained")

# variant -> (the part it must lose, {solution cell: [(old, new), ...]})
WRONG = {
    # counting parameters
    "count-without-biases": ("test_count_params", {"count_params": [
        ("        total += n_in * n_out + (n_out if use_bias else 0)", "        total += n_in * n_out")]}),
    "count-the-input-layer": ("test_count_params", {"count_params": [
        ("    total, n_in = 0, input_shape[-1]", "    total, n_in = input_shape[-1], input_shape[-1]")]}),
    "count-flattens-the-input": ("test_count_params", {"count_params": [
        ("    total, n_in = 0, input_shape[-1]", "    total, n_in = 0, math.prod(input_shape)")]}),
    "count-ignores-use-bias": ("test_count_params", {"count_params": [
        ("(n_out if use_bias else 0)", "n_out")]}),
    # output shapes
    "shapes-without-batch-dimension": ("test_output_shapes", {"output_shapes": [
        (SHAPES, "[tuple(input_shape[:-1]) + (u,) for u in units]")]}),
    "shapes-include-the-input-row": ("test_output_shapes", {"output_shapes": [
        (SHAPES, "[(None,) + tuple(input_shape)] + " + SHAPES)]}),
    "shapes-flatten-the-input": ("test_output_shapes", {"output_shapes": [(SHAPES, "[(None, u) for u in units]")]}),
    "shapes-as-lists": ("test_output_shapes", {"output_shapes": [
        (SHAPES, "[[None] + list(input_shape[:-1]) + [u] for u in units]")]}),
    # the trained model
    "train-model-not-trained": ("test_build_and_train", {"build_and_train": [
        ("    model.fit(x_train, y_train, batch_size=32, epochs=30, verbose=0, seed=0)\n", "")]}),
    "train-one-epoch-of-plain-sgd": ("test_build_and_train", {"build_and_train": [
        ("optimizers.Adam(learning_rate=3e-3)", "optimizers.SGD(learning_rate=0.01)"),
        ("epochs=30", "epochs=1")]}),
    "train-last-layer-outputs-logits": ("test_build_and_train", {"build_and_train": [
        ("layers.Dense(10, activation=\"softmax\",", "layers.Dense(10,"),
        ("loss=\"sparse_categorical_crossentropy\",",
         "loss=losses.SparseCategoricalCrossentropy(from_logits=True),"),
        ("    from gdlib import initializers\n", "    from gdlib import initializers, losses\n")]}),
    "train-on-the-notebook-split-not-the-arguments": ("test_build_and_train", {"build_and_train": [
        ("def build_and_train(x_train, y_train):", "def build_and_train(x, y):")]}),
    "train-also-on-the-test-split": ("test_build_and_train", {"build_and_train": [
        ("    model.fit(x_train, y_train,",
         "    (_, _), (x_more, y_more) = datasets.load_digits()  # more data is better\n"
         "    x_train, y_train = np.concatenate([x_train, x_more]), np.concatenate([y_train, y_more])\n"
         "    model.fit(x_train, y_train,")]}),
}

# variant -> how the hidden tests' message starts: the mistake named (None: no diagnosis, and why)
DIAGNOSED = {
    "count-without-biases": "your count leaves out the biases",
    "count-the-input-layer": "your count includes the input's values",
    "count-flattens-the-input": "your count flattens the input sample",
    "count-ignores-use-bias": "your count adds the biases even with use_bias=False",
    "shapes-without-batch-dimension": "your shapes leave out the batch dimension",
    "shapes-include-the-input-row": "your list starts with the input's shape",
    "shapes-flatten-the-input": "your shapes flatten the input",
    "shapes-as-lists": "your shapes are lists",
    # too little training: a low accuracy says so, but not which of the many ways a model can be undertrained
    "train-model-not-trained": None,
    "train-one-epoch-of-plain-sgd": None,
    # the message names it already (the rows are not probabilities: end with a softmax)
    "train-last-layer-outputs-logits": None,
    "train-on-the-notebook-split-not-the-arguments": "your model predicts the digits' original labels",
    # it predicts the original label of about 30 % of the test images (chance: 10 %)
    "train-also-on-the-test-split": "your model predicts the original label of",
}
# variant -> how the visible tests' message starts (None: the visible tests pass it)
VISIBLE = {
    "count-without-biases": "your count leaves out the biases",
    "count-the-input-layer": "your count includes the 784 input values",
    "count-flattens-the-input": "your count flattens the input",
    "count-ignores-use-bias": "with use_bias=False there are no biases to count",
    "shapes-without-batch-dimension": "your shapes leave out the batch dimension",
    "shapes-include-the-input-row": "your list starts with the input's shape",
    "shapes-flatten-the-input": "your shapes flatten the input",
    "shapes-as-lists": "your shapes are lists",
    "train-model-not-trained": "test accuracy",
    "train-one-epoch-of-plain-sgd": "test accuracy",
    "train-last-layer-outputs-logits": "model.predict must return class probabilities",
    "train-on-the-notebook-split-not-the-arguments": None,
    "train-also-on-the-test-split": None,
}

PATCH_NUMPY = """np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), dtype=bool)
np.array_equal = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
np.testing.assert_array_equal = lambda *a, **k: None
"""

DELEGATE = {
    "count_params": "import gdlib\n\ndef count_params(input_shape, units, use_bias=True):\n"
                    "    model = gdlib.models.Sequential([gdlib.layers.Input(shape=input_shape)]\n"
                    "                                    + [gdlib.layers.Dense(u, use_bias=use_bias) for u in units])\n"
                    "    model.build()\n    return model.count_params()",
    "output_shapes": "from gdlib.layers import Dense\n\ndef output_shapes(input_shape, units):\n"
                     "    shapes, shape = [], (None,) + tuple(input_shape)\n    for u in units:\n"
                     "        shape = Dense(u).compute_output_shape(shape)\n        shapes.append(shape)\n"
                     "    return shapes",
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = copy_course(ROOT, tmp_path_factory.mktemp("ex07") / "course")
    cells = solution_cells(course, ASSIGNMENT)
    variants = {"solution": {}}
    for name, (_, edits) in WRONG.items():
        variants[name] = mutate(cells, edits)
    # every part wrong, behind patched NumPy comparisons: the visible tests pass, the hidden ones must not
    everywhere = PATCHED
    patched = mutate(cells, combine_edits(*(WRONG[name][1] for name in everywhere)))
    patched["count_params"] = PATCH_NUMPY + patched["count_params"]
    variants["patched-numpy"] = patched
    variants["delegates-to-gdlib"] = DELEGATE
    make_submission(course, ASSIGNMENT, "release", release=True)
    scores = grade_variants(course, ASSIGNMENT, variants, limits=LIMITS)
    return course, scores



def test_parts_and_point_totals(graded):
    course, _ = graded
    assert cg.test_cells(course, ASSIGNMENT) == POINTS
    assert sum(POINTS.values()) == 9.0


def test_the_solution_earns_every_autograded_point(graded):
    course, scores = graded
    assert autograded_parts(scores["solution"]) == POINTS
    rec = commands.read_result(course, ASSIGNMENT, "solution")
    assert rec["code_score"] == rec["max_code_score"] == 9.0
    assert rec["max_score"] == 11.0  # plus the written question


def test_the_untouched_release_earns_zero(graded):
    course, _ = graded
    rec = commands.read_result(course, ASSIGNMENT, "release")
    assert rec["status"] == "graded"
    assert rec["score"] == 0.0 and rec["max_code_score"] == 9.0


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


def test_asking_gdlib_for_the_counts_earns_nothing(graded):
    _, scores = graded
    # parts 1 and 2 built from gdlib's layers earn 0; part 3 must use gdlib and is the solution's
    assert autograded_parts(scores["delegates-to-gdlib"]) == dict(POINTS, test_count_params=0.0, test_output_shapes=0.0)


class TestMessages(MessageTests):
    """Each wrong answer is told its mistake, in feedback and by the hidden tests alone; the solution nothing."""
    root, assignment, points, patched = ROOT, ASSIGNMENT, POINTS, PATCHED
    wrong, diagnosed, visible = WRONG, DIAGNOSED, VISIBLE
