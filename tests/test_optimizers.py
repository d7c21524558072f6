"""Tests for gdlib.optimizers: hand-derived steps, golden tables, Keras values, errors.

Three independent checks of every update rule:

1. a single step worked out by hand in the test;
2. a multi-step table computed here, in float64, from Keras 3's rule written out
   again (``reference_run``), compared at float32 precision;
3. values produced by real Keras 3.15.1 (torch backend, float32), recorded as
   literals (``KERAS_GOLDEN``), compared with rtol 1e-6.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gdlib import optimizers, schedules
from gdlib.optimizers import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Nadam,
    RMSprop,
    adadelta_update,
    adagrad_update,
    adam_update,
    adamax_update,
    adamw_update,
    nadam_update,
    rmsprop_update,
    sgd_update,
)

f32 = np.float32

# --------------------------------------------------------------------------- #
# The shared problem: 4 weights, 5 steps, gradients that change size and sign
# (the last coordinate is tiny, so where epsilon sits shows up in its value).
# --------------------------------------------------------------------------- #
W0 = np.array([1.0, -2.0, 3.0, 0.5], dtype=np.float32)


def gradient_at(k):
    return np.array(
        [0.5 - 0.1 * k, -1.0 + 0.3 * k, 2.0 * (-1) ** k, 0.01 * (k + 1)], dtype=np.float32
    )


GRADIENTS = [gradient_at(k) for k in range(5)]

# (label, class name, keyword arguments, schedule (name, kwargs) or None)
CASES = [
    ("sgd", "SGD", dict(learning_rate=0.1), None),
    ("sgd_momentum", "SGD", dict(learning_rate=0.1, momentum=0.9), None),
    ("sgd_nesterov", "SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True), None),
    ("sgd_wd", "SGD", dict(learning_rate=0.1, momentum=0.9, weight_decay=0.05), None),
    ("sgd_clipnorm", "SGD", dict(learning_rate=0.1, clipnorm=0.5), None),
    ("sgd_clipvalue", "SGD", dict(learning_rate=0.1, clipvalue=0.3), None),
    ("sgd_global_clipnorm", "SGD", dict(learning_rate=0.1, global_clipnorm=0.7), None),
    ("sgd_expdecay", "SGD", dict(),
     ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5))),
    ("adagrad", "Adagrad", dict(learning_rate=0.1), None),
    ("adagrad_wd", "Adagrad", dict(learning_rate=0.1, weight_decay=0.1), None),
    ("rmsprop", "RMSprop", dict(learning_rate=0.01), None),
    ("rmsprop_momentum", "RMSprop", dict(learning_rate=0.01, momentum=0.9), None),
    ("rmsprop_centered", "RMSprop", dict(learning_rate=0.01, centered=True), None),
    ("rmsprop_centered_momentum", "RMSprop",
     dict(learning_rate=0.01, momentum=0.5, centered=True), None),
    ("adam", "Adam", dict(learning_rate=0.01), None),
    ("adam_amsgrad", "Adam", dict(learning_rate=0.01, beta_2=0.5, amsgrad=True), None),
    ("adam_wd", "Adam", dict(learning_rate=0.01, weight_decay=0.1), None),
    ("adam_cosine_warmup", "Adam", dict(),
     ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=6, warmup_target=0.05,
                          warmup_steps=4))),
    ("adamw", "AdamW", dict(learning_rate=0.01, weight_decay=0.1), None),
    ("adamw_default", "AdamW", dict(), None),
    ("adamw_amsgrad", "AdamW",
     dict(learning_rate=0.01, weight_decay=0.1, beta_2=0.5, amsgrad=True), None),
    ("adamax", "Adamax", dict(learning_rate=0.01), None),
    ("nadam", "Nadam", dict(learning_rate=0.01), None),
    ("nadam_default", "Nadam", dict(), None),
    ("adadelta", "Adadelta", dict(learning_rate=1.0), None),
    ("adadelta_default", "Adadelta", dict(), None),
]

# Produced by keras 3.15.1 (KERAS_BACKEND=torch, torch 2.13.0, float32): the weights
# after the 5 steps above, for each case. Not used anywhere else.
KERAS_GOLDEN = {
    "sgd": [0.8499999642372131, -1.7999999523162842, 2.799999952316284, 0.48500001430511475],
    "sgd_momentum": [0.5283850431442261, -1.2423598766326904, 2.5067801475524902, 0.46829691529273987],
    "sgd_nesterov": [0.4255464971065521, -1.118124008178711, 2.3561019897460938, 0.45646724104881287],
    "sgd_wd": [0.5075364112854004, -1.199944019317627, 2.4378323554992676, 0.4560856223106384],
    "sgd_clipnorm": [0.9650877714157104, -1.9547312259674072, 2.9542322158813477, 0.4963550567626953],
    "sgd_clipvalue": [0.8799999356269836, -1.9200000762939453, 2.9700000286102295, 0.48500001430511475],
    "sgd_global_clipnorm": [0.9511227607727051, -1.9366238117218018, 2.935925245285034, 0.4948970377445221],
    "sgd_expdecay": [0.8853846788406372, -1.8221794366836548, 2.8533778190612793, 0.49153849482536316],
    "adagrad": [0.7833400964736938, -1.8262722492218018, 2.919238328933716, 0.4532521367073059],
    "adagrad_wd": [0.7403447031974792, -1.7343354225158691, 2.7746591567993164, 0.429371178150177],
    "rmsprop": [0.9190164804458618, -1.9419509172439575, 2.9735350608825684, 0.36792412400245667],
    "rmsprop_momentum": [0.7382140755653381, -1.777557134628296, 2.9141123294830322, 0.13515225052833557],
    "rmsprop_centered": [0.9096875786781311, -1.9367772340774536, 2.971402883529663, 0.35000982880592346],
    "rmsprop_centered_momentum": [0.8403422236442566, -1.8765736818313599, 2.954129934310913, 0.2551174759864807],
    "adam": [0.9529024958610535, -1.9573705196380615, 2.9856507778167725, 0.4514983892440796],
    "adam_amsgrad": [0.954082727432251, -1.9590206146240234, 2.9856507778167725, 0.4578097462654114],
    "adam_wd": [0.9480105638504028, -1.947486162185669, 2.9707255363464355, 0.4491010308265686],
    "adam_cosine_warmup": [0.8870994448661804, -1.9062471389770508, 2.984015941619873, 0.3796168267726898],
    "adamw": [0.9480105638504028, -1.947486162185669, 2.9707255363464355, 0.4491010308265686],
    "adamw_default": [0.9952702522277832, -1.995697021484375, 2.9985058307647705, 0.4951398968696594],
    "adamw_amsgrad": [0.9491915702819824, -1.9491366147994995, 2.9707255363464355, 0.45540517568588257],
    "adamax": [0.9608075618743896, -1.966261386871338, 2.9856507778167725, 0.4624705910682678],
    "nadam": [0.9689553380012512, -1.9765592813491821, 2.9899022579193115, 0.45190638303756714],
    "nadam_default": [0.9968955516815186, -1.9976558685302734, 2.998990058898926, 0.4951906204223633],
    "adadelta": [0.9951826930046082, -1.9968730211257935, 2.998565912246704, 0.4892919063568115],
    "adadelta_default": [0.999995231628418, -1.9999967813491821, 2.9999985694885254, 0.4999893009662628],
}

DEFAULTS = {  # Keras 3's defaults, written out again for the reference
    "SGD": dict(learning_rate=0.01, momentum=0.0, nesterov=False),
    "Adagrad": dict(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7),
    "RMSprop": dict(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False),
    "Adam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False),
    "AdamW": dict(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999,
                  epsilon=1e-7, amsgrad=False),
    "Adamax": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    "Nadam": dict(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
    "Adadelta": dict(learning_rate=0.001, rho=0.95, epsilon=1e-7),
}


def make_optimizer(cls_name, kwargs, schedule):
    kwargs = dict(kwargs)
    if schedule is not None:
        kwargs["learning_rate"] = getattr(schedules, schedule[0])(**schedule[1])
    return getattr(optimizers, cls_name)(**kwargs)


def reference_learning_rate(schedule, lr, step):
    """The schedules used in CASES, from their textbook formulas (float64)."""
    if schedule is None:
        return lr
    name, kw = schedule
    if name == "ExponentialDecay":
        return kw["initial_learning_rate"] * kw["decay_rate"] ** (step / kw["decay_steps"])
    if name == "CosineDecay":  # linear warmup, then cosine from warmup_target to 0
        s_w, s = kw["warmup_steps"], kw["decay_steps"]
        if step < s_w:
            return kw["initial_learning_rate"] + (
                kw["warmup_target"] - kw["initial_learning_rate"]) * step / s_w
        t = min(step, s_w + s) - s_w
        return kw["warmup_target"] * 0.5 * (1 + math.cos(math.pi * t / s))
    raise AssertionError(name)


def reference_run(cls_name, kwargs, schedule, w0, gradients):
    """Keras 3's update rules, written out independently of gdlib, in float64."""
    hp = dict(DEFAULTS[cls_name], **kwargs)
    # Keras holds hyperparameters as float32 (floatx): 1 - 0.999 is 1.287e-5 off in
    # float32, enough to show after a few Adam steps, so round them the same way.
    hp = {k: float(np.float32(x)) if type(x) is float else x for k, x in hp.items()}
    wd = hp.get("weight_decay")
    w = w0.astype(np.float64)
    zeros = np.zeros_like(w)
    m, v, v_hat, g_bar, u = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    a = np.full_like(w, hp.get("initial_accumulator_value", 0.0))
    e_dx = zeros.copy()
    u_prod = 1.0

    def power(base, exponent):
        # Keras computes beta**t in float32; 1 - beta_2**t then cancels, so the
        # float32 rounding of the power is visible (1e-5 relative at t = 2).
        return float(np.float32(base) ** np.float32(exponent))

    for it, g in enumerate(gradients):
        g = g.astype(np.float64)
        t = it + 1
        lr = reference_learning_rate(schedule, hp["learning_rate"], it)
        if "clipnorm" in hp:
            g = g * hp["clipnorm"] / max(np.linalg.norm(g), hp["clipnorm"])
        if "global_clipnorm" in hp:  # one variable here, so global == its own norm
            g = g * hp["global_clipnorm"] / max(np.linalg.norm(g), hp["global_clipnorm"])
        if "clipvalue" in hp:
            g = np.clip(g, -hp["clipvalue"], hp["clipvalue"])
        if wd is not None:
            w = w - w * wd * lr
        eps = hp.get("epsilon")
        if cls_name == "SGD":
            mu = hp["momentum"]
            if mu == 0:
                w = w - lr * g
            else:
                m = mu * m - lr * g
                w = w + (mu * m - lr * g if hp["nesterov"] else m)
        elif cls_name == "Adagrad":
            a = a + g**2
            w = w - lr * g / np.sqrt(a + eps)
        elif cls_name == "RMSprop":
            rho = hp["rho"]
            v = rho * v + (1 - rho) * g**2
            if hp["centered"]:
                g_bar = rho * g_bar + (1 - rho) * g
                denom = np.sqrt(v - g_bar**2 + eps)
            else:
                denom = np.sqrt(v + eps)
            step = lr * g / denom
            if hp["momentum"] > 0:
                m = hp["momentum"] * m + step
                step = m
            w = w - step
        elif cls_name in ("Adam", "AdamW"):
            b1, b2 = hp["beta_1"], hp["beta_2"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            if hp["amsgrad"]:
                v_hat = np.maximum(v_hat, v)
                v_use = v_hat
            else:
                v_use = v
            alpha = lr * math.sqrt(1 - power(b2, t)) / (1 - power(b1, t))
            w = w - alpha * m / (np.sqrt(v_use) + eps)
        elif cls_name == "Adamax":
            b1, b2 = hp["beta_1"], hp["beta_2"]
            m = b1 * m + (1 - b1) * g
            u = np.maximum(b2 * u, np.abs(g))
            w = w - lr * m / ((1 - power(b1, t)) * (u + eps))
        elif cls_name == "Nadam":
            b1, b2 = hp["beta_1"], hp["beta_2"]
            mu_t = b1 * (1 - 0.5 * power(0.96, t))
            mu_next = b1 * (1 - 0.5 * power(0.96, t + 1))
            u_prod = u_prod * mu_t
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            m_hat = mu_next * m / (1 - u_prod * mu_next) + (1 - mu_t) * g / (1 - u_prod)
            v_hat_t = v / (1 - power(b2, t))
            w = w - lr * m_hat / (np.sqrt(v_hat_t) + eps)
        elif cls_name == "Adadelta":
            rho = hp["rho"]
            v = rho * v + (1 - rho) * g**2  # E[g^2]
            dx = -np.sqrt(e_dx + eps) / np.sqrt(v + eps) * g
            e_dx = rho * e_dx + (1 - rho) * dx**2
            w = w + lr * dx
        else:
            raise AssertionError(cls_name)
    return w


def run(optimizer, w0=W0, gradients=GRADIENTS):
    w = w0.copy()
    for g in gradients:
        optimizer.apply_gradients([(g, w)])
    return w


# --------------------------------------------------------------------------- #
# 1. One step, by hand
# --------------------------------------------------------------------------- #
def test_sgd_one_step_by_hand():
    w = np.array([1.0, -1.0], dtype=np.float32)
    SGD(learning_rate=0.1).apply_gradients([(np.array([0.5, -2.0], np.float32), w)])
    # w - lr g = [1 - 0.05, -1 + 0.2]
    np.testing.assert_allclose(w, [0.95, -0.8], rtol=1e-7)


def test_sgd_momentum_two_steps_by_hand():
    w = np.array([1.0], dtype=np.float32)
    opt = SGD(learning_rate=0.1, momentum=0.9)
    g = np.array([0.5], np.float32)
    opt.apply_gradients([(g, w)])  # m = -0.05, w = 0.95
    np.testing.assert_allclose(w, [0.95], rtol=1e-7)
    opt.apply_gradients([(g, w)])  # m = 0.9 * -0.05 - 0.05 = -0.095, w = 0.855
    np.testing.assert_allclose(w, [0.855], rtol=1e-6)
    np.testing.assert_allclose(opt.momentums[0], [-0.095], rtol=1e-6)


def test_sgd_nesterov_one_step_by_hand():
    w = np.array([1.0], dtype=np.float32)
    SGD(0.1, momentum=0.9, nesterov=True).apply_gradients([(np.array([0.5], np.float32), w)])
    # m = -0.05; w = 1 + 0.9 * (-0.05) - 0.05 = 0.905
    np.testing.assert_allclose(w, [0.905], rtol=1e-6)


def test_adagrad_one_step_by_hand_epsilon_inside_sqrt():
    # With a zero initial accumulator and a tiny gradient, epsilon's place dominates:
    # a = 1e-8, step = lr g / sqrt(1e-8 + 1e-7) = 0.1 * 1e-4 / sqrt(1.1e-7).
    w = np.array([0.0], np.float32)
    Adagrad(0.1, initial_accumulator_value=0.0).apply_gradients([(np.array([1e-4], np.float32), w)])
    np.testing.assert_allclose(w, [-0.1 * 1e-4 / math.sqrt(1.1e-7)], rtol=1e-6)


def test_adagrad_default_accumulator_by_hand():
    w = np.array([1.0], np.float32)
    Adagrad(0.1).apply_gradients([(np.array([0.3], np.float32), w)])
    # a = 0.1 + 0.09 = 0.19; w = 1 - 0.1 * 0.3 / sqrt(0.19 + 1e-7)
    np.testing.assert_allclose(w, [1 - 0.03 / math.sqrt(0.19 + 1e-7)], rtol=1e-6)


def test_rmsprop_one_step_by_hand_epsilon_inside_sqrt():
    w = np.array([0.0], np.float32)
    RMSprop(0.01).apply_gradients([(np.array([1e-4], np.float32), w)])
    # v = 0.1 * 1e-8 = 1e-9; w = -0.01 * 1e-4 / sqrt(1e-9 + 1e-7)
    np.testing.assert_allclose(w, [-1e-6 / math.sqrt(1.01e-7)], rtol=1e-6)


def test_adam_one_step_by_hand():
    w = np.array([1.0], np.float32)
    Adam(0.1).apply_gradients([(np.array([0.5], np.float32), w)])
    # m = 0.05, v = 0.00025, alpha = 0.1 * sqrt(0.001) / 0.1 = sqrt(0.001)
    # w = 1 - alpha m / (sqrt(v) + 1e-7): about one learning rate, slightly less.
    alpha = math.sqrt(1 - 0.999) / (1 - 0.9) * 0.1
    expected = 1 - alpha * 0.05 / (math.sqrt(0.00025) + 1e-7)
    np.testing.assert_allclose(w, [expected], rtol=1e-6)
    assert w[0] > 0.9  # the step is a little less than the learning rate


def test_adamax_one_step_by_hand():
    w = np.array([1.0], np.float32)
    Adamax(0.1).apply_gradients([(np.array([-0.5], np.float32), w)])
    # m = -0.05, u = 0.5, w = 1 - 0.1 * (-0.05) / (0.1 * (0.5 + 1e-7))
    np.testing.assert_allclose(w, [1 + 0.005 / (0.1 * (0.5 + 1e-7))], rtol=1e-6)


def test_nadam_one_step_by_hand():
    w = np.array([1.0], np.float32)
    opt = Nadam(0.1)
    opt.apply_gradients([(np.array([0.5], np.float32), w)])
    mu_1 = 0.9 * (1 - 0.5 * 0.96)
    mu_2 = 0.9 * (1 - 0.5 * 0.96**2)
    m, v = 0.05, 0.00025
    m_hat = mu_2 * m / (1 - mu_1 * mu_2) + (1 - mu_1) * 0.5 / (1 - mu_1)
    v_hat = v / (1 - 0.999)
    np.testing.assert_allclose(w, [1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-7)], rtol=1e-6)
    # The product of the momentum schedule is updated once per step, before the update.
    np.testing.assert_allclose(opt.u_product, mu_1, rtol=1e-6)


