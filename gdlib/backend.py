"""Global settings shared by every part of gdlib, named as in ``keras.config``.

Keras keeps a handful of process-wide settings: the small constant ``epsilon``
that guards divisions and logarithms, the default float type, and a counter
per layer type that gives layers their automatic names (``dense``,
``dense_1``, ...). gdlib keeps the same three things here, and ``as_float``,
the conversion to that float type that activations and losses share.
"""

import re

import numpy as np

_EPSILON = 1e-7
_FLOATX = "float32"

# How many objects of each base name have been created since the last
# `clear_session()`: {"dense": 2, "sequential": 1, ...}.
_NAME_COUNTS = {}


def epsilon():
    """Return the fuzz factor used in numeric expressions (Keras: 1e-7)."""
    return _EPSILON


def floatx():
    """Return the default float type as a string (Keras: ``'float32'``)."""
    return _FLOATX


def as_float(x):
    """``x`` as a float array: float64 stays float64 (for gradient checks), anything else becomes float32.

    Every activation and loss converts its inputs with this, so that arrays are
    computed in Keras's default float type and a central-difference gradient
    check can still run at full precision.
    """
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype == np.float64:
        return np.asarray(x)
    return np.asarray(x, dtype=np.float32)


def clear_session():
    """Reset the automatic layer and model names, as ``keras.backend.clear_session``.

    After it, the next ``Dense`` is called ``dense`` again.
    """
    _NAME_COUNTS.clear()


def to_snake_case(name):
    """Turn a class name into Keras's default object name: ``'Dense'`` -> ``'dense'``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def unique_name(base):
    """Return ``base`` the first time, then ``base_1``, ``base_2``, ... (Keras's ``auto_name``)."""
    count = _NAME_COUNTS.get(base, 0)
    _NAME_COUNTS[base] = count + 1
    return base if count == 0 else f"{base}_{count}"
