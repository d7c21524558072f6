"""gdlib.testing: the checks hidden tests rely on must hold even when a notebook patched NumPy or gdlib."""
import sys

import numpy as np
import pytest

import gdlib
import gdlib.optimizers.adam
from gdlib import testing
from gdlib.testing import (Diagnosis, assert_allclose, assert_finite, forbid_gdlib, fresh_reference,
                           gradient_check, numerical_gradient, relative_error, shape_of, to_list,
                           uses_gdlib)


# --- assert_allclose ---------------------------------------------------------------------------

def test_equal_arrays_pass_and_a_mismatch_names_its_first_index():
    assert_allclose(np.float32([[1, 2], [3, 4]]), [[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(AssertionError) as err:
        assert_allclose(np.array([[1.0, 2.0], [3.0, 5.0], [7.0, 8.0]]),
                        np.array([[1.0, 2.0], [3.0, 4.0], [7.0, 9.0]]), name="adam step")
    msg = str(err.value)
    assert msg.startswith("adam step: 2 of 6 values differ")
    assert "index (1, 1): got 5.0, expected 4.0" in msg


def test_tolerance_is_relative_to_the_expected_value_as_in_numpy():
    assert_allclose(1.0 + 1e-7, 1.0, rtol=1e-6)
    assert_allclose(101.0, 100.0, rtol=0.01)  # |101 - 100| <= 0.01 * 100
    with pytest.raises(AssertionError):
        assert_allclose(100.0, 101.0, rtol=0.0099)
    assert_allclose(1e-9, 0.0, atol=1e-8)
    with pytest.raises(AssertionError):
        assert_allclose(1e-7, 0.0, atol=1e-8)


def test_shapes_must_match_exactly_without_broadcasting():
    with pytest.raises(AssertionError, match=r"shape \(3,\) but expected shape \(1, 3\)"):
        assert_allclose(np.zeros(3), np.zeros((1, 3)))
    with pytest.raises(AssertionError, match=r"shape \(\) but expected shape \(2,\)"):
        assert_allclose(0.0, np.zeros(2))


@pytest.mark.parametrize("got,want,ok", [
    (float("nan"), float("nan"), True), (1.0, float("nan"), False), (float("nan"), 1.0, False),
    (float("inf"), float("inf"), True), (float("inf"), 1e308, False), (-float("inf"), float("inf"), False)])
def test_nan_and_infinity(got, want, ok):
    if ok:
        assert_allclose(np.array([got]), np.array([want]))
    else:
        with pytest.raises(AssertionError):
            assert_allclose(np.array([got]), np.array([want]))


def test_non_arrays_are_rejected_with_their_type():
    with pytest.raises(AssertionError, match="got NoneType"):
        assert_allclose(None, 1.0, name="sigmoid_derivative")
    with pytest.raises(AssertionError, match="got str"):
        assert_allclose("1.0", 1.0)


def test_patched_numpy_comparisons_do_not_change_the_verdict(monkeypatch):
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "isclose", lambda *a, **k: np.ones(np.shape(a[0]), bool))
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    monkeypatch.setattr(np.testing, "assert_allclose", lambda *a, **k: None)
    monkeypatch.setattr(np, "asarray", lambda *a, **k: np.zeros(3))
    monkeypatch.setattr(np, "isfinite", lambda a: np.ones(np.shape(a), bool))
    with pytest.raises(AssertionError):
        assert_allclose(np.ones(3), np.zeros(3))
    with pytest.raises(AssertionError):
        assert_finite(np.array([1.0, np.inf]))


def test_an_ndarray_subclass_cannot_lie_through_tolist():
    class Liar(np.ndarray):
        def tolist(self):
            return [0.0, 0.0]

    liar = np.array([5.0, 5.0]).view(Liar)
    assert to_list(liar) == [5.0, 5.0]
    with pytest.raises(AssertionError):
        assert_allclose(liar, [0.0, 0.0])


def test_assert_finite_names_the_first_bad_value():
    assert_finite(np.float32([1e30, -1e30]))
    with pytest.raises(AssertionError, match=r"loss: not finite at index \(1,\): nan"):
        assert_finite(np.array([0.0, np.nan]), name="loss")


def test_shape_of_nested_lists():
    assert shape_of(to_list(np.zeros((2, 3, 1)))) == (2, 3, 1)
    assert shape_of(to_list(np.float32(2.0))) == ()
    assert shape_of(to_list(np.zeros((0, 4)))) == (0,)
    with pytest.raises(AssertionError, match="ragged"):
        shape_of([[1.0], [1.0, 2.0]])


# --- Diagnosis ---------------------------------------------------------------------------------

# The part: double x. Two known mistakes: the sign flipped, and the factor 2 forgotten.
DOUBLE_MISTAKES = {"sign": "your function returns -2 x: see equation (1)",
                   "no factor": "your function returns x, not 2 x: see equation (1)"}
DOUBLE_WRONG = {"sign": lambda x: -2 * x, "no factor": lambda x: x}
DRAWS = [np.array([1.0, -2.0]), np.array([0.0]), np.array([[3.0, 0.5]])]


def _diagnose(answer, draws=DRAWS, mistakes=DOUBLE_MISTAKES, wrong=DOUBLE_WRONG):
    """Run the part's test on ``answer``: None if it passes, else its message."""
    try:
        with Diagnosis(mistakes) as diagnosis:
            for k, x in enumerate(draws):
                diagnosis.compare(answer(x), 2 * x, {name: wrong[name](x) for name in diagnosis.candidates},
                                  name=f"double, draw {k}")
    except AssertionError as error:
        return str(error)
    return None


def test_a_right_answer_passes_without_a_diagnosis():
    assert _diagnose(lambda x: 2 * x) is None
    assert _diagnose(lambda x: x + x) is None


def test_an_answer_matching_one_mistake_on_every_draw_is_named_with_its_first_difference():
    # draw 0: -2 * [1, -2] = [-2, 4] against [2, -4]: the first index differs
    assert _diagnose(lambda x: -2 * x) == (
        "your function returns -2 x: see equation (1). The first difference from the right answer: "
        "double, draw 0: 2 of 2 values differ; first at index (0,): got -2.0, expected 2.0 "
        "(difference 4.0, allowed 0.0 + 1e-06 * |expected|)")
    assert _diagnose(lambda x: x).startswith("your function returns x, not 2 x: see equation (1). ")


def test_a_partial_match_is_no_diagnosis_and_says_what_assert_allclose_says():
    # the sign mistake on the first draw only, then 3 x: matches no mistake on every draw
    calls = iter([lambda x: -2 * x, lambda x: 3 * x, lambda x: 3 * x])
    message = _diagnose(lambda x: next(calls)(x))
    with pytest.raises(AssertionError) as plain:
        assert_allclose(-2 * DRAWS[0], 2 * DRAWS[0], name="double, draw 0")
    assert message == str(plain.value)


def test_a_mistake_that_agrees_with_the_reference_on_a_draw_still_matches_there():
    # x = 0: every mistake gives 0, as the reference does; the sign mistake is named from the other draws
    assert _diagnose(lambda x: -2 * x, draws=[np.array([0.0]), np.array([1.5])]).startswith(
        "your function returns -2 x")


def test_mistakes_the_draws_cannot_tell_apart_are_named_together():
    # on x = 0 and x = 1 the mistakes x and x^3 give the same values
    mistakes = {"a": "mistake A", "b": "mistake B"}
    wrong = {"a": lambda x: x, "b": lambda x: x ** 3}
    message = _diagnose(lambda x: x, draws=[np.array([0.0, 1.0])], mistakes=mistakes, wrong=wrong)
    assert message.startswith("your answer matches 2 known mistakes on every test, which these tests "
                              "cannot tell apart: (1) mistake A; (2) mistake B. The first difference")


def test_a_mistake_without_a_value_gives_the_reference_value():
    diagnosis = Diagnosis(DOUBLE_MISTAKES)
    diagnosis.compare([2.0], [2.0], {"sign": [-2.0]})  # no "no factor": it would have given [2.0] too
    assert diagnosis.candidates == ["no factor"] and not diagnosis.failed
    with pytest.raises(AssertionError, match="^x: 1 of 1 values differ"):
        diagnosis.compare([5.0], [4.0], name="x")  # "no factor" would have given [4.0]: out of the running


def test_the_first_difference_is_raised_as_soon_as_no_mistake_is_left():
    seen = []

    def answer(x):
        seen.append(x)
        return 3 * x

    message = _diagnose(answer)
    assert len(seen) == 1 and message.startswith("double, draw 0: 2 of 2 values differ")


def test_candidates_shrink_so_a_test_runs_only_the_mistakes_still_in_the_running():
    diagnosis = Diagnosis(DOUBLE_MISTAKES)
    assert diagnosis.candidates == ["sign", "no factor"]
    diagnosis.compare(np.array([2.0]), np.array([2.0]), {"sign": [-2.0], "no factor": [1.0]})
    assert diagnosis.candidates == [] and not diagnosis.failed
    diagnosis.finish()  # a right answer: nothing to say


def test_check_records_a_test_that_is_not_a_comparison_of_values():
    diagnosis = Diagnosis({"one batch short": "you drop the last batch"})
    diagnosis.check(True, "unused")
    diagnosis.check(False, "3 batches, expected 4", {"one batch short": True})
    assert diagnosis.failed and diagnosis.candidates == ["one batch short"]
    with pytest.raises(AssertionError, match="^you drop the last batch. The first difference from the right "
                                             "answer: 3 batches, expected 4$"):
        diagnosis.finish()
    with pytest.raises(AssertionError, match="^count is wrong$"):
        Diagnosis({}).check(False, "count is wrong")


def test_shapes_and_values_that_are_not_numbers():
    diagnosis = Diagnosis(DOUBLE_MISTAKES)
    diagnosis.compare([2.0, 4.0], [2.0, 4.0], {"sign": [[2.0, 4.0]], "no factor": None}, name="y")
    assert diagnosis.candidates == []  # a shape that differs, a value that is not numbers: no match
    with pytest.raises(AssertionError, match="got NoneType"):
        Diagnosis(DOUBLE_MISTAKES).compare(None, [2.0], name="double")  # the answer's own type: at once
    with pytest.raises(KeyError, match="'typo' is not one of the mistakes given"):
        Diagnosis(DOUBLE_MISTAKES).compare([1.0], [1.0], {"typo": [1.0]})


def test_an_error_inside_the_block_is_not_replaced():
    with pytest.raises(ZeroDivisionError):
        with Diagnosis(DOUBLE_MISTAKES) as diagnosis:
            diagnosis.compare([-2.0], [2.0], {"sign": [-2.0]})
            1 / 0


# --- fresh_reference ---------------------------------------------------------------------------

def _adam_inputs():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(3, 2)).astype(np.float32)
    g = rng.normal(size=(3, 2)).astype(np.float32)
    return w, g, np.zeros_like(w), np.zeros_like(w)


def test_fresh_reference_ignores_a_monkeypatched_gdlib_function(monkeypatch):
    w, g, m, v = _adam_inputs()
    want = gdlib.optimizers.adam.adam_update(w.copy(), g, m.copy(), v.copy(), 0.1, 0)
    monkeypatch.setattr(gdlib.optimizers.adam, "adam_update", lambda w, *a, **k: w)
    monkeypatch.setattr(gdlib.optimizers, "adam_update", lambda w, *a, **k: w)
    fresh = fresh_reference("gdlib.optimizers.adam", "adam_update")
    assert fresh is not gdlib.optimizers.adam.adam_update
    assert_allclose(fresh(w.copy(), g, m.copy(), v.copy(), 0.1, 0), want, rtol=0, atol=0)
    assert "gdlib.optimizers.adam" in sys.modules and not any(
        name.startswith("_gdlib_testing_fresh_") for name in sys.modules)


def test_fresh_reference_also_replaces_the_gdlib_helpers_it_imported(monkeypatch):
    y_true, y_pred = np.float32([[1.0, 0.0]]), np.float32([[1.0, 0.0]])
    want = gdlib.losses.binary_crossentropy(y_true, y_pred)
    monkeypatch.setattr(gdlib.backend, "epsilon", lambda: 0.4)  # patched helpers
    monkeypatch.setattr(gdlib.losses, "epsilon", lambda: 0.4)
    assert not np.allclose(gdlib.losses.binary_crossentropy(y_true, y_pred), want)
    fresh = fresh_reference("gdlib.losses", "binary_crossentropy")
    assert_allclose(fresh(y_true, y_pred), want, rtol=0, atol=0)


def test_fresh_reference_errors():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fresh_reference("gdlib.activations", "nope")
    with pytest.raises(ImportError):
        fresh_reference("gdlib.no_such_module", "x")


# --- forbid_gdlib ------------------------------------------------------------------------------

def test_own_numpy_code_is_accepted_even_with_gdlib_in_its_docstring():
    def relu_derivative(x):
        """Mirrors gdlib.activations.relu_derivative."""
        return (np.asarray(x) > 0).astype(np.float32)

    assert uses_gdlib(relu_derivative) == []
    with forbid_gdlib(relu_derivative):
        relu_derivative(np.ones(3))


def test_delegation_through_the_module_is_rejected_before_running():
    def adam_update(variable, gradient, m, v, learning_rate, iteration):
        return gdlib.optimizers.adam_update(variable, gradient, m, v, learning_rate, iteration)

    with pytest.raises(AssertionError, match=r"your adam_update uses gdlib \(module gdlib\); "
                                             r"write the update yourself"):
        with forbid_gdlib(adam_update, what="the update"):
            pass


def test_delegation_through_an_imported_name_and_a_helper_is_rejected():
    from gdlib.activations import sigmoid_derivative as _helper

    def inner(x):
        return _helper(x)

    def sigmoid_derivative(x):
        return inner(x)

    assert [origin for _, origin in uses_gdlib(sigmoid_derivative)] == [
        "gdlib.activations.sigmoid_derivative"]
    with pytest.raises(AssertionError, match="calls gdlib's sigmoid_derivative"):
        with forbid_gdlib(sigmoid_derivative):
            pass


@pytest.mark.parametrize("make", ["default", "closure", "subclass", "instance", "string"])
def test_other_routes_to_gdlib_are_found(make):
    if make == "default":
        def fn(x, _f=gdlib.activations.relu):
            return _f(x)
    elif make == "closure":
        f = gdlib.activations.relu

        def fn(x):
            return f(x)
    elif make == "subclass":
        class Mine(gdlib.optimizers.SGD):
            pass
        fn = Mine
    elif make == "instance":
        opt = gdlib.optimizers.SGD()

        def fn(x):
            return opt.apply([x], [x])
    else:
        def fn(x):
            import importlib
            return importlib.import_module("gdlib.activations").relu(x)
    assert uses_gdlib(fn) != []


def test_tripwires_catch_dynamic_delegation_even_when_the_error_is_swallowed():
    name = "".join(["gd", "lib", ".activations"])

    def relu(x):
        try:
            return sys.modules[name].relu(x)
        except BaseException:  # noqa: BLE001 - what a learner might do
            return np.maximum(x, 0)

    assert uses_gdlib(relu) == []
    with pytest.raises(AssertionError, match=r"calls gdlib's relu \(gdlib.activations.relu\)"):
        with forbid_gdlib(relu):
            relu(np.ones(2))
    # restored afterwards
    assert gdlib.activations.relu is not None and not isinstance(
        gdlib.activations.relu, testing._Tripwire)
    assert_allclose(gdlib.activations.relu(np.array([-1.0, 2.0])), [0.0, 2.0])


def test_a_fresh_reference_still_works_inside_the_block():
    ref = fresh_reference("gdlib.activations", "sigmoid")

    def mine(x):
        return 1 / (1 + np.exp(-x))

    with forbid_gdlib(mine):
        got, want = mine(np.zeros(2)), ref(np.zeros(2))
    assert_allclose(got, want)


def test_an_ordinary_failure_inside_the_block_is_not_blamed_on_gdlib():
    with pytest.raises(AssertionError, match="^plain$"):
        with forbid_gdlib(lambda: None):
            raise AssertionError("plain")


# --- gradient checks ---------------------------------------------------------------------------

def test_numerical_gradient_of_a_cubic_in_float64():
    x = np.float32([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda z: float(np.sum(z ** 3)), x)
    assert_allclose(grad, 3 * x.astype(np.float64) ** 2, rtol=1e-8)
    assert x.dtype == np.float32 and x[0, 0] == 1.0  # the caller's array is untouched


def test_numerical_gradient_sees_float64_points():
    seen = []
    numerical_gradient(lambda z: seen.append(z.dtype) or 0.0, np.float32([1.0]))
    assert seen == [np.float64, np.float64]


def test_gradient_check_accepts_right_and_rejects_wrong_gradients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    f = lambda z: float(np.sum(np.tanh(z)))  # noqa: E731
    err = gradient_check(f, x, 1 - np.tanh(x) ** 2)
    assert err < 1e-8
    with pytest.raises(AssertionError, match="gradient check failed"):
        gradient_check(f, x, -(1 - np.tanh(x) ** 2))
    with pytest.raises(AssertionError, match="gradient check failed"):
        gradient_check(f, x, (1 - np.tanh(x) ** 2) / 2)
    with pytest.raises(AssertionError, match="shape"):
        gradient_check(f, x, (1 - np.tanh(x) ** 2).T)


def test_relative_error_by_hand():
    # a = (3, 4), n = (3, 0): ||a - n|| = 4, ||a|| + ||n|| = 5 + 3
    assert relative_error([3.0, 4.0], [3.0, 0.0]) == pytest.approx(0.5)
    assert relative_error([0.0], [0.0]) == 0.0
    assert relative_error([np.nan], [1.0]) == float("inf")


# --- a notebook that tampers with gdlib.testing itself, math or builtins -----------------------

def _fake_testing():
    fake = type(sys)("gdlib.testing")
    fake.assert_allclose = lambda *a, **k: None
    fake.forbid_gdlib = lambda *a, **k: __import__("contextlib").nullcontext()
    return fake


def test_the_trusted_import_line_ignores_a_fake_gdlib_testing_in_sys_modules(monkeypatch):
    monkeypatch.setitem(sys.modules, "gdlib.testing", _fake_testing())
    from gdlib.testing import assert_allclose as faked
    faked(np.ones(2), np.zeros(2))  # the fake passes anything
    scope = {}
    exec(testing.TRUSTED_IMPORT + "\nfrom gdlib.testing import assert_allclose as _close\n", scope)
    assert scope["_close"] is not faked and scope["_close"].__module__ == "gdlib.testing"
    with pytest.raises(AssertionError, match="1 of 1 values differ"):
        scope["_close"](2.0, 1.0)
    assert sys.modules["gdlib.testing"].__file__ == testing.__file__  # the same file, loaded anew


def _verdict(check):
    """'passed' or 'failed' for ``check()`` while math.isclose and builtins lie; restored at once."""
    import builtins
    import math
    saved = {name: getattr(builtins, name) for name in ("abs", "all", "any", "len", "isinstance",
                                                         "float", "zip", "enumerate")}
    saved_math = {name: getattr(math, name) for name in ("isclose", "isfinite", "isnan", "prod",
                                                         "sqrt", "fsum")}
    try:
        builtins.abs = lambda x: 0.0
        builtins.all = builtins.any = lambda it: True
        builtins.len = lambda x: 0
        builtins.isinstance = lambda obj, cls: True
        builtins.float = lambda x=0.0: 0.0
        builtins.zip = lambda *a: iter(())
        builtins.enumerate = lambda it, start=0: iter(())
        math.isclose = lambda *a, **k: True
        math.isfinite = lambda x: True
        math.isnan = lambda x: False
        math.prod = lambda *a, **k: 0
        math.sqrt = math.fsum = lambda *a, **k: 0.0
        try:
            check()
            return "passed"
        except AssertionError:
            return "failed"
    finally:
        for name, value in saved.items():
            setattr(builtins, name, value)
        for name, value in saved_math.items():
            setattr(math, name, value)


def test_patched_math_and_builtins_do_not_change_the_verdict():
    assert _verdict(lambda: assert_allclose(np.array([1.0, 2.0]), np.array([1.0, 2.0]))) == "passed"
    assert _verdict(lambda: assert_allclose(np.array([1.0, 2.0]), np.array([1.0, 2.5]))) == "failed"
    assert _verdict(lambda: assert_allclose(0.1 * 0.5 ** 2, 0.1 * 0.5 ** 1)) == "failed"
    assert _verdict(lambda: assert_allclose([1.0, np.nan], [1.0, 1.0])) == "failed"
    assert _verdict(lambda: assert_allclose([np.inf], [1e300])) == "failed"
    assert _verdict(lambda: assert_finite(np.array([0.0, np.inf]))) == "failed"
    errors = []
    assert _verdict(lambda: errors.append(relative_error([3.0, 4.0], [3.0, 0.0]))) == "passed"
    assert errors == [0.5]  # ||(0, 4)|| / (5 + 3), by hand


def _diagnosis_verdict(answer):
    """_verdict of the doubling part's test; the draws are prepared before builtins lie."""
    draws = [(answer(x), 2 * x, {name: DOUBLE_WRONG[name](x) for name in DOUBLE_MISTAKES}, f"double, draw {k}")
             for k, x in enumerate(DRAWS)]
    messages = []

    def run():
        try:
            with Diagnosis(DOUBLE_MISTAKES) as diagnosis:
                for got, want, mistakes, name in draws:
                    diagnosis.compare(got, want, mistakes, name=name)
        except AssertionError as error:
            messages.append(error.args[0])
            raise

    return _verdict(run), messages


def test_patched_math_and_builtins_do_not_change_a_diagnosis():
    assert _diagnosis_verdict(lambda x: 2 * x) == ("passed", [])
    verdict, [message] = _diagnosis_verdict(lambda x: -2 * x)
    assert verdict == "failed" and message.startswith("your function returns -2 x: see equation (1). ")
    verdict, [message] = _diagnosis_verdict(lambda x: 2 * x + 1)
    assert verdict == "failed" and message.startswith("double, draw 0: 2 of 2 values differ")