def test_adadelta_one_step_by_hand():
    w = np.array([1.0], np.float32)
    Adadelta(1.0).apply_gradients([(np.array([0.5], np.float32), w)])
    # E[g^2] = 0.05 * 0.25; dx = -sqrt(0 + eps) / sqrt(E[g^2] + eps) * 0.5
    dx = -math.sqrt(1e-7) / math.sqrt(0.0125 + 1e-7) * 0.5
    np.testing.assert_allclose(w, [1 + dx], rtol=1e-6)


def test_weight_decay_is_applied_before_the_step_and_scaled_by_lr():
    w = np.array([2.0], np.float32)
    SGD(0.1, weight_decay=0.5).apply_gradients([(np.array([1.0], np.float32), w)])
    # decay: 2 - 2 * 0.5 * 0.1 = 1.9; then the step: 1.9 - 0.1 = 1.8
    np.testing.assert_allclose(w, [1.8], rtol=1e-6)


def test_adamw_weight_decay_default_and_decoupling():
    assert AdamW().weight_decay == 0.004
    w_adamw = run(AdamW(0.01, weight_decay=0.1))
    w_adam = run(Adam(0.01, weight_decay=0.1))
    np.testing.assert_array_equal(w_adamw, w_adam)  # Keras: AdamW is Adam + base decay
    assert not np.allclose(w_adamw, run(Adam(0.01)))


