r"""Learning-rate schedules, as ``keras.optimizers.schedules``.

A schedule is an object called with the optimizer's step count (its
``iterations``, starting at 0) that returns the learning rate for that step.
Give one to any optimizer as its ``learning_rate``::

    from gdlib import optimizers, schedules
    lr = schedules.ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
    opt = optimizers.SGD(learning_rate=lr)

Each formula is computed in float32, in Keras's order of operations, so the
values agree with Keras's to float32 precision. ``step`` may also be an array
of steps (handy for plotting a schedule); a scalar step gives a Python float.
"""

import math
import numbers

import numpy as np

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
]

_f32 = np.float32


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a number. Received: {name}={value!r}")
    if not value > 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value!r}")


def _check_real(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"Argument `{name}` must be a number. Received: {name}={value!r}")


def _result(step, value):
    """A Python float for a scalar step, a float32 array for an array of steps."""
    return float(value) if np.ndim(step) == 0 else np.asarray(value, dtype=np.float32)


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`__call__(self, step)`."
        )

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override "
            "`get_config()` in order to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        """A new schedule from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    r"""Exponential decay: the rate is multiplied by ``decay_rate`` every ``decay_steps``.

    Parameters
    ----------
    initial_learning_rate : float
        :math:`\eta_0`.
    decay_steps : int
        :math:`s > 0`.
    decay_rate : float
        :math:`r`.
    staircase : bool
        If True, :math:`t/s` is floored, so the rate drops in steps.
    name : str
        Kept for Keras config compatibility.

    Notes
    -----
    .. math::

        p = t / s \quad (\lfloor t / s \rfloor \text{ if staircase}), \qquad
        \eta_t = \eta_0 \, r^{p}
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        _check_real("initial_learning_rate", initial_learning_rate)
        _check_positive("decay_steps", decay_steps)
        _check_real("decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        return _result(step, _f32(self.initial_learning_rate) * np.power(_f32(self.decay_rate), p))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    r"""Inverse time decay: :math:`1/t`-shaped decay of the learning rate.

    Parameters
    ----------
    initial_learning_rate : float
        :math:`\eta_0`.
    decay_steps : int
        :math:`s > 0`.
    decay_rate : float
        :math:`r`.
    staircase : bool
        If True, :math:`t/s` is floored.
    name : str
        Kept for Keras config compatibility.

    Notes
    -----
    .. math::

        p = t / s \quad (\lfloor t / s \rfloor \text{ if staircase}), \qquad
        \eta_t = \frac{\eta_0}{1 + r\, p}
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        _check_real("initial_learning_rate", initial_learning_rate)
        _check_positive("decay_steps", decay_steps)
        _check_real("decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        p = _f32(step) / _f32(self.decay_steps)
        if self.staircase:
            p = np.floor(p)
        denom = _f32(1) + _f32(self.decay_rate) * p
        return _result(step, _f32(self.initial_learning_rate) / denom)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    r"""A constant learning rate on each interval between ``boundaries``.

    Parameters
    ----------
    boundaries : list of int
        Strictly increasing steps :math:`b_0 < b_1 < \dots < b_{k-1}`.
    values : list of float
        :math:`k + 1` learning rates :math:`v_0, \dots, v_k`.
    name : str
        Kept for Keras config compatibility.

    Notes
    -----
    .. math::

        \eta_t = \begin{cases}
            v_0 & t \le b_0 \\
            v_i & b_{i-1} < t \le b_i \\
            v_k & t > b_{k-1}
        \end{cases}

    The boundary step itself still gets the earlier value, as in Keras.
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of "
                f"values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} of length {len(values)}."
            )
        if any(b1 >= b2 for b1, b2 in zip(boundaries, boundaries[1:])):
            raise ValueError(
                f"`boundaries` must be strictly increasing. Received: boundaries={boundaries}"
            )
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        index = np.searchsorted(np.asarray(self.boundaries), step, side="left")
        return _result(step, np.asarray(self.values, dtype=np.float32)[index])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    r"""Polynomial decay from ``initial_learning_rate`` to ``end_learning_rate``.

    Parameters
    ----------
    initial_learning_rate : float
        :math:`\eta_0`.
    decay_steps : int
        :math:`s > 0`.
    end_learning_rate : float
        :math:`\eta_{\text{end}}`.
    power : float
        :math:`k`; 1 is a straight line.
    cycle : bool
        If True, start again: :math:`s` becomes the first multiple of
        ``decay_steps`` at or above :math:`t`.
    name : str
        Kept for Keras config compatibility.

    Notes
    -----
    .. math::

        t' = \min(t, s) \;\; \text{or, if cycle,} \;\;
        s' = s \lceil t/s \rceil \;(s' = s \text{ at } t = 0), \qquad
        \eta_t = (\eta_0 - \eta_{\text{end}})\left(1 - \frac{t'}{s'}\right)^{k}
                 + \eta_{\text{end}}
    """

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        _check_real("initial_learning_rate", initial_learning_rate)
        _check_positive("decay_steps", decay_steps)
        _check_real("end_learning_rate", end_learning_rate)
        _check_real("power", power)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        t = _f32(step)
        s = _f32(self.decay_steps)
        if self.cycle:
            multiplier = np.where(t == 0, _f32(1), np.ceil(t / s))
            s = s * multiplier
        else:
            t = np.minimum(t, s)
        p = t / s
        eta_0, eta_end = _f32(self.initial_learning_rate), _f32(self.end_learning_rate)
        return _result(step, (eta_0 - eta_end) * np.power(1 - p, _f32(self.power)) + eta_end)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class CosineDecay(LearningRateSchedule):
    r"""Cosine decay (SGDR without restarts), with an optional linear warmup.

    Parameters
    ----------
    initial_learning_rate : float
        :math:`\eta_0`.
    decay_steps : int
        :math:`s > 0`, the length of the cosine.
    alpha : float
        :math:`\alpha`, the final rate as a fraction of the starting one.
    name : str
        Kept for Keras config compatibility.
    warmup_target : float or None
        :math:`\eta_w`. If set, the rate first rises linearly from
        :math:`\eta_0` to :math:`\eta_w` over ``warmup_steps``, then decays
        from :math:`\eta_w`.
    warmup_steps : int
        :math:`s_w \ge 0`.

    Notes
    -----
    With :math:`\eta_{\text{top}} = \eta_w` (or :math:`\eta_0` without warmup),
    and the step clipped at :math:`t \le s_w + s`:

    .. math::

        \eta_t = \begin{cases}
            \eta_0 + (\eta_w - \eta_0)\, t / s_w & t < s_w \\
            \eta_{\text{top}} \left[(1 - \alpha)\,
                \tfrac12\left(1 + \cos\frac{\pi (t - s_w)}{s}\right) + \alpha\right]
                & \text{otherwise}
        \end{cases}
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        _check_real("initial_learning_rate", initial_learning_rate)
        _check_positive("decay_steps", decay_steps)
        _check_real("alpha", alpha)
        if warmup_target is not None:
            _check_real("warmup_target", warmup_target)
        _check_real("warmup_steps", warmup_steps)
        if warmup_steps < 0:
            raise ValueError(
                f"Argument `warmup_steps` must be >= 0. Received: warmup_steps={warmup_steps!r}"
            )
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, t, s, eta_top):
        completed_fraction = t / s
        cosine_decayed = _f32(0.5) * (_f32(1) + np.cos(_f32(math.pi) * completed_fraction))
        decayed = _f32(1 - self.alpha) * cosine_decayed + _f32(self.alpha)
        return eta_top * decayed

    def __call__(self, step):
        eta_0 = _f32(self.initial_learning_rate)
        s = _f32(self.decay_steps)
        t = _f32(step)
        if self.warmup_target is None:
            return _result(step, self._decay(np.minimum(t, s), s, eta_0))
        eta_w = _f32(self.warmup_target)
        s_w = _f32(self.warmup_steps)
        t = np.minimum(t, s + s_w)
        with np.errstate(divide="ignore", invalid="ignore"):
            warmup = (eta_w - eta_0) * (t / s_w) + eta_0
        decay = self._decay(t - s_w, s, eta_w)
        return _result(step, np.where(t < s_w, warmup, decay))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    r"""Cosine decay with warm restarts (SGDR, Loshchilov & Hutter, 2017).

    Parameters
    ----------
    initial_learning_rate : float
        :math:`\eta_0`.
    first_decay_steps : int
        :math:`s > 0`, the length of the first cosine period.
    t_mul : float
        :math:`T`: each period is ``t_mul`` times longer than the last.
    m_mul : float
        :math:`M`: each restart starts at ``m_mul`` times the last start.
    alpha : float
        :math:`\alpha`, the floor as a fraction of :math:`\eta_0`.
    name : str
        Kept for Keras config compatibility.

    Notes
    -----
    With :math:`f = t/s`, the restart index :math:`i` and the fraction
    :math:`f_i` of period :math:`i` already done are

    .. math::

        i = \left\lfloor \frac{\log(1 - f(1 - T))}{\log T} \right\rfloor,\quad
        f_i = \frac{f - \frac{1 - T^{i}}{1 - T}}{T^{i}}
        \qquad (T = 1:\; i = \lfloor f \rfloor,\; f_i = f - i)

    .. math::

        \eta_t = \eta_0\left[(1 - \alpha)\, M^{i}\, \tfrac12 (1 + \cos \pi f_i) + \alpha\right]
    """

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        _check_real("initial_learning_rate", initial_learning_rate)
        _check_positive("first_decay_steps", first_decay_steps)
        _check_positive("t_mul", t_mul)
        _check_real("m_mul", m_mul)
        _check_real("alpha", alpha)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        T = _f32(self.t_mul)
        f = _f32(step) / _f32(self.first_decay_steps)
        if self.t_mul == 1.0:
            i = np.floor(f)
            f_i = f - i
        else:
            i = np.floor(np.log(_f32(1) - f * (_f32(1) - T)) / np.log(T))
            sum_r = (_f32(1) - np.power(T, i)) / (_f32(1) - T)
            f_i = (f - sum_r) / np.power(T, i)
        m_fac = np.power(_f32(self.m_mul), i)
        cosine_decayed = _f32(0.5) * m_fac * (_f32(1) + np.cos(_f32(math.pi) * f_i))
        alpha = _f32(self.alpha)
        decayed = (_f32(1) - alpha) * cosine_decayed + alpha
        return _result(step, _f32(self.initial_learning_rate) * decayed)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


_SCHEDULES = {
    cls.__name__: cls
    for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay,
                CosineDecay, CosineDecayRestarts)
}


def serialize(schedule):
    """``{"class_name": ..., "config": ...}`` for a schedule (Keras's form, without module)."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config):
    """The schedule described by :func:`serialize`'s output."""
    name = config.get("class_name")
    if name not in _SCHEDULES:
        raise ValueError(
            f"Unknown learning rate schedule: {name!r}. Valid names: {sorted(_SCHEDULES)}"
        )
    return _SCHEDULES[name].from_config(config["config"])
