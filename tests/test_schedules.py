"""Tests for gdlib.schedules: Keras's formulas, recorded Keras values, configs, errors."""

import math

import numpy as np
import pytest

from gdlib import optimizers, schedules

STEPS = [0, 1, 3, 4, 5, 6, 9, 12, 20, 25]

# Produced by keras 3.15.1 (KERAS_BACKEND=torch, float32) at the steps above.
KERAS_SCHEDULE_GOLDEN = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5}, [0.10000000149011612, 0.09057236462831497, 0.07429971545934677, 0.06729500740766525, 0.060950685292482376, 0.05520447716116905, 0.04101676866412163, 0.030475342646241188, 0.013801119290292263, 0.008411875925958157]),
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.5, "staircase": True}, [0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.05000000074505806, 0.05000000074505806, 0.02500000037252903, 0.012500000186264515]),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}, [0.10000000149011612, 0.09090909361839294, 0.07692307978868484, 0.0714285746216774, 0.06666667014360428, 0.0625, 0.05263157933950424, 0.04545454680919647, 0.03333333507180214, 0.02857142873108387]),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5, "staircase": True}, [0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.06666667014360428, 0.06666667014360428, 0.06666667014360428, 0.05000000074505806, 0.03333333507180214, 0.02857142873108387]),
    ("PiecewiseConstantDecay", {"boundaries": [5, 12], "values": [0.1, 0.05, 0.01]}, [0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.10000000149011612, 0.05000000074505806, 0.05000000074505806, 0.05000000074505806, 0.009999999776482582, 0.009999999776482582]),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 20}, [0.10000000149011612, 0.09500499814748764, 0.08501500636339188, 0.0800200030207634, 0.07502499967813492, 0.07003000378608704, 0.055045001208782196, 0.040059998631477356, 9.999999747378752e-05, 9.999999747378752e-05]),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 9, "end_learning_rate": 0.01, "power": 2.0, "cycle": True}, [0.10000000149011612, 0.0811111107468605, 0.04999999701976776, 0.03777778148651123, 0.0277777761220932, 0.019999999552965164, 0.009999999776482582, 0.019999999552965164, 0.016049383208155632, 0.010493827052414417]),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 9, "end_learning_rate": 0.01, "power": 0.5}, [0.10000000149011612, 0.09485281258821487, 0.08348468691110611, 0.07708204537630081, 0.07000000029802322, 0.061961524188518524, 0.009999999776482582, 0.009999999776482582, 0.009999999776482582, 0.009999999776482582]),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 20}, [0.10000000149011612, 0.09938441962003708, 0.09455032646656036, 0.09045084565877914, 0.08535534143447876, 0.07938926666975021, 0.05782172828912735, 0.03454914316534996, 0.0, 0.0]),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 20, "alpha": 0.1}, [0.10000000149011612, 0.09944597631692886, 0.09509529173374176, 0.09140576422214508, 0.08681981265544891, 0.08145033568143845, 0.06203955411911011, 0.04109422490000725, 0.010000000707805157, 0.010000000707805157]),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 20, "warmup_target": 0.2, "warmup_steps": 5, "alpha": 0.05}, [0.0, 0.04000000283122063, 0.12000000476837158, 0.1600000113248825, 0.20000000298023224, 0.19883039593696594, 0.18185661733150482, 0.14812909066677094, 0.037824857980012894, 0.010000000707805157]),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 5}, [0.10000000149011612, 0.09045084565877914, 0.03454914316534996, 0.009549150243401527, 0.10000000149011612, 0.0975528284907341, 0.06545085459947586, 0.020610729232430458, 0.08535534143447876, 0.04999999701976776]),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4, "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}, [0.10000000149011612, 0.08681981265544891, 0.023180196061730385, 0.055000003427267075, 0.04840990528464317, 0.032499998807907104, 0.029204953461885452, 0.021250000223517418, 0.012812499888241291, 0.011200309731066227]),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 3, "t_mul": 1.5, "m_mul": 0.8}, [0.10000000149011612, 0.07500000298023224, 0.08000000566244125, 0.07064177840948105, 0.046945929527282715, 0.019999997690320015, 0.05651342496275902, 0.01600000075995922, 0.020180385559797287, 0.04078908637166023]),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(KERAS_SCHEDULE_GOLDEN)]


def reference(name, kw, step):
    """Keras's documented formulas, written out in float64 with plain Python."""
    lr0 = kw.get("initial_learning_rate")
    if name == "ExponentialDecay":
        p = step / kw["decay_steps"]
        p = math.floor(p) if kw.get("staircase") else p
        return lr0 * kw["decay_rate"] ** p
    if name == "InverseTimeDecay":
        p = step / kw["decay_steps"]
        p = math.floor(p) if kw.get("staircase") else p
        return lr0 / (1 + kw["decay_rate"] * p)
    if name == "PiecewiseConstantDecay":
        for boundary, value in zip(kw["boundaries"], kw["values"]):
            if step <= boundary:
                return value
        return kw["values"][-1]
    if name == "PolynomialDecay":
        end, power, s = kw.get("end_learning_rate", 0.0001), kw.get("power", 1.0), kw["decay_steps"]
        if kw.get("cycle"):
            s = s * max(1, math.ceil(step / s))
        else:
            step = min(step, s)
        return (lr0 - end) * (1 - step / s) ** power + end
    if name == "CosineDecay":
        alpha, s = kw.get("alpha", 0.0), kw["decay_steps"]
        target, s_w = kw.get("warmup_target"), kw.get("warmup_steps", 0)
        if target is None:
            target = lr0
        elif step < s_w:
            return lr0 + (target - lr0) * step / s_w
        t = min(step, s_w + s) - s_w
        return target * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / s)) + alpha)
    if name == "CosineDecayRestarts":  # walk the periods one by one (no closed form)
        s, t_mul = kw["first_decay_steps"], kw.get("t_mul", 2.0)
        m_mul, alpha = kw.get("m_mul", 1.0), kw.get("alpha", 0.0)
        start, length, scale = 0.0, float(s), 1.0
        while step >= start + length:
            start, length, scale = start + length, length * t_mul, scale * m_mul
        fraction = (step - start) / length
        return lr0 * ((1 - alpha) * scale * 0.5 * (1 + math.cos(math.pi * fraction)) + alpha)
    raise AssertionError(name)