# --------------------------------------------------------------------------- #
# 2. Multi-step golden tables from the rule written out in the test (float64)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("label, cls_name, kwargs, schedule", CASES, ids=[c[0] for c in CASES])
def test_golden_table_against_reference_rule(label, cls_name, kwargs, schedule):
    opt = make_optimizer(cls_name, kwargs, schedule)
    w = W0.copy()
    for k, g in enumerate(GRADIENTS):
        opt.apply_gradients([(g, w)])
        expected = reference_run(cls_name, kwargs, schedule, W0, GRADIENTS[: k + 1])
        np.testing.assert_allclose(w, expected, rtol=2e-6, atol=2e-7, err_msg=f"step {k + 1}")
    assert w.dtype == np.float32
    assert opt.iterations == len(GRADIENTS)


# --------------------------------------------------------------------------- #
# 3. Values produced by real Keras
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("label, cls_name, kwargs, schedule", CASES, ids=[c[0] for c in CASES])
def test_matches_recorded_keras_values(label, cls_name, kwargs, schedule):
    w = run(make_optimizer(cls_name, kwargs, schedule))
    np.testing.assert_allclose(w, np.array(KERAS_GOLDEN[label], np.float32), rtol=1e-6, atol=0)


def test_amsgrad_case_really_exercises_the_maximum():
    # Otherwise the amsgrad golden values would not test anything.
    assert not np.allclose(KERAS_GOLDEN["adam_amsgrad"], run(Adam(0.01, beta_2=0.5)), rtol=1e-5)


