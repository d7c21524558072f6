"""Tests for gdlib.activations: hand-derived values, golden values recorded from
Keras 3, central-difference gradient checks in float64, and stability at +-1000."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gdlib import activations

INF = float("inf")

ELEMENTWISE = [
    "relu", "sigmoid", "tanh", "linear", "elu", "selu", "softplus", "softsign",
    "leaky_relu", "gelu", "silu", "exponential",
]

# Recorded with Keras 3.15.1 (KERAS_BACKEND=torch, torch 2.13.0+cpu), float32.
GOLDEN_X = [-1000.0, -88.5, -20.0, -3.29999995, -1.0, -0.5, -0.00100000005, 0.0, 0.00100000005, 0.5, 1.0, 2.70000005, 20.0, 88.5, 1000.0]
GOLDEN_ACTIVATIONS = {
    'relu': (
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.00100000005, 0.5, 1.0, 2.70000005, 20.0, 88.5, 1000.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ),
    'sigmoid': (
        [0.0, 3.67230161e-39, 2.06115369e-09, 0.0355711915, 0.268941432, 0.377540678, 0.499750018, 0.5, 0.500249982, 0.622459352, 0.731058598, 0.93702662, 1.0, 1.0, 1.0],
        [0.0, 3.67230161e-39, 2.06115369e-09, 0.0343058817, 0.196611941, 0.23500371, 0.24999994, 0.25, 0.24999994, 0.23500371, 0.196611926, 0.0590077341, 0.0, 0.0, 0.0],
    ),
    'tanh': (
        [-1.0, -1.0, -1.0, -0.997282982, -0.761594176, -0.462117165, -0.000999999698, 0.0, 0.000999999698, 0.462117165, 0.761594176, 0.991007447, 1.0, 1.0, 1.0],
        [0.0, 0.0, 0.0, 0.00542665413, 0.419974297, 0.786447704, 0.999998987, 1.0, 0.999998987, 0.786447704, 0.419974297, 0.0179042388, 0.0, 0.0, 0.0],
    ),
    'linear': (
        [-1000.0, -88.5, -20.0, -3.29999995, -1.0, -0.5, -0.00100000005, 0.0, 0.00100000005, 0.5, 1.0, 2.70000005, 20.0, 88.5, 1000.0],
        [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ),
    'elu': (
        [-1.0, -1.0, -1.0, -0.963116825, -0.63212055, -0.393469334, -0.00099950016, 0.0, 0.00100000005, 0.5, 1.0, 2.70000005, 20.0, 88.5, 1000.0],
        [0.0, 3.67230161e-39, 2.06115369e-09, 0.0368831679, 0.36787945, 0.606530666, 0.99900049, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ),
    'selu': (
        [-1.75809932, -1.75809932, -1.75809932, -1.69325507, -1.11133075, -0.691758156, -0.0017572206, 0.0, 0.00105070102, 0.525350511, 1.05070102, 2.83689284, 21.0140209, 92.9870377, 1050.70105],
        [0.0, 6.45627108e-39, 3.62371289e-09, 0.064844273, 0.64676863, 1.06634116, 1.75634205, 1.75809932, 1.05070102, 1.05070102, 1.05070102, 1.05070102, 1.05070102, 1.05070102, 1.05070102],
    ),
    'softplus': (
        [0.0, 3.67230161e-39, 2.06115369e-09, 0.0362192579, 0.313261688, 0.474076986, 0.692647278, 0.693147182, 0.693647325, 0.974076986, 1.31326163, 2.7650435, 20.0, 88.5, 1000.0],
        [0.0, 3.67230161e-39, 2.06115369e-09, 0.0355711915, 0.268941432, 0.377540678, 0.499749988, 0.5, 0.500250041, 0.622459352, 0.731058598, 0.93702662, 1.0, 1.0, 1.0],
    ),
    'softsign': (
        [-0.999001026, -0.988826811, -0.952380955, -0.767441809, -0.5, -0.333333343, -0.000999000971, 0.0, 0.000999000971, 0.333333343, 0.5, 0.729729712, 0.952380955, 0.988826811, 0.999001026],
        [9.97912139e-07, 0.000124840066, 0.00226757303, 0.0540833026, 0.25, 0.444444478, 0.998002946, 1.0, 0.998002946, 0.444444478, 0.25, 0.0730460137, 0.00226757303, 0.000124840066, 9.97912139e-07],
    ),
    'leaky_relu': (
        [-200.0, -17.7000008, -4.0, -0.660000026, -0.200000003, -0.100000001, -0.000200000009, 0.0, 0.00100000005, 0.5, 1.0, 2.70000005, 20.0, 88.5, 1000.0],
        [0.200000003, 0.200000003, 0.200000003, 0.200000003, 0.200000003, 0.200000003, 0.200000003, 0.200000003, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    ),
    'gelu': (
        [-0.0, -0.0, -0.0, -0.00159510074, -0.158655256, -0.154268771, -0.000499601068, 0.0, 0.000500398979, 0.345731229, 0.841344714, 2.6906395, 20.0, 88.5, 1000.0],
        [0.0, 0.0, 0.0, -0.0052010119, -0.0833154321, 0.13250491, 0.499202192, 0.5, 0.500797808, 0.86749506, 1.08331537, 1.02466953, 1.0, 1.0, 1.0],
    ),
    'gelu_approximate': (
        [-0.0, -0.0, -0.0, -0.00131126936, -0.158807993, -0.154285997, -0.000499601068, 0.0, 0.000500398979, 0.345714003, 0.841192007, 2.69111228, 20.0, 88.5, 1000.0],
        [0.0, 0.0, 0.0, -0.00474986387, -0.0829640925, 0.13263011, 0.499202132, 0.5, 0.500797868, 0.86736989, 1.08296406, 1.02466774, 1.0, 1.0, 1.0],
    ),
    'silu': (
        [-0.0, -3.24998691e-37, -4.12230747e-08, -0.117384925, -0.268941432, -0.188770339, -0.000499750022, 0.0, 0.000500250026, 0.311229676, 0.731058598, 2.52997184, 20.0, 88.5, 1000.0],
        [-0.0, -3.21326392e-37, -3.91619217e-08, -0.0776382163, 0.0723294839, 0.260038823, 0.499500006, 0.5, 0.500499964, 0.739961207, 0.927670538, 1.09634745, 1.0, 1.0, 1.0],
    ),
    'exponential': (
        [0.0, 3.67230161e-39, 2.06115369e-09, 0.0368831679, 0.36787945, 0.606530666, 0.99900049, 1.0, 1.00100052, 1.64872122, 2.71828175, 14.8797321, 485165184.0, 2.72308792e+38, INF],
        [0.0, 3.67230161e-39, 2.06115369e-09, 0.0368831679, 0.36787945, 0.606530666, 0.99900049, 1.0, 1.00100052, 1.64872122, 2.71828175, 14.8797321, 485165184.0, 2.72308792e+38, INF],
    ),
}
GOLDEN_SOFTMAX = dict(x=[1000.0, 0.0, -1000.0, 1.0, 2.0, 3.0, -0.5, 0.25, 0.125, -1000.0, -1000.0, -999.0], g=[0.100000001, -0.200000003, 0.300000012, 1.0, 0.0, -1.0, 0.5, 0.5, -2.0, 2.0, -1.0, 0.5], y=[1.0, 0.0, 0.0, 0.0900305733, 0.244728476, 0.665240943, 0.200591907, 0.424653083, 0.374755025, 0.211941555, 0.211941555, 0.57611686], dx=[0.0, -0.0, 0.0, 0.141817093, 0.140770361, -0.282587439, 0.187932059, 0.397852182, -0.585784256, 0.31791234, -0.31791234, 0.0], shape=(4, 3))


# ----------------------------------------------------------- hand-derived values
E = math.e
SIG1 = 1 / (1 + math.exp(-1))


@pytest.mark.parametrize(
    "name, x, expected",
    [
        ("relu", [-2.0, 0.0, 3.0], [0.0, 0.0, 3.0]),
        ("sigmoid", [0.0, 1.0], [0.5, SIG1]),
        ("tanh", [1.0], [(E - 1 / E) / (E + 1 / E)]),
        ("linear", [-2.5, 4.0], [-2.5, 4.0]),
        ("elu", [-1.0, 2.0], [1 / E - 1, 2.0]),
        ("selu", [-1.0, 2.0], [activations.SELU_SCALE * activations.SELU_ALPHA * (1 / E - 1), 2 * activations.SELU_SCALE]),
        ("softplus", [0.0, 1.0], [math.log(2), math.log(1 + E)]),
        ("softsign", [1.0, -3.0], [0.5, -0.75]),
        ("leaky_relu", [-1.0, 2.0], [-0.2, 2.0]),  # Keras 3's default negative_slope=0.2
        ("gelu", [1.0], [0.5 * (1 + math.erf(1 / math.sqrt(2)))]),
        ("silu", [1.0], [SIG1]),
        ("swish", [1.0], [SIG1]),
        ("exponential", [1.0], [E]),
    ],
)
def test_hand_derived_values(name, x, expected):
    y = activations.get(name)(np.array(x, dtype=np.float32))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_softmax_hand_value():
    # exp(0)/(exp(0)+exp(ln 3)) = 1/4, exp(ln 3)/4 = 3/4
    np.testing.assert_allclose(activations.softmax([[0.0, math.log(3)]]), [[0.25, 0.75]], rtol=1e-6)


def test_gelu_approximate_hand_value():
    # x = 1: u = sqrt(2/pi) * 1.044715; 0.5 * (1 + tanh u)
    u = math.sqrt(2 / math.pi) * 1.044715
    assert activations.gelu(np.float32(1.0), approximate=True) == pytest.approx(0.5 * (1 + math.tanh(u)), rel=1e-6)


def test_keyword_arguments():
    np.testing.assert_allclose(activations.leaky_relu([-2.0], negative_slope=0.5), [-1.0])
    np.testing.assert_allclose(activations.elu([-1.0], alpha=2.0), [2 * (1 / E - 1)], rtol=1e-6)
    np.testing.assert_allclose(activations.leaky_relu_derivative([-2.0], negative_slope=0.5), [0.5])
    np.testing.assert_allclose(activations.elu_derivative([-1.0], alpha=2.0), [2 / E], rtol=1e-6)


# ------------------------------------------------------------- golden from Keras
# Where Keras itself loses digits in float32 (1 - tanh^2, 1 + erf for x < -3),
# absolute differences of up to about 2 ulp of 1.0 are expected.
ATOL = {"gelu": 2.5e-7, "gelu_approximate": 2.5e-7}


@pytest.mark.parametrize("name", list(GOLDEN_ACTIVATIONS))
def test_matches_keras(name):
    x = np.array(GOLDEN_X, dtype=np.float32)
    keras_y, keras_dy = (np.array(v, dtype=np.float32) for v in GOLDEN_ACTIVATIONS[name])
    if name == "gelu_approximate":
        y = activations.gelu(x, approximate=True)
        dy = activations.gelu_derivative(x, approximate=True)
    else:
        fn = activations.get(name)
        y = fn(x)
        dy = activations.backward(fn, x, y, np.ones_like(x))
    assert y.dtype == np.float32 and dy.dtype == np.float32
    atol = ATOL.get(name, 1.2e-7)
    np.testing.assert_allclose(y, keras_y, rtol=1e-6, atol=atol)
    if name == "selu":
        # Kink at 0: gdlib takes the branch its forward pass takes (x >= 0, slope
        # scale, as TensorFlow's SeluGrad); torch takes the left slope scale * alpha.
        at_zero = x == 0
        assert dy[at_zero] == pytest.approx(activations.SELU_SCALE)
        x, dy, keras_dy = x[~at_zero], dy[~at_zero], keras_dy[~at_zero]
    np.testing.assert_allclose(dy, keras_dy, rtol=1e-6, atol=atol)


def test_softmax_and_its_backward_match_keras():
    shape = GOLDEN_SOFTMAX["shape"]
    x = np.array(GOLDEN_SOFTMAX["x"], dtype=np.float32).reshape(shape)
    g = np.array(GOLDEN_SOFTMAX["g"], dtype=np.float32).reshape(shape)
    y = activations.softmax(x)
    np.testing.assert_allclose(y, np.reshape(GOLDEN_SOFTMAX["y"], shape), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(activations.backward("softmax", x, y, g), np.reshape(GOLDEN_SOFTMAX["dx"], shape), rtol=1e-6, atol=1e-8)


# ----------------------------------------------------------------------- erf
def test_erf_matches_math_erf_in_float64():
    x = np.concatenate([np.linspace(-7, 7, 20001), [-1e3, -2.5, 2.5, -1e-300, 0.0, 1e-8, 30.0]])
    expected = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(activations.erf(x), expected, rtol=0, atol=1e-14)
    small = np.abs(x) < 1
    np.testing.assert_allclose(activations.erf(x)[small], expected[small], rtol=1e-13)


def test_gelu_is_accurate_where_float32_would_cancel():
    x = np.array([-5.0, -4.0, -3.3], dtype=np.float32)
    exact = [float(v) * 0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x]
    np.testing.assert_allclose(activations.gelu(x), exact, rtol=1e-6)


# ---------------------------------------------------------------- gradient checks
def _central_difference(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def _relative_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


@pytest.mark.parametrize("name", ELEMENTWISE + ["gelu_approximate"])
def test_derivative_matches_central_difference(name):
    rng = np.random.default_rng(0)
    x = rng.uniform(-4, 4, size=200)
    x = x[np.abs(x) > 0.05]  # away from the kinks of relu, leaky_relu, elu, selu
    if name == "gelu_approximate":
        def f(v):
            return activations.gelu(v, approximate=True)

        derivative = activations.gelu_derivative(x, approximate=True)
    else:
        f = activations.get(name)
        derivative = activations.backward(f, x, f(x), np.ones_like(x))
    assert derivative.dtype == np.float64
    assert _relative_error(derivative, _central_difference(f, x)) < 1e-6


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_named_derivative_function_agrees_with_backward(name):
    fn = activations.get(name)
    derivative = getattr(activations, f"{name}_derivative")
    x = np.array([-2.5, -0.3, 0.7, 3.1])
    np.testing.assert_allclose(derivative(x), activations.backward(fn, x, fn(x), np.ones_like(x)))
    np.testing.assert_allclose(derivative(x), derivative(x, fn(x)))


def test_softmax_backward_is_the_vector_jacobian_product():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5))
    g = rng.normal(size=(3, 5))
    def loss(v):
        return np.sum(g * activations.softmax(v))

    numeric = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = 1e-6
        numeric[idx] = (loss(x + step) - loss(x - step)) / 2e-6
    analytic = activations.backward("softmax", x, activations.softmax(x), g)
    assert _relative_error(analytic, numeric) < 1e-6


def test_backward_leaves_grad_output_unchanged():
    x = np.array([[-1.0, 2.0, 0.5]], dtype=np.float32)
    g = np.array([[1.0, -2.0, 3.0]], dtype=np.float32)
    before = g.copy()
    for name in ELEMENTWISE + ["softmax"]:
        fn = activations.get(name)
        activations.backward(fn, x, fn(x), g)
    np.testing.assert_array_equal(g, before)


# ------------------------------------------------------------------- stability
@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_stable_at_plus_minus_1000(name):
    # RuntimeWarnings from gdlib are errors (pyproject's filterwarnings), so an
    # overflow inside any of these calls fails the test.
    x = np.array([[-1000.0, -100.0, 0.0, 100.0, 1000.0]], dtype=np.float32)
    fn = activations.get(name)
    y = fn(x)
    dx = activations.backward(fn, x, y, np.ones_like(x))
    if name == "exponential":
        assert y[0, -1] == INF and y[0, 0] == 0  # e^1000 does not fit in float32
        return
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))


def test_saturated_values_are_exact():
    x = np.array([-1000.0, 1000.0], dtype=np.float32)
    np.testing.assert_array_equal(activations.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(activations.softplus(x), [0.0, 1000.0])
    np.testing.assert_array_equal(activations.silu(x), [-0.0, 1000.0])
    np.testing.assert_array_equal(activations.gelu(x), [-0.0, 1000.0])
    np.testing.assert_array_equal(activations.elu(x), [-1.0, 1000.0])


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 6)),
              elements=st.floats(-1000, 1000, width=32)))
def test_softmax_rows_sum_to_one(x):
    y = activations.softmax(x)
    assert np.all(y >= 0)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(1, 8), elements=st.floats(-1000, 1000, width=32)),
       st.sampled_from([n for n in ELEMENTWISE if n != "exponential"]))
def test_finite_everywhere_in_range(x, name):
    fn = activations.get(name)
    y = fn(x)
    assert np.all(np.isfinite(y))
    assert np.all(np.isfinite(activations.backward(fn, x, y, np.ones_like(x))))


# ------------------------------------------------------------------ lookup
def test_get_resolves_names_and_none():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.silu
    assert activations.get("relu") is activations.relu
    assert activations.get(activations.tanh) is activations.tanh


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown activation: 'rleu'.*relu.*softmax"):
        activations.get("rleu")


def test_get_rejects_non_callables():
    with pytest.raises(TypeError, match="activation=3"):
        activations.get(3)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "gelu", "silu", "leaky_relu", "linear"])
def test_serialize_round_trips(name):
    fn = activations.get(name)
    assert activations.get(activations.serialize(fn)) is fn
    assert activations.serialize(fn) == name


def test_serialize_swish_gives_keras_name_silu():
    assert activations.serialize(activations.swish) == "silu"


def test_serialize_and_backward_reject_unknown_functions():
    def custom(x):
        return x * 2

    with pytest.raises(ValueError, match="cannot be serialized"):
        activations.serialize(custom)
    with pytest.raises(ValueError, match="No derivative is known"):
        activations.backward(custom, np.ones(2), np.ones(2), np.ones(2))


def test_float32_by_default_and_float64_kept():
    assert activations.relu([1, -2]).dtype == np.float32
    assert activations.softmax(np.ones((2, 3))).dtype == np.float64
    assert activations.sigmoid(np.ones(3, dtype=np.float32)).dtype == np.float32