@pytest.mark.parametrize("name, kw, golden", KERAS_SCHEDULE_GOLDEN, ids=IDS)
def test_matches_recorded_keras_values(name, kw, golden):
    schedule = getattr(schedules, name)(**kw)
    values = [schedule(step) for step in STEPS]
    assert all(isinstance(v, float) for v in values)
    np.testing.assert_allclose(values, golden, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name, kw, golden", KERAS_SCHEDULE_GOLDEN, ids=IDS)
def test_matches_the_formula(name, kw, golden):
    schedule = getattr(schedules, name)(**kw)
    for step in range(40):
        assert schedule(step) == pytest.approx(reference(name, kw, step), rel=2e-6, abs=1e-8), step


@pytest.mark.parametrize("name, kw, golden", KERAS_SCHEDULE_GOLDEN, ids=IDS)
def test_array_of_steps_and_config_round_trip(name, kw, golden):
    schedule = getattr(schedules, name)(**kw)
    values = schedule(np.arange(40))
    assert values.dtype == np.float32 and values.shape == (40,)
    np.testing.assert_allclose(values, [schedule(s) for s in range(40)], rtol=1e-6)
    config = schedule.get_config()
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    assert schedules.deserialize(schedules.serialize(schedule)).get_config() == config
    assert clone(7) == schedule(7)


def test_hand_values():
    assert schedules.ExponentialDecay(1.0, 10, 0.5)(20) == 0.25
    assert schedules.InverseTimeDecay(1.0, 1, 1.0)(3) == 0.25
    piecewise = schedules.PiecewiseConstantDecay([10], [1.0, 0.5])
    assert (piecewise(10), piecewise(11)) == (1.0, 0.5)  # the boundary keeps the old value
    assert schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0)(5) == 0.5
    cosine = schedules.CosineDecay(1.0, 10)
    assert (cosine(0), cosine(5), cosine(10), cosine(50)) == (1.0, pytest.approx(0.5), 0.0, 0.0)
    restarts = schedules.CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    assert restarts(10) == 0.5 and restarts(30) == 0.25  # restarts at 10 and 10 + 20


def test_keras_defaults():
    assert schedules.PolynomialDecay(0.1, 10).get_config()["end_learning_rate"] == 0.0001
    assert schedules.PolynomialDecay(0.1, 10).power == 1.0
    cosine = schedules.CosineDecay(0.1, 10).get_config()
    assert (cosine["alpha"], cosine["warmup_target"], cosine["warmup_steps"]) == (0.0, None, 0)
    restarts = schedules.CosineDecayRestarts(0.1, 10).get_config()
    assert (restarts["t_mul"], restarts["m_mul"], restarts["alpha"]) == (2.0, 1.0, 0.0)


def test_schedule_drives_an_optimizer():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=schedule)
    w = np.zeros(1, np.float32)
    for _ in range(3):
        opt.apply_gradients([(np.ones(1, np.float32), w)])
    np.testing.assert_allclose(w, [-(0.1 + 0.05 + 0.025)], rtol=1e-6)
    assert opt.learning_rate == pytest.approx(0.0125)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: schedules.ExponentialDecay(0.1, 0, 0.5), ValueError, r"`decay_steps` must be > 0. Received: decay_steps=0"),
        (lambda: schedules.InverseTimeDecay(0.1, -1, 0.5), ValueError, r"`decay_steps` must be > 0. Received: decay_steps=-1"),
        (lambda: schedules.PolynomialDecay(0.1, 0), ValueError, r"`decay_steps` must be > 0"),
        (lambda: schedules.CosineDecay(0.1, 0), ValueError, r"`decay_steps` must be > 0"),
        (lambda: schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1), ValueError, r"`warmup_steps` must be >= 0"),
        (lambda: schedules.CosineDecayRestarts(0.1, 0), ValueError, r"`first_decay_steps` must be > 0. Received: first_decay_steps=0"),
        (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0), ValueError, r"`t_mul` must be > 0"),
        (lambda: schedules.PiecewiseConstantDecay([5, 10], [0.1, 0.01]), ValueError, r"length of boundaries should be 1 less than the length of values"),
        (lambda: schedules.PiecewiseConstantDecay([10, 5], [0.1, 0.05, 0.01]), ValueError, r"`boundaries` must be strictly increasing. Received: boundaries=\[10, 5\]"),
        (lambda: schedules.ExponentialDecay("0.1", 10, 0.5), TypeError, r"`initial_learning_rate` must be a number. Received: initial_learning_rate='0.1'"),
        (lambda: schedules.deserialize({"class_name": "Nope", "config": {}}), ValueError, r"Unknown learning rate schedule: 'Nope'. Valid names: \['CosineDecay'"),
    ],
)
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_base_class_requires_call_and_config():
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="must override `get_config"):
        schedules.LearningRateSchedule().get_config()