# --------------------------------------------------------------------------- #
# The module-level rule functions are what the classes run
# --------------------------------------------------------------------------- #
def _manual(fn, n_states, *hyper, **kw):
    w = W0.copy()
    states = [np.zeros_like(w) for _ in range(n_states)]
    for it, g in enumerate(GRADIENTS):
        out = fn(w, g, *states, *[h(it) if callable(h) else h for h in hyper], **kw)
        assert out is w  # updated in place and returned
    return w


@pytest.mark.parametrize(
    "optimizer, manual",
    [
        (lambda: SGD(0.1), lambda: _manual(sgd_update, 0, None, 0.1)),
        (lambda: SGD(0.1, momentum=0.9, nesterov=True),
         lambda: _manual(sgd_update, 1, 0.1, 0.9, True)),
        (lambda: RMSprop(0.01, momentum=0.5, centered=True),
         lambda: _rmsprop_manual()),
        (lambda: Adam(0.01), lambda: _manual(adam_update, 2, 0.01, lambda it: it)),
        (lambda: Adam(0.01, beta_2=0.5, amsgrad=True),
         lambda: _manual(adam_update, 2, 0.01, lambda it: it, 0.9, 0.5, 1e-7,
                         v_hat=np.zeros_like(W0))),
        (lambda: AdamW(0.01, weight_decay=0.1),
         lambda: _manual(adamw_update, 2, 0.01, lambda it: it, 0.1)),
        (lambda: Adamax(0.01), lambda: _manual(adamax_update, 2, 0.01, lambda it: it)),
        (lambda: Adadelta(1.0), lambda: _manual(adadelta_update, 2, 1.0)),
    ],
    ids=["sgd", "sgd_nesterov", "rmsprop_centered_momentum", "adam", "adam_amsgrad", "adamw",
         "adamax", "adadelta"],
)
def test_class_runs_exactly_the_rule_function(optimizer, manual):
    np.testing.assert_array_equal(run(optimizer()), manual())


def _rmsprop_manual():
    w = W0.copy()
    v, m, g_avg = (np.zeros_like(w) for _ in range(3))
    for g in GRADIENTS:
        rmsprop_update(w, g, v, 0.01, 0.9, 0.5, 1e-7, m=m, g_avg=g_avg)
    return w


def test_adagrad_and_nadam_functions_match_classes():
    w = W0.copy()
    acc = np.full_like(w, 0.1)
    for g in GRADIENTS:
        adagrad_update(w, g, acc, 0.1)
    np.testing.assert_array_equal(run(Adagrad(0.1)), w)

    w = W0.copy()
    m, v = np.zeros_like(w), np.zeros_like(w)
    u_product = f32(1.0)
    for it, g in enumerate(GRADIENTS):
        u_product = u_product * optimizers.nadam_momentum(0.9, it + 1)
        nadam_update(w, g, m, v, 0.01, it, u_product)
    np.testing.assert_allclose(run(Nadam(0.01)), w, rtol=1e-7)


def test_update_functions_do_not_modify_the_gradient():
    g = GRADIENTS[1].copy()
    for opt in [SGD(0.1, momentum=0.9, nesterov=True), Adagrad(), RMSprop(centered=True, momentum=0.5),
                Adam(amsgrad=True), AdamW(), Adamax(), Nadam(), Adadelta(),
                SGD(clipnorm=0.1), SGD(clipvalue=0.1), SGD(global_clipnorm=0.1)]:
        opt.apply_gradients([(g, W0.copy())])
        np.testing.assert_array_equal(g, GRADIENTS[1])


