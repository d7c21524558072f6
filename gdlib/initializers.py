r"""Weight initializers with Keras's names, defaults and formulas.

An initializer is called with a shape and returns a new float32 array:
``GlorotUniform(seed=0)((64, 512))``. A kernel of shape ``(fan_in, fan_out)``
is the shape of ``Dense.kernel``.

Randomness is explicit: an initializer built with a ``seed`` returns the same
values every time it is called; without one it draws fresh values from its own
``np.random.default_rng()`` generator. Nothing touches NumPy's global seed.
"""

import numpy as np

from gdlib import backend


def compute_fans(shape):
    """Return ``(fan_in, fan_out)`` for a weight of the given shape, as Keras does.

    A kernel ``(in, out)`` has fan_in = in and fan_out = out; a vector of
    length n has both equal to n.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[:-2]))
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: ``__call__(shape, dtype=None)`` returns a new array."""

    def __init__(self, seed=None):
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise TypeError(f"`seed` must be an integer or None. Received: seed={seed!r}")
        self.seed = seed
        self._rng = np.random.default_rng() if seed is None else None

    def _generator(self):
        # A seeded initializer repeats itself; an unseeded one keeps drawing.
        return np.random.default_rng(self.seed) if self.seed is not None else self._rng

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}


class Zeros(Initializer):
    """All zeros (the default ``bias_initializer``)."""

    def __init__(self):
        super().__init__(seed=None)

    def __call__(self, shape, dtype=None):
        return np.zeros(shape, dtype=dtype or backend.floatx())

    def get_config(self):
        return {}


class Ones(Zeros):
    """All ones."""

    def __call__(self, shape, dtype=None):
        return np.ones(shape, dtype=dtype or backend.floatx())


class Constant(Zeros):
    """Every entry equal to ``value``."""

    def __init__(self, value=0.0):
        super().__init__()
        self.value = value

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=dtype or backend.floatx())

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        values = self._generator().uniform(self.minval, self.maxval, size=shape)
        return values.astype(dtype or backend.floatx())

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    """Normal with the given ``mean`` and ``stddev``."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        values = self._generator().normal(self.mean, self.stddev, size=shape)
        return values.astype(dtype or backend.floatx())

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _truncated_normal(rng, stddev, shape):
    # Normal values further than two standard deviations from 0 are redrawn.
    values = rng.normal(0.0, stddev, size=shape)
    outside = np.abs(values) > 2 * stddev
    while outside.any():
        values[outside] = rng.normal(0.0, stddev, size=int(outside.sum()))
        outside = np.abs(values) > 2 * stddev
    return values


class TruncatedNormal(RandomNormal):
    """Normal with values beyond two standard deviations redrawn."""

    def __call__(self, shape, dtype=None):
        values = self.mean + _truncated_normal(self._generator(), self.stddev, shape)
        return values.astype(dtype or backend.floatx())


class VarianceScaling(Initializer):
    r"""Scale the spread of the weights to the number of inputs and/or outputs.

    Notes
    -----
    With :math:`n` = fan_in, fan_out or their mean (``mode``):

    .. math::

        \text{uniform: } W \sim U(-\ell, \ell),\quad \ell = \sqrt{3\,\text{scale}/n}

        \text{truncated normal: } \sigma = \sqrt{\text{scale}/n} / 0.87962566103423978

    (0.8796... is the standard deviation of a unit normal truncated at ±2,
    so the truncated draw keeps the intended variance, as in Keras.)
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if scale <= 0:
            raise ValueError(f"`scale` must be positive. Received: scale={scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(
                "`mode` must be one of 'fan_in', 'fan_out', 'fan_avg'. " f"Received: mode={mode!r}"
            )
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "`distribution` must be one of 'truncated_normal', 'untruncated_normal', "
                f"'uniform'. Received: distribution={distribution!r}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._generator()
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        elif self.distribution == "truncated_normal":
            values = _truncated_normal(rng, np.sqrt(variance) / 0.87962566103423978, shape)
        else:
            values = rng.normal(0.0, np.sqrt(variance), size=shape)
        return values.astype(dtype or backend.floatx())

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


class GlorotUniform(VarianceScaling):
    r"""Glorot (Xavier) uniform, Dense's default: :math:`U(-\ell, \ell)` with
    :math:`\ell = \sqrt{6/(\text{fan\_in}+\text{fan\_out})}`."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotNormal(VarianceScaling):
    r"""Glorot normal: truncated, :math:`\sigma = \sqrt{2/(\text{fan\_in}+\text{fan\_out})}`."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeUniform(VarianceScaling):
    r"""He uniform, for ReLU layers: :math:`\ell = \sqrt{6/\text{fan\_in}}`."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class HeNormal(VarianceScaling):
    r"""He normal: truncated, :math:`\sigma = \sqrt{2/\text{fan\_in}}`."""

    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


class LecunUniform(VarianceScaling):
    r"""LeCun uniform: :math:`\ell = \sqrt{3/\text{fan\_in}}`."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)

    def get_config(self):
        return {"seed": self.seed}


class LecunNormal(VarianceScaling):
    r"""LeCun normal (used with selu): truncated, :math:`\sigma = \sqrt{1/\text{fan\_in}}`."""

    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)

    def get_config(self):
        return {"seed": self.seed}


_INITIALIZERS = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_uniform": RandomUniform,
    "random_normal": RandomNormal,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
}


def get(identifier):
    """Return an initializer for a Keras name (``'glorot_uniform'``), an instance or a callable."""
    if isinstance(identifier, str):
        key = identifier if identifier in _INITIALIZERS else backend.to_snake_case(identifier)
        if key not in _INITIALIZERS:
            raise ValueError(
                f"Unknown initializer: {identifier!r}. Valid names are: "
                f"{', '.join(sorted(_INITIALIZERS))}."
            )
        return _INITIALIZERS[key]()
    if callable(identifier):
        return identifier
    raise TypeError(
        "An initializer must be a name or a callable `(shape, dtype) -> array`. "
        f"Received: {identifier!r}"
    )
