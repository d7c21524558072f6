"""Tests for gdlib.losses: hand-derived values, golden values recorded from
Keras 3, central-difference gradient checks in float64, clipping, label
handling, target validation and name lookup."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gdlib import losses

# Recorded with Keras 3.15.1 (KERAS_BACKEND=torch, torch 2.13.0+cpu), float32:
# per-sample values of keras.losses.<function>, the class's batch mean, and torch autograd's
# gradient of that mean with respect to y_pred.
GOLDEN_LOSSES = {
    'mse': dict(
        cls='MeanSquaredError', kwargs={},
        y_true=([0.5, -1.25, 2.0, 0.0, 3.0, 0.100000001, -0.699999988, 1.5, 0.0, 0.0, 1.0, -2.0], (3, 4)),
        y_pred=([0.25, -1.0, 4.5, 0.300000012, -50.0, 0.200000003, -0.600000024, 1.5, 1000.0, -1000.0, 0.899999976, -2.29999995], (3, 4)),
        per_sample=[1.61625004, 702.255005, 500000.031],
        mean=166901.297,
        grad=[-0.0416666679, 0.0416666679, 0.416666687, 0.0500000045, -8.83333397, 0.0166666675, 0.0166666619, -0.0, 166.666672, -166.666672, -0.0166666713, -0.0499999933],
    ),
    'mse_rank1_targets': dict(
        cls='MeanSquaredError', kwargs={},
        y_true=([0.5, 1.5, -2.0], (3,)),
        y_pred=([0.0, 2.0, -1.0], (3, 1)),
        per_sample=[0.25, 0.25, 1.0],
        mean=0.5,
        grad=[-0.333333343, 0.333333343, 0.666666687],
    ),
    'mae': dict(
        cls='MeanAbsoluteError', kwargs={},
        y_true=([0.5, -1.25, 2.0, 0.0, 3.0, 0.100000001, -0.699999988, 1.5, 0.0, 0.0, 1.0, -2.0], (3, 4)),
        y_pred=([0.25, -1.0, 4.5, 0.300000012, -50.0, 0.200000003, -0.600000024, 1.5, 1000.0, -1000.0, 0.899999976, -2.29999995], (3, 4)),
        per_sample=[0.824999988, 13.2999992, 500.100006],
        mean=171.408325,
        grad=[-0.0833333358, 0.0833333358, 0.0833333358, 0.0833333358, -0.0833333358, 0.0833333358, 0.0833333358, -0.0, 0.0833333358, -0.0833333358, -0.0833333358, -0.0833333358],
    ),
    'huber': dict(
        cls='Huber', kwargs={},
        y_true=([0.5, -1.25, 2.0, 0.0, 3.0, 0.100000001, -0.699999988, 1.5, 0.0, 0.0, 1.0, -2.0], (3, 4)),
        y_pred=([0.25, -1.0, 4.5, 0.300000012, -50.0, 0.200000003, -0.600000024, 1.5, 1000.0, -1000.0, 0.899999976, -2.29999995], (3, 4)),
        per_sample=[0.526875019, 13.1275005, 499.762512],
        mean=171.138962,
        grad=[-0.020833334, 0.020833334, 0.0833333358, 0.0250000022, -0.0833333358, 0.00833333377, 0.00833333097, 0.0, 0.0833333358, -0.0833333358, -0.00833333563, -0.0249999966],
    ),
    'huber_delta_2_5': dict(
        cls='Huber', kwargs={'delta': 2.5},
        y_true=([0.5, -1.25, 2.0, 0.0, 3.0, 0.100000001, -0.699999988, 1.5, 0.0, 0.0, 1.0, -2.0], (3, 4)),
        y_pred=([0.25, -1.0, 4.5, 0.300000012, -50.0, 0.200000003, -0.600000024, 1.5, 1000.0, -1000.0, 0.899999976, -2.29999995], (3, 4)),
        per_sample=[0.808125019, 32.3462524, 1248.44995],
        mean=427.201447,
        grad=[-0.020833334, 0.020833334, 0.208333343, 0.0250000022, -0.208333343, 0.00833333377, 0.00833333097, 0.0, 0.208333343, -0.208333343, -0.00833333563, -0.0249999966],
    ),
    'log_cosh': dict(
        cls='LogCosh', kwargs={},
        y_true=([0.5, -1.25, 2.0, 0.0, 3.0, 0.100000001, -0.699999988, 1.5, 0.0, 0.0, 1.0, -2.0], (3, 4)),
        y_pred=([0.25, -1.0, 4.5, 0.300000012, -50.0, 0.200000003, -0.600000024, 1.5, 1000.0, -1000.0, 0.899999976, -2.29999995], (3, 4)),
        per_sample=[0.479942113, 13.0792103, 499.665741],
        mean=171.074966,
        grad=[-0.0204098895, 0.0204098895, 0.0822178572, 0.0242760591, -0.0833333358, 0.00830566883, 0.00830566138, 0.0, 0.0833333358, -0.0833333358, -0.00830566883, -0.0242760405],
    ),
    'hinge_01': dict(
        cls='Hinge', kwargs={},
        y_true=([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0], (2, 4)),
        y_pred=([0.300000012, -0.400000006, 2.0, -1.5, 0.899999976, 1.20000005, -0.100000001, 0.99000001], (2, 4)),
        per_sample=[0.674999952, 0.852500021],
        mean=0.763749957,
        grad=[0.125, -0.125, -0.0, 0.0, -0.125, 0.125, -0.125, -0.125],
    ),
    'hinge_pm1': dict(
        cls='Hinge', kwargs={},
        y_true=([-1.0, 1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0], (2, 4)),
        y_pred=([0.300000012, -0.400000006, 2.0, -1.5, 0.899999976, 1.20000005, -0.100000001, 0.99000001], (2, 4)),
        per_sample=[0.674999952, 0.852500021],
        mean=0.763749957,
        grad=[0.125, -0.125, -0.0, 0.0, -0.125, 0.125, -0.125, -0.125],
    ),
    'kl_divergence': dict(
        cls='KLDivergence', kwargs={},
        y_true=([0.200000003, 0.300000012, 0.5, 0.0, 1.0, 0.0, 0.699999988, 0.200000003, 0.100000001], (3, 3)),
        y_pred=([0.100000001, 0.600000024, 0.300000012, 0.300000012, 0.5, 0.200000003, 0.0, 0.400000006, 1.20000005], (3, 3)),
        per_sample=[0.186098084, 0.693144262, 10.6641064],
        mean=3.84778285,
        grad=[-0.666666687, -0.166666672, -0.555555582, -1.11111113e-07, -0.666666687, -1.66666666e-07, 0.0, -0.166666672, 0.0],
    ),
    'bce': dict(
        cls='BinaryCrossentropy', kwargs={},
        y_true=([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], (3, 4)),
        y_pred=([0.100000001, 0.800000012, 1.0, 0.0, 0.999989986, 9.99999972e-10, 0.5, 0.699999988, 0.300000012, 0.600000024, 0.999999881, 0.200000003], (3, 4)),
        per_sample=[0.0821260661, 0.262458086, 0.374027342],
        mean=0.239537165,
        grad=[0.0925926045, -0.104166664, 0.0, 0.0, -0.0833341628, 0.0, -0.166666672, -0.119047627, 0.119047627, 0.208333358, -0.0833333433, 0.104166664],
    ),
    'bce_smooth': dict(
        cls='BinaryCrossentropy', kwargs={'label_smoothing': 0.1},
        y_true=([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], (3, 4)),
        y_pred=([0.100000001, 0.800000012, 1.0, 0.0, 0.999989986, 9.99999972e-10, 0.5, 0.699999988, 0.300000012, 0.600000024, 0.999999881, 0.200000003], (3, 4)),
        per_sample=[0.527676105, 0.618420064, 0.596158803],
        mean=0.580751657,
        grad=[0.0462963022, -0.0781249925, 0.0, 0.0, 416.022522, 0.0, -0.150000006, -0.0992063507, 0.0992063507, 0.190972224, 34952.4648, 0.078125],
    ),
    'bce_logits': dict(
        cls='BinaryCrossentropy', kwargs={'from_logits': True},
        y_true=([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], (3, 4)),
        y_pred=([-2.0, 3.5, 1000.0, -1000.0, 20.0, -20.0, 0.0, 0.699999988, -0.300000012, 0.600000024, 17.0, -88.0], (3, 4)),
        per_sample=[0.0391696282, 0.274083316, 0.397960782],
        mean=0.237071231,
        grad=[0.00993357692, -0.00244268775, 0.0, 0.0, 0.0, 1.71762812e-10, -0.0416666679, -0.0276510231, 0.0354631245, 0.0538046919, 0.0, 5.04550124e-40],
    ),
    'bce_logits_smooth': dict(
        cls='BinaryCrossentropy', kwargs={'from_logits': True, 'label_smoothing': 0.2},
        y_true=([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], (3, 4)),
        y_pred=([-2.0, 3.5, 1000.0, -1000.0, 20.0, -20.0, 0.0, 0.699999988, -0.300000012, 0.600000024, 17.0, -88.0], (3, 4)),
        per_sample=[50.1766586, 1.29158318, 3.01546144],
        mean=18.1612339,
        grad=[0.00160024315, 0.00589064276, 0.00833333097, -0.00833333377, 0.00833333097, -0.00833333377, -0.0333333388, -0.0193176921, 0.0271297917, 0.0454713553, 0.00833333097, -0.00833333377],
    ),
    'cce': dict(
        cls='CategoricalCrossentropy', kwargs={},
        y_true=([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], (3, 5)),
        y_pred=([0.100000001, 0.600000024, 0.100000001, 0.100000001, 0.100000001, 0.200000003, 0.5, 0.0, 0.400000006, 0.300000012, 1.0, 0.0, 0.0, 0.0, 0.0], (3, 5)),
        per_sample=[0.510825574, 1.54044497, 1.19209304e-07],
        mean=0.683756888,
        grad=[0.333333313, -0.222222209, 0.333333313, 0.333333313, 0.333333313, 0.238095254, 0.238095254, 0.238095254, 0.238095254, -0.873015761, 0.0, 0.0, 0.0, 0.0, 0.0],
    ),
    'cce_smooth': dict(
        cls='CategoricalCrossentropy', kwargs={'label_smoothing': 0.2},
        y_true=([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], (3, 5)),
        y_pred=([0.100000001, 0.600000024, 0.100000001, 0.100000001, 0.100000001, 0.200000003, 0.5, 0.0, 0.400000006, 0.300000012, 1.0, 0.0, 0.0, 0.0, 0.0], (3, 5)),
        per_sample=[0.797507167, 2.10782933, 2.57889557],
        mean=1.82807732,
        grad=[0.200000003, -0.133333355, 0.200000003, 0.200000003, 0.200000003, 0.161904782, 0.201904789, 0.22857146, 0.195238128, -0.704761922, 0.0, 0.0, 0.0, 0.0, 0.0],
    ),
    'cce_logits': dict(
        cls='CategoricalCrossentropy', kwargs={'from_logits': True},
        y_true=([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], (3, 5)),
        y_pred=([1.0, 2.0, -1.0, 0.5, 0.0, 1000.0, -1000.0, 0.0, 3.0, 2.0, -3.0, 7.0, 0.25, -0.5, 1.5], (3, 5)),
        per_sample=[0.574437976, 998.0, 10.0058393],
        mean=336.193451,
        grad=[0.0690413117, -0.145659611, 0.0093437247, 0.0418756679, 0.0253988765, 0.333333343, 0.0, 0.0, 0.0, -0.333333343, -0.333318293, 0.331392646, 0.00038802097, 0.000183288124, 0.00135432638],
    ),
    'cce_logits_smooth': dict(
        cls='CategoricalCrossentropy', kwargs={'from_logits': True, 'label_smoothing': 0.1},
        y_true=([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], (3, 5)),
        y_pred=([1.0, 2.0, -1.0, 0.5, 0.0, 1000.0, -1000.0, 0.0, 3.0, 2.0, -3.0, 7.0, 0.25, -0.5, 1.5], (3, 5)),
        per_sample=[0.724437952, 998.099976, 9.60083866],
        mean=336.141754,
        grad=[0.0623746403, -0.118992954, 0.00267705624, 0.0352089964, 0.0187322069, 0.326666683, -0.00666666729, -0.00666666729, -0.00666666729, -0.306666672, -0.306651622, 0.324725956, -0.00627864618, -0.00648337929, -0.00531234127],
    ),
    'scce': dict(
        cls='SparseCategoricalCrossentropy', kwargs={},
        y_true=([1.0, 4.0, 0.0], (3,)),
        y_pred=([0.100000001, 0.600000024, 0.100000001, 0.100000001, 0.100000001, 0.200000003, 0.5, 0.0, 0.400000006, 0.300000012, 1.0, 0.0, 0.0, 0.0, 0.0], (3, 5)),
        per_sample=[0.510825574, 1.54044497, 1.19209304e-07],
        mean=0.683756888,
        grad=[0.333333313, -0.222222209, 0.333333313, 0.333333313, 0.333333313, 0.238095254, 0.238095254, 0.238095254, 0.238095254, -0.873015761, 0.0, 0.0, 0.0, 0.0, 0.0],
    ),
    'scce_logits': dict(
        cls='SparseCategoricalCrossentropy', kwargs={'from_logits': True},
        y_true=([1.0, 4.0, 0.0], (3,)),
        y_pred=([1.0, 2.0, -1.0, 0.5, 0.0, 1000.0, -1000.0, 0.0, 3.0, 2.0, -3.0, 7.0, 0.25, -0.5, 1.5], (3, 5)),
        per_sample=[0.574437976, 998.0, 10.0058393],
        mean=336.193451,
        grad=[0.0690413117, -0.145659611, 0.0093437247, 0.0418756679, 0.0253988765, 0.333333343, 0.0, 0.0, 0.0, -0.333333343, -0.333318293, 0.331392646, 0.00038802097, 0.000183288124, 0.00135432638],
    ),
    'scce_col_labels': dict(
        cls='SparseCategoricalCrossentropy', kwargs={'from_logits': True},
        y_true=([1.0, 4.0, 0.0], (3, 1)),
        y_pred=([1.0, 2.0, -1.0, 0.5, 0.0, 1000.0, -1000.0, 0.0, 3.0, 2.0, -3.0, 7.0, 0.25, -0.5, 1.5], (3, 5)),
        per_sample=[0.574437976, 998.0, 10.0058393],
        mean=336.193451,
        grad=[0.0690413117, -0.145659611, 0.0093437247, 0.0418756679, 0.0253988765, 0.333333343, 0.0, 0.0, 0.0, -0.333333343, -0.333318293, 0.331392646, 0.00038802097, 0.000183288124, 0.00135432638],
    ),
}

FUNCTIONS = {
    "MeanSquaredError": losses.mean_squared_error,
    "MeanAbsoluteError": losses.mean_absolute_error,
    "Huber": losses.huber,
    "LogCosh": losses.log_cosh,
    "Hinge": losses.hinge,
    "KLDivergence": losses.kl_divergence,
    "BinaryCrossentropy": losses.binary_crossentropy,
    "CategoricalCrossentropy": losses.categorical_crossentropy,
    "SparseCategoricalCrossentropy": losses.sparse_categorical_crossentropy,
}


def _golden_arrays(case):
    y_true = np.array(case["y_true"][0], dtype=np.float32).reshape(case["y_true"][1])
    y_pred = np.array(case["y_pred"][0], dtype=np.float32).reshape(case["y_pred"][1])
    return y_true, y_pred


# ------------------------------------------------------------- golden from Keras
@pytest.mark.parametrize("key", list(GOLDEN_LOSSES))
def test_matches_keras(key):
    case = GOLDEN_LOSSES[key]
    y_true, y_pred = _golden_arrays(case)
    loss = getattr(losses, case["cls"])(**case["kwargs"])
    per_sample = FUNCTIONS[case["cls"]](y_true, y_pred, **case["kwargs"])
    mean = loss(y_true, y_pred)
    grad = loss.gradient(y_true, y_pred)
    assert per_sample.dtype == np.float32 and grad.dtype == np.float32
    assert isinstance(mean, np.float32)
    assert grad.shape == y_pred.shape
    np.testing.assert_allclose(per_sample, case["per_sample"], rtol=1e-6, atol=1e-7)
    assert mean == pytest.approx(case["mean"], rel=1e-6)
    np.testing.assert_allclose(grad.ravel(), case["grad"], rtol=1e-6, atol=1e-9)


# ----------------------------------------------------------- hand-derived values
def test_mean_squared_error_by_hand():
    # ((1-0.9)^2 + (0-0.1)^2 + (1-0.8)^2) / 3 = (0.01 + 0.01 + 0.04) / 3 = 0.02
    assert losses.MeanSquaredError()([1.0, 0.0, 1.0], [0.9, 0.1, 0.8]) == pytest.approx(0.02, rel=1e-6)
    # d/dy_pred of the mean: 2 (y_pred - y_true) / 3
    np.testing.assert_allclose(losses.MeanSquaredError().gradient([1.0, 0.0, 1.0], [0.9, 0.1, 0.8]),
                               [2 * -0.1 / 3, 2 * 0.1 / 3, 2 * -0.2 / 3], rtol=1e-5)


def test_mean_absolute_error_by_hand():
    # (0.9 + 0 + 0.8) / 3
    assert losses.MeanAbsoluteError()([1.0, 0.3, 1.0], [1.9, 0.3, 1.8]) == pytest.approx(1.7 / 3, rel=1e-6)


def test_crossentropies_by_hand():
    y_pred = [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    expected = [-math.log(0.95), -math.log(0.1)]
    np.testing.assert_allclose(losses.categorical_crossentropy([[0, 1, 0], [0, 0, 1]], y_pred), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([1, 2], y_pred), expected, rtol=1e-6)
    # binary: mean over the last axis of -(y log p + (1-y) log(1-p))
    np.testing.assert_allclose(
        losses.binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]),
        [-(math.log(0.4) + math.log(0.4)) / 2, -(math.log(0.6) + math.log(0.4)) / 2], rtol=1e-6)


def test_categorical_crossentropy_normalises_probabilities():
    # [1, 3] is rescaled to [0.25, 0.75] before the log
    assert losses.categorical_crossentropy([[0, 1]], [[1.0, 3.0]])[0] == pytest.approx(-math.log(0.75), rel=1e-6)


def test_label_smoothing_by_hand():
    # binary: y = 1 -> 1 - 0.5 * 0.2 = 0.9; loss = -(0.9 log 0.8 + 0.1 log 0.2)
    assert losses.binary_crossentropy([[1.0]], [[0.8]], label_smoothing=0.2)[0] == pytest.approx(
        -(0.9 * math.log(0.8) + 0.1 * math.log(0.2)), rel=1e-6)
    # categorical, K = 2: [0, 1] -> [0.1, 0.9]
    assert losses.categorical_crossentropy([[0, 1]], [[0.25, 0.75]], label_smoothing=0.2)[0] == pytest.approx(
        -(0.1 * math.log(0.25) + 0.9 * math.log(0.75)), rel=1e-6)


def test_huber_log_cosh_hinge_kl_by_hand():
    # errors 0.6, -0.6 (<= 1: 0.5 e^2 = 0.18) and 0.4, 0.6 -> 0.08, 0.18
    np.testing.assert_allclose(losses.huber([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]), [0.18, 0.13], rtol=1e-6)
    # beyond delta: 1 * 3 - 0.5
    assert losses.huber([[0.0]], [[3.0]])[0] == pytest.approx(2.5)
    np.testing.assert_allclose(losses.log_cosh([[0.0, 1.0]], [[1.0, 1.0]]), [math.log(math.cosh(1)) / 2], rtol=1e-6)
    # labels 0/1 become -1/1: max(1 - (-1)(0.5), 0) = 1.5, max(1 - 1 * 2, 0) = 0
    np.testing.assert_allclose(losses.hinge([[0, 1]], [[0.5, 2.0]]), [0.75], rtol=1e-6)
    # KL: 0.5 log(0.5/0.25) + 0.5 log(0.5/0.75)
    assert losses.kl_divergence([[0.5, 0.5]], [[0.25, 0.75]])[0] == pytest.approx(
        0.5 * math.log(2) + 0.5 * math.log(2 / 3), rel=1e-6)


def test_log_cosh_large_errors_do_not_overflow():
    # log cosh(1000) = 1000 - log 2
    assert losses.log_cosh([[0.0]], [[1000.0]])[0] == pytest.approx(1000 - math.log(2), rel=1e-6)


# ---------------------------------------------------------------- gradient checks
def _numeric_gradient(f, x, h=1e-5):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[idx] = h
        grad[idx] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def _relative_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


def _gradcheck_cases():
    rng = np.random.default_rng(42)
    reg_true = rng.normal(size=(4, 3))
    reg_pred = reg_true + rng.choice([-1, 1], size=(4, 3)) * rng.uniform(0.1, 3.0, size=(4, 3))
    labels01 = rng.integers(0, 2, size=(4, 3)).astype(float)
    probs = rng.uniform(0.05, 0.95, size=(4, 3))
    logits = rng.normal(0, 3, size=(4, 5))
    onehot = np.eye(5)[[0, 3, 1, 4]]
    dist_pred = rng.uniform(0.05, 1.0, size=(4, 5))  # unnormalised: tests the normalisation's chain rule
    kl_true = rng.dirichlet(np.ones(5), size=4)
    kl_pred = rng.uniform(0.05, 0.95, size=(4, 5))
    margin = rng.choice([-1, 1], size=(4, 3)) * rng.uniform(0.1, 2.5, size=(4, 3))
    hinge_true = 2 * labels01 - 1
    hinge_pred = (1 - margin) * hinge_true  # 1 - y * y_pred = margin, never 0
    return [
        ("mse", losses.MeanSquaredError(), reg_true, reg_pred),
        ("mse_rank1", losses.MeanSquaredError(), reg_true[:, 0], reg_pred[:, :1]),
        ("mae", losses.MeanAbsoluteError(), reg_true, reg_pred),
        ("huber", losses.Huber(delta=1.3), reg_true, reg_pred + 0.05),  # |e| never exactly delta
        ("log_cosh", losses.LogCosh(), reg_true, reg_pred),
        ("hinge", losses.Hinge(), labels01, hinge_pred),
        ("kl", losses.KLDivergence(), kl_true, kl_pred),
        ("bce", losses.BinaryCrossentropy(), labels01, probs),
        ("bce_smooth", losses.BinaryCrossentropy(label_smoothing=0.1), labels01, probs),
        ("bce_logits", losses.BinaryCrossentropy(from_logits=True), labels01, rng.normal(0, 3, size=(4, 3))),
        ("bce_logits_smooth", losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.3), labels01, rng.normal(0, 3, size=(4, 3))),
        ("cce", losses.CategoricalCrossentropy(), onehot, dist_pred),
        ("cce_smooth", losses.CategoricalCrossentropy(label_smoothing=0.2), onehot, dist_pred),
        ("cce_logits", losses.CategoricalCrossentropy(from_logits=True), onehot, logits),
        ("cce_logits_smooth", losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), onehot, logits),
        ("scce", losses.SparseCategoricalCrossentropy(), np.array([0, 3, 1, 4]), dist_pred),
        ("scce_logits", losses.SparseCategoricalCrossentropy(from_logits=True), np.array([[0], [3], [1], [4]]), logits),
        ("sum_reduction", losses.MeanSquaredError(reduction="sum"), reg_true, reg_pred),
    ]


def test_every_declared_loss_has_its_gradient_checked():
    # a loss class added to gdlib/losses.py joins the declared ones; its gradient must be checked here too
    checked = {type(loss) for _, loss, _, _ in _gradcheck_cases()}
    missing = [cls.__name__ for cls in losses._LOSS_CLASSES if cls not in checked]
    assert len(losses._LOSS_CLASSES) >= 9 and not missing, f"add a case to _gradcheck_cases for {missing}"


@pytest.mark.parametrize("name, loss, y_true, y_pred", _gradcheck_cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_gradient_matches_central_difference(name, loss, y_true, y_pred):
    analytic = loss.gradient(y_true, y_pred)
    assert analytic.dtype == np.float64 and analytic.shape == y_pred.shape
    numeric = _numeric_gradient(lambda p: loss(y_true, p), y_pred)
    assert _relative_error(analytic, numeric) < 1e-6


def test_clipped_predictions_get_zero_gradient():
    # p = 0 and p = 1 are clipped to [eps, 1 - eps]: the loss does not depend on them there.
    grad = losses.BinaryCrossentropy().gradient([[1.0, 0.0, 1.0]], [[0.0, 1.0, 0.5]])
    assert grad[0, 0] == 0 and grad[0, 1] == 0 and grad[0, 2] == pytest.approx(-1 / 0.5 / 3)
    grad = losses.KLDivergence().gradient([[0.5, 0.5]], [[1.5, 0.0]])
    np.testing.assert_array_equal(grad, [[0.0, 0.0]])
    grad = losses.CategoricalCrossentropy().gradient([[0.0, 1.0]], [[0.0, 1.0]])
    np.testing.assert_array_equal(grad, [[0.0, 0.0]])  # q = [0, 1] is clipped at both ends


def test_gradient_through_clipping_matches_keras_clip_values():
    # a clipped probability gives the clip value's loss: -log(eps) for p = 0 with y = 1
    assert losses.binary_crossentropy([[1.0]], [[0.0]])[0] == pytest.approx(-math.log(1e-7), rel=1e-6)


# ------------------------------------------------------------- fused gradient
def test_softmax_crossentropy_gradient_is_p_minus_onehot_over_n():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)
    p_before = p.copy()
    expected = (p - np.array([[1, 0, 0], [0, 0, 1]])) / 2
    np.testing.assert_allclose(losses.softmax_crossentropy_gradient([0, 2], p, sparse=True), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.softmax_crossentropy_gradient([[0], [2]], p, sparse=True), expected, rtol=1e-6)
    np.testing.assert_allclose(losses.softmax_crossentropy_gradient([[1, 0, 0], [0, 0, 1]], p, sparse=False), expected, rtol=1e-6)
    assert losses.softmax_crossentropy_gradient([0, 2], p, sparse=True).dtype == np.float32
    np.testing.assert_array_equal(p, p_before)  # input not modified


def test_fused_gradient_equals_loss_gradient_from_logits():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 4))
    labels = np.array([0, 1, 2, 3, 1, 0])
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    fused = losses.softmax_crossentropy_gradient(labels, p, sparse=True)
    np.testing.assert_allclose(fused, losses.SparseCategoricalCrossentropy(from_logits=True).gradient(labels, z), rtol=1e-10)
    smooth = losses.softmax_crossentropy_gradient(np.eye(4)[labels], p, sparse=False, label_smoothing=0.1)
    np.testing.assert_allclose(
        smooth, losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1).gradient(np.eye(4)[labels], z), rtol=1e-10)


# --------------------------------------------------------------- shapes & labels
def test_rank1_targets_against_column_predictions_do_not_broadcast():
    y_true = np.array([1.0, 0.0, 1.0])
    y_pred = np.array([[0.9], [0.2], [0.6]])
    assert losses.mean_squared_error(y_true, y_pred).shape == (3,)
    assert losses.MeanSquaredError()(y_true, y_pred) == pytest.approx((0.01 + 0.04 + 0.16) / 3)
    assert losses.binary_crossentropy(y_true, y_pred).shape == (3,)
    assert losses.BinaryCrossentropy().gradient(y_true, y_pred).shape == (3, 1)


def test_hinge_uses_minus_one_one_labels_as_given():
    np.testing.assert_allclose(losses.hinge([[-1.0, 1.0]], [[0.5, 0.5]]), losses.hinge([[0.0, 1.0]], [[0.5, 0.5]]))


def test_reductions():
    y_true, y_pred = [[0.0], [0.0]], [[1.0], [3.0]]  # squared errors 1 and 9
    assert losses.MeanSquaredError(reduction="sum")(y_true, y_pred) == pytest.approx(10)
    np.testing.assert_allclose(losses.MeanSquaredError(reduction=None)(y_true, y_pred), [1, 9])
    np.testing.assert_allclose(losses.MeanSquaredError(reduction="sum").gradient(y_true, y_pred), [[2], [6]])
    with pytest.raises(ValueError, match="reduction='none'"):
        losses.MeanSquaredError(reduction="none").gradient(y_true, y_pred)


def test_sparse_labels_out_of_range_in_the_function():
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\); received label 3 at index 1"):
        losses.sparse_categorical_crossentropy([0, 3], np.full((2, 3), 1 / 3))


def test_sparse_labels_out_of_range_in_the_fused_gradient():
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\); received label -1 at index 0"):
        losses.softmax_crossentropy_gradient([-1, 2], np.full((2, 3), 1 / 3), True)


def test_shape_mismatch_errors():
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        losses.categorical_crossentropy([0, 2], np.full((2, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 4\), y_pred.shape=\(2, 3\)"):
        losses.mean_squared_error(np.zeros((2, 4)), np.zeros((2, 3)))


# ------------------------------------------------------------ stability & signs
@pytest.mark.parametrize("loss", [
    losses.BinaryCrossentropy(from_logits=True),
    losses.CategoricalCrossentropy(from_logits=True),
    losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
])
def test_logits_at_plus_minus_1000_are_finite(loss):
    z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], dtype=np.float32)
    y = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32)
    value = loss(y, z)
    grad = loss.gradient(y, z)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    assert value > 800  # the wrong classes are about 1000 logits ahead


def test_sparse_logits_at_plus_minus_1000():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    z = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]], dtype=np.float32)
    assert loss([1, 1], z) == pytest.approx(1000.0)  # (2000 + 0) / 2
    np.testing.assert_allclose(loss.gradient([1, 1], z), [[0.5, -0.5], [0.0, 0.0]])


finite = st.floats(-1000, 1000, width=32)
unit = st.floats(0, 1, width=32)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(unit, finite, unit), min_size=1, max_size=6))
def test_losses_are_non_negative(rows):
    y01 = np.array([[round(r[0])] for r in rows], dtype=np.float32)
    z = np.array([[r[1]] for r in rows], dtype=np.float32)
    p = np.array([[r[2]] for r in rows], dtype=np.float32)
    values = [
        losses.mean_squared_error(y01, z), losses.mean_absolute_error(y01, z), losses.huber(y01, z),
        losses.log_cosh(y01, z), losses.hinge(y01, z),
        losses.binary_crossentropy(y01, p), losses.binary_crossentropy(y01, z, from_logits=True),
    ]
    for v in values:
        assert np.all(np.isfinite(v)) and np.all(v >= 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=5), st.integers(0, 2))
def test_categorical_losses_non_negative_and_finite(rows, label):
    z = np.array(rows, dtype=np.float32)
    labels = np.full(len(rows), label)
    onehot = np.eye(3, dtype=np.float32)[labels]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    for v in (losses.categorical_crossentropy(onehot, z, from_logits=True),
              losses.sparse_categorical_crossentropy(labels, z, from_logits=True),
              losses.categorical_crossentropy(onehot, p), losses.kl_divergence(onehot, p)):
        assert np.all(np.isfinite(v)) and np.all(v >= -1e-6)


# ---------------------------------------------------------------- check_targets
def test_check_targets_accepts_valid_targets():
    np.testing.assert_array_equal(losses.check_targets("sparse_categorical_crossentropy", [0, 9, 3], 10), [0, 9, 3])
    losses.check_targets("sparse_categorical_crossentropy", [[0], [9]], 10)
    losses.check_targets("categorical_crossentropy", np.eye(10), 10)
    losses.check_targets("binary_crossentropy", [0, 1, 1], 1)
    losses.check_targets("mse", np.zeros((4, 2)), 2)


@pytest.mark.parametrize("loss, y, units, message", [
    ("sparse_categorical_crossentropy", [0, 1, 2, 10], 10,
     r"labels must be integers in \[0, 10\).*received label 10 at index 3"),
    ("sparse_categorical_crossentropy", [0, -1], 10, r"received label -1 at index 1"),
    ("sparse_categorical_crossentropy", [0.0, 2.5], 10, r"labels must be integers in \[0, 10\); received label 2.5 at index 1"),
    ("sparse_categorical_crossentropy", np.eye(10)[:3], 10, r"shape \(3,\) or \(3, 1\).*categorical_crossentropy"),
    ("categorical_crossentropy", np.eye(3), 10, r"one-hot targets of shape \(3, 10\).*received y of shape \(3, 3\)"),
    ("categorical_crossentropy", [1, 2, 3], 10, r"sparse_categorical_crossentropy"),
    ("binary_crossentropy", [0, 1, 2], 1, r"targets in \[0, 1\]; received 2 at index 2"),
    ("binary_crossentropy", np.zeros((3, 2)), 1, r"shape \(3, 1\) or \(3,\)"),
    ("mse", np.zeros((3, 2)), 3, r"shape \(3, 3\).*received y of shape \(3, 2\)"),
    ("mse", [1.0, np.nan], 1, r"must not contain NaN or inf; received nan at index 1"),
    ("mse", [[1.0], [np.inf]], 1, r"received inf at index \(1, 0\)"),
])
def test_check_targets_errors(loss, y, units, message):
    with pytest.raises(ValueError, match=message):
        losses.check_targets(loss, y, units)


# ------------------------------------------------------------------------ get
@pytest.mark.parametrize("name, cls", [
    ("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError),
    ("mean_squared_error", losses.MeanSquaredError), ("mae", losses.MeanAbsoluteError),
    ("bce", losses.BinaryCrossentropy), ("binary_crossentropy", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("SparseCategoricalCrossentropy", losses.SparseCategoricalCrossentropy),
    ("kld", losses.KLDivergence), ("KLD", losses.KLDivergence), ("huber", losses.Huber),
    ("hinge", losses.Hinge), ("log_cosh", losses.LogCosh),
])
def test_get_resolves_keras_names(name, cls):
    assert type(losses.get(name)) is cls


def test_get_passes_instances_and_maps_functions():
    loss = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(loss) is loss
    assert losses.get(None) is None
    assert type(losses.get(losses.huber)) is losses.Huber
    assert type(losses.get(losses.MeanAbsoluteError)) is losses.MeanAbsoluteError


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown loss: 'msee'.*mean_squared_error.*mse"):
        losses.get("msee")


def test_custom_function_can_be_evaluated_but_not_trained():
    def my_loss(y_true, y_pred):
        return np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred)) ** 3, axis=-1)

    loss = losses.get(my_loss)
    assert loss.name == "my_loss"
    assert loss([[0.0], [0.0]], [[1.0], [2.0]]) == pytest.approx(4.5)
    with pytest.raises(NotImplementedError, match="'my_loss' has no gradient"):
        loss.gradient([[0.0]], [[1.0]])


def test_names_and_configs_follow_keras():
    assert losses.Huber().name == "huber_loss"
    assert losses.KLDivergence().name == "kl_divergence"
    assert losses.CategoricalCrossentropy(label_smoothing=0.1).get_config() == {
        "name": "categorical_crossentropy", "reduction": "sum_over_batch_size",
        "from_logits": False, "label_smoothing": 0.1}
    restored = losses.Huber.from_config(losses.Huber(delta=2.0).get_config())
    assert restored.delta == 2.0


@pytest.mark.parametrize("make, message", [
    (lambda: losses.BinaryCrossentropy(label_smoothing=1.5), r"`label_smoothing` must be in \[0, 1\]. Received: label_smoothing=1.5"),
    (lambda: losses.Huber(delta=0), r"`delta` must be > 0. Received: delta=0"),
    (lambda: losses.MeanSquaredError(reduction="avg"), r"`reduction` must be one of .* Received: reduction='avg'"),
])
def test_argument_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# ------------------------------------------------------------ declarations
@pytest.mark.parametrize("cls", [
    losses.MeanSquaredError, losses.MeanAbsoluteError, losses.Huber, losses.LogCosh, losses.Hinge,
    losses.KLDivergence, losses.BinaryCrossentropy, losses.CategoricalCrossentropy,
    losses.SparseCategoricalCrossentropy,
])
def test_each_loss_is_found_by_the_names_it_declares(cls):
    from gdlib import metrics

    for name in (cls.__name__, cls.function.__name__, *cls.aliases):
        assert type(losses.get(name)) is cls
        assert metrics.LOSS_METRICS[name] is cls.function
    assert type(losses.get(cls.function)) is cls
    assert cls.targets in ("labels", "one_hot", "binary", "values")


def test_softmax_crossentropy_fuses_only_a_mean_crossentropy_of_probabilities():
    fuses = losses.SoftmaxCrossentropy.fuses
    assert fuses(losses.SparseCategoricalCrossentropy()) and fuses(losses.CategoricalCrossentropy())
    assert not fuses(losses.SparseCategoricalCrossentropy(from_logits=True))
    assert not fuses(losses.CategoricalCrossentropy(reduction="sum"))
    assert not fuses(losses.MeanSquaredError())
    with pytest.raises(ValueError, match="SoftmaxCrossentropy needs"):
        losses.SoftmaxCrossentropy(losses.MeanSquaredError())