# --------------------------------------------------------------------------- #
# 4. Property: a zero gradient changes nothing, except through weight decay
# --------------------------------------------------------------------------- #
ALL_CONFIGS = [
    lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9, nesterov=True), lambda: Adagrad(0.1),
    lambda: RMSprop(0.1, momentum=0.9, centered=True), lambda: Adam(0.1, amsgrad=True),
    lambda: Adamax(0.1), lambda: Nadam(0.1), lambda: Adadelta(1.0),
]
ALL_IDS = ["sgd", "sgd_nesterov", "adagrad", "rmsprop_centered_momentum", "adam_amsgrad", "adamax", "nadam", "adadelta"]
finite = st.floats(-1e3, 1e3, width=32, allow_nan=False)


@pytest.mark.parametrize("make", ALL_CONFIGS, ids=ALL_IDS)
@settings(max_examples=25, deadline=None)
@given(w=arrays(np.float32, st.integers(1, 6), elements=finite), steps=st.integers(1, 4))
def test_zero_gradient_leaves_weights_unchanged(make, w, steps):
    opt = make()
    before = w.copy()
    for _ in range(steps):
        opt.apply_gradients([(np.zeros_like(w), w)])
    np.testing.assert_array_equal(w, before)


@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSprop, Adam, AdamW, Adamax, Nadam, Adadelta])
@settings(max_examples=15, deadline=None)
@given(w=arrays(np.float32, st.integers(1, 6), elements=finite), steps=st.integers(1, 4))
def test_zero_gradient_under_weight_decay_shrinks_weights(cls, w, steps):
    opt = cls(learning_rate=0.1, weight_decay=0.5)
    expected = w.astype(np.float64) * (1 - 0.5 * 0.1) ** steps
    for _ in range(steps):
        opt.apply_gradients([(np.zeros_like(w), w)])
    np.testing.assert_allclose(w, expected, rtol=2e-6, atol=1e-30)


# --------------------------------------------------------------------------- #
# Bookkeeping: iterations, state, several variables, None gradients, config
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "opt, expected",
    [
        (SGD(), 0), (SGD(momentum=0.9), 1), (SGD(momentum=1), 1), (Adagrad(), 1),
        (RMSprop(), 1), (RMSprop(momentum=0.9), 2), (RMSprop(centered=True), 2),
        (RMSprop(momentum=0.9, centered=True), 3), (Adam(), 2), (Adam(amsgrad=True), 3),
        (AdamW(), 2), (AdamW(amsgrad=True), 3), (Adamax(), 2), (Nadam(), 2), (Adadelta(), 2),
    ],
)
def test_state_values_per_parameter_matches_the_slots_built(opt, expected):
    assert opt.state_values_per_parameter == expected
    variables = [np.ones((3, 2), np.float32), np.ones(4, np.float32)]
    opt.apply_gradients(zip([np.ones((3, 2), np.float32), np.ones(4, np.float32)], variables))
    assert sum(s.size for s in opt.variables) == expected * 10


def test_adagrad_slots_start_at_initial_accumulator_value():
    opt = Adagrad(initial_accumulator_value=0.25)
    opt.build([np.zeros(3, np.float32)])
    np.testing.assert_array_equal(opt.variables[0], np.full(3, 0.25, np.float32))


def test_one_iteration_per_call_and_several_variables_updated_in_place():
    a, b = np.ones((2, 3), np.float32), np.zeros(3, np.float32)
    ids = id(a), id(b)
    opt = Adam(0.1)
    for expected_iterations in (1, 2):
        assert opt.apply_gradients(zip([np.ones((2, 3)), np.ones(3)], [a, b])) == expected_iterations
        assert opt.iterations == expected_iterations
    assert (id(a), id(b)) == ids and a.dtype == b.dtype == np.float32
    assert np.all(a < 1) and np.all(b < 0)


def test_apply_without_variables_uses_the_built_ones():
    w = W0.copy()
    opt = SGD(0.1)
    opt.build([w])
    opt.apply([GRADIENTS[0]])
    np.testing.assert_allclose(w, W0 - 0.1 * GRADIENTS[0], rtol=1e-7)


def test_none_gradient_is_skipped_with_a_warning_as_keras():
    a, b = np.ones(2, np.float32), np.ones(2, np.float32)
    opt = SGD(0.1)
    with pytest.warns(UserWarning, match="Gradients do not exist for variables"):
        opt.apply_gradients([(None, a), (np.ones(2, np.float32), b)])
    np.testing.assert_array_equal(a, [1, 1])
    np.testing.assert_allclose(b, [0.9, 0.9], rtol=1e-7)
    assert opt.iterations == 1


def test_empty_gradient_list_is_a_no_op():
    opt = SGD()
    opt.apply_gradients([])
    assert opt.iterations == 0


def test_global_clipnorm_uses_the_joint_norm():
    a, b = np.zeros(1, np.float32), np.zeros(1, np.float32)
    SGD(1.0, global_clipnorm=1.0).apply_gradients([(np.array([3.0]), a), (np.array([4.0]), b)])
    np.testing.assert_allclose([a[0], b[0]], [-0.6, -0.8], rtol=1e-6)  # norm 5 -> 1
    a, b = np.zeros(1, np.float32), np.zeros(1, np.float32)
    SGD(1.0, clipnorm=1.0).apply_gradients([(np.array([3.0]), a), (np.array([4.0]), b)])
    np.testing.assert_allclose([a[0], b[0]], [-1.0, -1.0], rtol=1e-6)  # each clipped alone


def test_exclude_from_weight_decay():
    kernel, bias = np.ones(2, np.float32), np.ones(2, np.float32)
    opt = SGD(0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[bias])
    opt.apply_gradients([(np.zeros(2), kernel), (np.zeros(2), bias)])
    np.testing.assert_allclose(kernel, [0.95, 0.95], rtol=1e-7)
    np.testing.assert_array_equal(bias, [1, 1])
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_list=[kernel])


@pytest.mark.parametrize("cls_name", list(DEFAULTS))
def test_keras_defaults_and_config_round_trip(cls_name):
    opt = getattr(optimizers, cls_name)()
    config = opt.get_config()
    for key, value in DEFAULTS[cls_name].items():
        assert config[key] == value, key
    clone = type(opt).from_config(config)
    assert clone.get_config() == config
    assert optimizers.deserialize(optimizers.serialize(opt)).get_config() == config


