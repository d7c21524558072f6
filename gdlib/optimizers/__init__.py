"""Optimizers with Keras 3's names, defaults and update rules.

Each optimizer is a class (``SGD``, ``Adam``, ...) whose ``update_step`` calls a
plain function holding its rule (``sgd_update``, ``adam_update``, ...), so the
rule can be read, tested and reimplemented on its own. ``get("adam")`` turns a
Keras name into an optimizer, as ``model.compile(optimizer="adam")`` needs.
"""

from .. import schedules
from .adadelta import Adadelta, adadelta_update
from .adagrad import Adagrad, adagrad_update
from .adam import Adam, adam_update
from .adamax import Adamax, adamax_update
from .adamw import AdamW, adamw_update
from .base import Optimizer, apply_weight_decay
from .nadam import Nadam, nadam_momentum, nadam_update
from .rmsprop import RMSprop, rmsprop_update
from .sgd import SGD, sgd_update

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "Adamax",
    "Nadam",
    "Adadelta",
    "sgd_update",
    "adagrad_update",
    "rmsprop_update",
    "adam_update",
    "adamw_update",
    "adamax_update",
    "nadam_update",
    "nadam_momentum",
    "adadelta_update",
    "apply_weight_decay",
    "get",
    "serialize",
    "deserialize",
    "schedules",
]

# Keras's names, matched case-insensitively (as `keras.optimizers.get`).
_OPTIMIZERS = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "adamax": Adamax,
    "nadam": Nadam,
    "adadelta": Adadelta,
}


def serialize(optimizer):
    """``{"class_name": ..., "config": ...}`` for an optimizer."""
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config):
    """The optimizer described by :func:`serialize`'s output (a new one, without state)."""
    name = str(config.get("class_name", ""))
    if name.lower() not in _OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer: {name!r}. Valid names: {sorted(_OPTIMIZERS)}"
        )
    return _OPTIMIZERS[name.lower()].from_config(config.get("config", {}))


def get(identifier):
    """An optimizer from a Keras name ('adam', 'SGD', ...), a config dict, or an instance.

    Strings give a new optimizer with Keras's defaults; an ``Optimizer``
    instance is returned as is; None gives None (as Keras).
    """
    if identifier is None:
        return None
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _OPTIMIZERS:
            raise ValueError(
                f"Unknown optimizer: {identifier!r}. Valid names: {sorted(_OPTIMIZERS)}"
            )
        return _OPTIMIZERS[key]()
    raise TypeError(
        "Could not interpret optimizer identifier: expected a name, a config "
        f"dict or an Optimizer instance. Received: {identifier!r}"
    )
