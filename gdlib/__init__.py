"""gdlib: a NumPy-only reference library with the Keras API, written to teach how
neural networks learn.

    >>> import gdlib
    >>> model = gdlib.Sequential([
    ...     gdlib.layers.Dense(512, activation="relu", input_shape=(64,)),
    ...     gdlib.layers.Dense(10, activation="softmax"),
    ... ])
    >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
    ...               metrics=["accuracy"])

``import gdlib`` needs only NumPy. ``gdlib.viz`` (matplotlib) and
``gdlib.datasets`` (NumPy only; it ships the digits data) are imported on first use.
"""

import importlib

from gdlib import activations, backend, callbacks, initializers, layers, losses, metrics, optimizers
from gdlib import functions, gradcheck, models, schedules, tape, tuning
from gdlib.backend import clear_session
from gdlib.layers import Activation, Dense, Dropout, Input
from gdlib.models import Sequential
from gdlib.tape import GradientTape  # custom training loops

__version__ = "0.1.0"

# Modules with heavier dependencies, imported only when first used.
_LAZY_MODULES = ("viz", "datasets")


def __getattr__(name):
    if name in _LAZY_MODULES:
        module = importlib.import_module(f"gdlib.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'gdlib' has no attribute {name!r}")