def test_config_round_trip_with_a_schedule():
    lr = schedules.CosineDecay(0.1, 100, alpha=0.1)
    opt = Adam(learning_rate=lr, clipnorm=1.0)
    config = opt.get_config()
    assert config["learning_rate"] == {"class_name": "CosineDecay", "config": lr.get_config()}
    clone = Adam.from_config(config)
    assert isinstance(clone._learning_rate, schedules.CosineDecay)
    assert clone.learning_rate == opt.learning_rate and clone.clipnorm == 1.0


# --------------------------------------------------------------------------- #
# Learning rate as a schedule or a callable; the legacy Keras 2 keywords
# --------------------------------------------------------------------------- #
def test_schedule_is_evaluated_at_iterations_before_incrementing():
    lr = schedules.PiecewiseConstantDecay([0, 1], [1.0, 0.5, 0.25])
    opt = SGD(learning_rate=lr)
    w = np.zeros(1, np.float32)
    g = np.ones(1, np.float32)
    seen = []
    for _ in range(3):
        seen.append(opt.learning_rate)
        opt.apply_gradients([(g, w)])
    assert seen == [1.0, 0.5, 0.25]  # steps 0, 1, 2
    np.testing.assert_allclose(w, [-1.75], rtol=1e-7)


def test_callable_learning_rate_with_and_without_the_step():
    w = np.zeros(1, np.float32)
    opt = SGD(learning_rate=lambda step: 0.1 * (step + 1))
    for _ in range(3):
        opt.apply_gradients([(np.ones(1, np.float32), w)])
    np.testing.assert_allclose(w, [-0.6], rtol=1e-6)  # 0.1 + 0.2 + 0.3
    opt = SGD(learning_rate=lambda: 0.2)  # Keras's form: a callable of no arguments
    w = np.zeros(1, np.float32)
    opt.apply_gradients([(np.ones(1, np.float32), w)])
    np.testing.assert_allclose(w, [-0.2], rtol=1e-7)


