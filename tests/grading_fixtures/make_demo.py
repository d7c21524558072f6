"""Writes the demo assignment's source notebook (run once; the .ipynb is committed).

``python tests/grading_fixtures/make_demo.py`` rewrites
``tests/grading_fixtures/course/solutions/01_demo/demo.ipynb``; then
``python -m course_grading release --course tests/grading_fixtures/course`` regenerates its release.
"""
from pathlib import Path

import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent.parent))
from course_grading.handin import hand_in_rule  # noqa: E402


def nbgrader(**flags):
    meta = dict(schema_version=3, locked=False, solution=False, grade=False, task=False)
    meta.update(flags)
    return {"nbgrader": meta}


def md(src, **flags):
    cell = new_markdown_cell(src)
    if flags:
        cell.metadata.update(nbgrader(**flags))
    return cell


def code(src, **flags):
    cell = new_code_cell(src)
    if flags:
        cell.metadata.update(nbgrader(**flags))
    return cell


SOFTPLUS = '''def softplus(x):
    """Softplus activation, computed without overflow.

    Parameters
    ----------
    x : np.ndarray
        Any shape.

    Returns
    -------
    np.ndarray
        Same shape as `x`: ``log(1 + exp(x))``.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    ### END SOLUTION'''

TEST_SOFTPLUS = '''# visible tests
assert np.allclose(softplus(np.array([0.0])), [np.log(2)])
assert np.isfinite(softplus(np.array([1000.0]))).all()
### BEGIN HIDDEN TESTS
# compared in plain Python: patching numpy cannot make these pass
import math, random
_rng = random.Random(20240501)
for _ in range(25):
    _xs = [_rng.uniform(-50.0, 50.0) for _ in range(_rng.randint(1, 6))]
    _got = [float(v) for v in np.asarray(softplus(np.array(_xs))).ravel().tolist()]
    _want = [max(x, 0.0) + math.log1p(math.exp(-abs(x))) for x in _xs]
    assert len(_got) == len(_want), "softplus must keep the shape of x"
    assert all(abs(g - w) <= 1e-9 * max(1.0, abs(w)) for g, w in zip(_got, _want)), "softplus is wrong for some inputs"
### END HIDDEN TESTS'''

MSE_GRADIENT = '''def mse_gradient(y_true, y_pred):
    """Gradient of the mean squared error with respect to `y_pred`.

    Parameters
    ----------
    y_true, y_pred : np.ndarray
        Shape ``(n,)``.

    Returns
    -------
    np.ndarray
        Shape ``(n,)``: ``2 * (y_pred - y_true) / n``.
    """
    ### BEGIN SOLUTION
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    return 2.0 * (y_pred - y_true) / y_true.size
    ### END SOLUTION'''

TEST_MSE_GRADIENT = '''# visible tests
np.testing.assert_allclose(mse_gradient(np.array([1.0, 2.0]), np.array([1.0, 4.0])), [0.0, 2.0])
### BEGIN HIDDEN TESTS
# a gradient check of the loss itself, in plain Python, on random sizes and values
import math, random
_rng = random.Random(77)
for _ in range(10):
    _n = _rng.randint(1, 9)
    _t = [_rng.gauss(0.0, 3.0) for _ in range(_n)]
    _p = [_rng.gauss(0.0, 3.0) for _ in range(_n)]
    _g = [float(v) for v in np.asarray(mse_gradient(np.array(_t), np.array(_p))).ravel().tolist()]
    assert len(_g) == _n, "the gradient has the shape of y_pred"
    _loss = lambda p: sum((a - b) ** 2 for a, b in zip(p, _t)) / _n
    for _i in range(_n):
        _h = 1e-6
        _up = _p[:_i] + [_p[_i] + _h] + _p[_i + 1:]
        _dn = _p[:_i] + [_p[_i] - _h] + _p[_i + 1:]
        _num = (_loss(_up) - _loss(_dn)) / (2 * _h)
        assert abs(_g[_i] - _num) <= 1e-5 * max(1.0, abs(_num)), "gradient check failed"
### END HIDDEN TESTS'''

CELLS = [
    md("# Demo: a stable softplus and the MSE gradient\n\n"
       "Fill in every cell that says `YOUR CODE HERE` and run the visible tests below it. "
       "Before handing in, check the notebook with `nbgrader validate demo.ipynb`.\n\n"
       + hand_in_rule("01_demo", "demo")),
    code("import numpy as np"),
    md("## 1. Softplus without overflow\n\n"
       "$\\operatorname{softplus}(x) = \\log(1 + e^x)$ overflows for large $x$; "
       "use $\\max(x, 0) + \\log(1 + e^{-|x|})$."),
    code(SOFTPLUS, solution=True, grade_id="softplus"),
    code(TEST_SOFTPLUS, grade=True, locked=True, points=2, grade_id="test_softplus"),
    md("## 2. Gradient of the mean squared error\n\n"
       "$L = \\frac{1}{n}\\sum_i (\\hat y_i - y_i)^2$, so "
       "$\\partial L / \\partial \\hat y_i = \\frac{2}{n}(\\hat y_i - y_i)$."),
    code(MSE_GRADIENT, solution=True, grade_id="mse_gradient"),
    code(TEST_MSE_GRADIENT, grade=True, locked=True, points=3, grade_id="test_mse_gradient"),
    # the prompt of a written answer carries no nbgrader metadata (see docs/grading.md)
    md("## 3. In your own words\n\n"
       "Why does the naive formula $\\log(1 + e^x)$ fail for $x = 1000$, "
       "and why does the rewritten one not?"),
    md("### BEGIN SOLUTION\n$e^{1000}$ overflows to infinity in float64, so the log is infinite; "
       "the rewritten form only exponentiates $-|x| \\le 0$, whose exponential lies in $(0, 1]$.\n"
       "### END SOLUTION",
       solution=True, grade=True, points=1, grade_id="explain_stability"),
]


def main():
    nb = new_notebook(cells=CELLS, metadata={
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                       "name": "python3"},
        "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
    out = HERE / "course" / "solutions" / "01_demo" / "demo.ipynb"
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)


if __name__ == "__main__":
    main()