def test_learning_rate_setter():
    opt = SGD(0.1)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5
    opt = SGD(schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.5


# Keras 2's keywords, on every optimizer: ``lr`` is the learning rate; ``decay`` divides the rate of
# update t (t = iterations, from 0) by 1 + decay * t, in float32, after any schedule (Keras 2.10's
# ``OptimizerV2._decayed_lr``). Keras 3 rejects ``lr`` and ignores ``decay``; gdlib does what Keras 2 did.
ALL_CLASSES = sorted(set(optimizers._OPTIMIZERS.values()), key=lambda cls: cls.__name__)


def quiet(make):
    """``make()`` with the legacy DeprecationWarnings silenced (tests that check them are below)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return make()


def test_every_optimizer_is_checked_for_the_legacy_keywords():
    # Keras 2 took `lr` and `decay` on SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax and Nadam (and its
    # 2.11+ AdamW took `lr`): every gdlib optimizer, including any added later, is in ALL_CLASSES.
    assert {c.__name__ for c in ALL_CLASSES} >= {
        "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam", "AdamW"}


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_legacy_lr_warns_with_the_keras_3_spelling_and_is_used(cls):
    with pytest.warns(DeprecationWarning, match=r"The `lr` argument is deprecated.*`learning_rate=0\.05`") as caught:
        legacy = cls(lr=0.05)
    # The warning points at the line that created the optimizer (here), where Python and Jupyter show it.
    assert [w.filename for w in caught] == [__file__]
    assert legacy.learning_rate == 0.05 and legacy.get_config()["learning_rate"] == 0.05
    np.testing.assert_array_equal(run(legacy), run(cls(learning_rate=0.05)))


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_lr_and_learning_rate_together_is_an_error_naming_both(cls):
    default = cls().learning_rate
    for learning_rate in (0.2, default):  # even the default value, when it is passed
        with pytest.raises(ValueError, match=rf"`learning_rate` or the deprecated `lr`, not both. "
                                             rf"Received: learning_rate={learning_rate!r}, lr=0.1"):
            cls(learning_rate=learning_rate, lr=0.1)
    with pytest.raises(ValueError, match="not both"):
        cls(0.2, lr=0.1)  # positionally too


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_legacy_decay_warns_with_the_keras_3_spelling(cls):
    with pytest.warns(DeprecationWarning) as caught:
        opt = cls(lr=0.05, decay=1e-4)
    messages = [str(w.message) for w in caught]
    assert [w.filename for w in caught] == [__file__, __file__]
    assert "The `decay` argument is deprecated" in messages[1]
    assert "applies it as Keras 2 did" in messages[1] and "Keras 3 warns and ignores it" in messages[1]
    assert ("`learning_rate=gdlib.schedules.InverseTimeDecay(0.05, decay_steps=1, decay_rate=0.0001)`"
            in messages[1])
    # ... and it is exactly that schedule: the config says so and round-trips.
    config = opt.get_config()
    assert config["learning_rate"] == {"class_name": "InverseTimeDecay", "config": schedules.InverseTimeDecay(
        0.05, decay_steps=1, decay_rate=1e-4).get_config()}
    assert "decay" not in config and "lr" not in config
    assert type(opt).from_config(config).get_config() == config


def test_legacy_decay_two_sgd_steps_by_hand():
    opt = quiet(lambda: SGD(lr=0.1, decay=0.5))
    w = np.zeros(1, np.float32)
    opt.apply_gradients([(np.ones(1, np.float32), w)])  # t = 0: eta_0 = 0.1 / (1 + 0.5 * 0) = 0.1
    np.testing.assert_allclose(w, [-0.1], rtol=1e-7)
    opt.apply_gradients([(np.ones(1, np.float32), w)])  # t = 1: eta_1 = 0.1 / 1.5 = 0.0667
    np.testing.assert_allclose(w, [-0.1 - 0.1 / 1.5], rtol=1e-6)
    assert opt.learning_rate == pytest.approx(0.1 / 2.0)  # the rate of the next update, t = 2


def test_legacy_textbook_sgd_three_steps_by_hand():
    # The textbook's SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True), with Keras 2's rule:
    #   eta_t = 0.01 / (1 + 1e-6 t);  m <- 0.9 m - eta_t g;  w <- w + 0.9 m - eta_t g.
    opt = quiet(lambda: SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True))
    w = np.array([1.0], np.float32)
    g = [2.0, -1.0, 0.5]
    # t = 0: eta = 0.01,        m = -0.02,                       w = 1 + 0.9(-0.02) - 0.02 = 0.962
    # t = 1: eta = 0.01/1.000001, m = 0.9(-0.02) + eta = -0.00800001, w = 0.962 - 0.00720001 + eta = 0.96479998
    # t = 2: eta = 0.01/1.000002, m = 0.9 m - 0.5 eta = -0.01220000, w = w - 0.01098000 - 0.5 eta = 0.94882000
    expected, m, w_ref = [], 0.0, 1.0
    for t, gt in enumerate(g):
        eta = 0.01 / (1 + 1e-6 * t)
        m = 0.9 * m - eta * gt
        w_ref = w_ref + 0.9 * m - eta * gt
        expected.append(w_ref)
    np.testing.assert_allclose(expected, [0.962, 0.96479998, 0.94882000], atol=2e-8)
    for gt, want in zip(g, expected):
        opt.apply_gradients([(np.array([gt], np.float32), w)])
        np.testing.assert_allclose(w, [want], rtol=1e-6)
    # Keras 3 ignores decay and stays at 0.01; here the rate falls, by 1 % after 10 000 updates.
    opt.iterations = 10_000
    assert opt.learning_rate == pytest.approx(0.01 / 1.01, rel=1e-6)


def test_legacy_decay_two_adam_steps_by_hand():
    # Adam(lr=0.01, decay=0.1), g = 1 then g = 3, from w = 0 (Keras's Adam, epsilon 1e-7 outside the root):
    # t=1 (iterations 0): eta = 0.01;       m = 0.1,  v = 0.001;
    #     eta_1 = 0.01 * sqrt(1 - 0.999) / (1 - 0.9) = 0.0031623;  w = -eta_1 m / (sqrt v + eps) = -0.0099999684
    # t=2 (iterations 1): eta = 0.01 / 1.1; m = 0.39, v = 0.00999 (+ 0.000999 * 0.001);
    #     eta_2 = eta * sqrt(1 - 0.999^2) / (1 - 0.9^2);  w -= eta_2 m / (sqrt v + eps)
    # Keras (and gdlib) raise the betas to the power t in float32, and 1 - beta_2**t cancels, so that rounding
    # shows (1e-5 relative at t = 2); the moments use 1 - beta in double. The same here:
    def power(beta, t):
        return float(f32(beta) ** f32(t))

    opt = quiet(lambda: Adam(lr=0.01, decay=0.1))
    w = np.zeros(1, np.float32)
    m, v = 0.1 * 1.0, 0.001 * 1.0
    w_ref = -0.01 * math.sqrt(1 - power(0.999, 1)) / (1 - power(0.9, 1)) * m / (math.sqrt(v) + 1e-7)
    opt.apply_gradients([(np.ones(1, np.float32), w)])
    np.testing.assert_allclose(w, [w_ref], rtol=1e-6)
    np.testing.assert_allclose(w_ref, -0.0099999684, rtol=2e-5)  # float32's betas change the 6th digit only
    m, v = 0.9 * m + 0.1 * 3.0, 0.999 * v + 0.001 * 9.0
    w_ref -= 0.01 / 1.1 * math.sqrt(1 - power(0.999, 2)) / (1 - power(0.9, 2)) * m / (math.sqrt(v) + 1e-7)
    opt.apply_gradients([(np.full(1, 3.0, np.float32), w)])
    np.testing.assert_allclose(w, [w_ref], rtol=1e-6)
    # Without the decay the second step would be 10 % larger.
    plain = Adam(learning_rate=0.01)
    w_plain = run(plain, np.zeros(1, np.float32), [np.ones(1, np.float32), np.full(1, 3.0, np.float32)])
    first = float(run(Adam(learning_rate=0.01), np.zeros(1, np.float32), [np.ones(1, np.float32)])[0])
    np.testing.assert_allclose((w_plain - first) / (w - first), [1.1], rtol=1e-4)


def keras_2_decay(lr, decay):
    """Keras 2's decayed rates, lr / (1 + decay * t), in float32 as ``_decayed_lr`` computed them."""
    return lambda t: float(np.float32(lr) / (np.float32(1) + np.float32(decay) * np.float32(t)))


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_legacy_decay_follows_keras_2_for_every_optimizer(cls):
    # Every rule, five steps: the decayed optimizer equals the same optimizer fed Keras 2's rates by hand.
    rates = keras_2_decay(0.05, 0.3)
    legacy = quiet(lambda: cls(lr=0.05, decay=0.3))
    by_hand = cls(learning_rate=rates)  # a callable of the step, evaluated at `iterations`
    w = run(legacy)
    np.testing.assert_array_equal(w, run(by_hand))
    assert not np.allclose(w, run(cls(learning_rate=0.05)), rtol=1e-6, atol=0)  # decay matters here
    for step in range(0, 10000, 7):  # the rates themselves, to the last float32 bit
        legacy.iterations = step
        assert np.float32(legacy.learning_rate) == np.float32(rates(step))


def test_legacy_decay_equals_inverse_time_decay_with_momentum():
    legacy = quiet(lambda: SGD(learning_rate=0.1, momentum=0.9, decay=0.01))
    modern = SGD(learning_rate=schedules.InverseTimeDecay(0.1, 1, 0.01), momentum=0.9)
    np.testing.assert_array_equal(run(legacy), run(modern))


def test_legacy_decay_zero_keeps_a_constant_float_rate():
    opt = quiet(lambda: Adam(lr=0.01, decay=0))
    assert opt.get_config()["learning_rate"] == 0.01
    opt.learning_rate = 0.02  # still a plain float rate, so settable
    assert opt.learning_rate == 0.02


def test_legacy_decay_makes_the_rate_a_schedule_that_cannot_be_set():
    opt = quiet(lambda: SGD(lr=0.1, decay=0.01))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate = 0.5


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: SGD(lr=0), ValueError, r"`lr` must be > 0. Received: lr=0"),
        (lambda: Adam(lr="fast"), TypeError, r"`lr` must be a float.*Received: lr='fast'"),
        (lambda: Adam(decay=-0.1), ValueError, r"`decay` must be >= 0. Received: decay=-0.1"),
        (lambda: Nadam(decay="yes"), TypeError, r"`decay` must be a float. Received: decay='yes'"),
        (lambda: SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5), decay=0.01), ValueError,
         r"`decay` applies to a float learning rate only.*decay=0.01"),
        (lambda: Adam(lr=lambda: 0.1, decay=0.01), ValueError, r"`decay` applies to a float learning rate only"),
    ],
)
def test_legacy_keyword_errors(make, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error, match=message):
            make()


def test_legacy_lr_may_be_a_schedule_as_in_keras_2():
    schedule = schedules.ExponentialDecay(0.1, 10, 0.5)
    opt = quiet(lambda: RMSprop(lr=schedule))
    assert opt._learning_rate is schedule


def test_legacy_keywords_are_keyword_only_and_typos_still_fail():
    with pytest.raises(TypeError, match="unexpected keyword argument 'decya'"):
        SGD(decya=0.1)
    with pytest.raises(TypeError, match="positional"):
        Adam(0.001, 0.9, 0.999, 1e-7, False, None, None, None, None, None, 0.01)


# --------------------------------------------------------------------------- #
# get()
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "name, cls",
    [("sgd", SGD), ("SGD", SGD), ("adam", Adam), ("Adam", Adam), ("adamw", AdamW),
     ("adagrad", Adagrad), ("rmsprop", RMSprop), ("RMSprop", RMSprop), ("adamax", Adamax),
     ("nadam", Nadam), ("adadelta", Adadelta)],
)
def test_get_by_name(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls
    assert optimizers.get(name) is not opt  # a fresh optimizer each time


def test_get_returns_instances_as_is_and_none_as_none():
    opt = Adam(0.1)
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    assert type(optimizers.get({"class_name": "SGD", "config": {"momentum": 0.5}})) is SGD


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"Unknown optimizer: 'adamm'.*'adadelta'.*'sgd'"):
        optimizers.get("adamm")
    with pytest.raises(TypeError, match="Could not interpret optimizer identifier"):
        optimizers.get(3)


def test_schedules_reachable_from_optimizers():
    assert optimizers.schedules.ExponentialDecay is schedules.ExponentialDecay


# --------------------------------------------------------------------------- #
# 5. Error messages
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: SGD(learning_rate=0), ValueError, r"`learning_rate` must be > 0. Received: learning_rate=0"),
        (lambda: Adam(learning_rate=-0.1), ValueError, r"`learning_rate` must be > 0. Received: learning_rate=-0.1"),
        (lambda: Adam(learning_rate="fast"), TypeError, r"`learning_rate` must be a float.*Received: learning_rate='fast'"),
        (lambda: SGD(momentum=1.5), ValueError, r"`momentum` must be in \[0, 1\]. Received: momentum=1.5"),
        (lambda: SGD(momentum=-0.1), ValueError, r"`momentum` must be in \[0, 1\]. Received: momentum=-0.1"),
        (lambda: RMSprop(momentum=2), ValueError, r"`momentum` must be in \[0, 1\]. Received: momentum=2"),
        (lambda: RMSprop(rho=1.0), ValueError, r"`rho` must be in \[0, 1\). Received: rho=1.0"),
        (lambda: Adam(beta_1=1.0), ValueError, r"`beta_1` must be in \[0, 1\). Received: beta_1=1.0"),
        (lambda: Nadam(beta_2=-0.5), ValueError, r"`beta_2` must be in \[0, 1\). Received: beta_2=-0.5"),
        (lambda: Adadelta(epsilon=-1e-7), ValueError, r"`epsilon` must be >= 0. Received: epsilon=-1e-07"),
        (lambda: Adagrad(initial_accumulator_value=-1.0), ValueError, r"`initial_accumulator_value` must be >= 0"),
        (lambda: Adam(weight_decay=-0.1), ValueError, r"`weight_decay` must be >= 0. Received: weight_decay=-0.1"),
        (lambda: AdamW(weight_decay=None), ValueError, r"`weight_decay` must be a float. Received: weight_decay=None"),
        (lambda: Adam(amsgrad="yes"), TypeError, r"`amsgrad` must be a bool. Received: amsgrad='yes'"),
        (lambda: SGD(nesterov=1), TypeError, r"`nesterov` must be a bool"),
        (lambda: SGD(clipnorm=-1.0), ValueError, r"`clipnorm` must be > 0. Received: clipnorm=-1.0"),
        (lambda: SGD(clipnorm=1.0, clipvalue=1.0), ValueError, r"Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"),
        (lambda: SGD(momentun=0.9), TypeError, r"unexpected keyword argument 'momentun'"),
        (lambda: Adam(betta_1=0.9), TypeError, r"unexpected keyword argument 'betta_1'"),
    ],
)
def test_constructor_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_accepts_integers_for_float_arguments():
    opt = SGD(learning_rate=1, momentum=0)
    assert opt.learning_rate == 1.0 and opt.state_values_per_parameter == 0


def test_gradient_shape_mismatch_error():
    w = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"Gradient 0 has shape \(3,\) but its variable has shape \(2, 3\)"):
        Adam().apply_gradients([(np.ones(3, np.float32), w)])
    np.testing.assert_array_equal(w, 0)


def test_all_none_gradients_error():
    with pytest.raises(ValueError, match="No gradients provided for any variable"):
        SGD().apply_gradients([(None, np.zeros(2, np.float32))])


def test_variable_must_be_a_float_array():
    with pytest.raises(TypeError, match="must be a float NumPy array.*variable 0 of type list"):
        SGD().apply_gradients([([1.0], [0.0])])
    with pytest.raises(TypeError, match="dtype int64"):
        SGD().apply_gradients([(np.ones(2), np.zeros(2, dtype=np.int64))])


def test_unknown_variable_after_build_error():
    opt = SGD()
    opt.apply_gradients([(np.ones(2), np.zeros(2, np.float32))])
    with pytest.raises(ValueError, match="Unknown variable of shape \\(2,\\)"):
        opt.apply_gradients([(np.ones(2), np.zeros(2, np.float32))])


def test_apply_length_mismatch_and_unbuilt_errors():
    with pytest.raises(ValueError, match="must already be built"):
        SGD().apply([np.ones(2)])
    with pytest.raises(ValueError, match="same length. Received: 1 gradients and 2 variables"):
        SGD().apply([np.ones(2)], [np.zeros(2, np.float32), np.zeros(2, np.float32)])
