r"""The part every optimizer shares, as in Keras 3's ``BaseOptimizer``.

An optimizer owns what is the same for SGD, Adam and the rest:

* ``iterations``, the number of updates applied so far (one per call of
  ``apply_gradients``);
* turning ``learning_rate`` (a float, a schedule, or a callable) into this
  step's value;
* gradient clipping (``clipnorm``, ``clipvalue``, ``global_clipnorm``);
* decoupled weight decay, applied to the variables *before* the update step;
* building the per-variable state ("slots") the first time it sees the
  variables;
* ``get_config`` / ``from_config``.

A subclass adds its hyperparameters, creates its slots in ``build`` and
implements ``update_step(gradient, variable, learning_rate)``, which calls the
module-level function holding its rule (``sgd_update``, ``adam_update``, ...).

Variables are plain float NumPy arrays (float32, like Keras's ``floatx``); they
are updated in place, so a model that holds them sees the new values.
"""

import inspect
import numbers
import warnings

import numpy as np

from ..schedules import LearningRateSchedule, deserialize as _deserialize_schedule


def apply_weight_decay(variable, learning_rate, weight_decay):
    r"""Decoupled weight decay, Keras's ``_apply_weight_decay``, in place.

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    learning_rate : float
        This step's learning rate :math:`\eta`.
    weight_decay : float
        The decay coefficient :math:`\lambda`.

    Returns
    -------
    ndarray
        ``variable``, after the decay.

    Notes
    -----
    .. math::

        w \leftarrow w - w \, \lambda \, \eta

    The decay is *decoupled* from the gradient (Loshchilov & Hutter, 2019): it
    shrinks the weights directly instead of adding :math:`\lambda w` to the
    gradient, so adaptive optimizers do not rescale it. Keras multiplies it by
    the learning rate (the paper uses a separate schedule multiplier) and
    applies it before the optimizer's own update, for every optimizer that is
    given ``weight_decay``.
    """
    decay = variable * np.float32(weight_decay)  # w <- w - w lambda eta
    decay *= np.float32(learning_rate)
    variable -= decay
    return variable


def _check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    """Raise a Keras-style error unless ``value`` is a real number in the range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a float. Received: {name}={value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        if high is None:
            rule = f"> {low}" if low_open else f">= {low}"
        else:
            rule = f"in {left}{low}, {high}{right}"
        raise ValueError(f"`{name}` must be {rule}. Received: {name}={value!r}")
    return value


def _check_bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a bool. Received: {name}={value!r}")
    return bool(value)


def _takes_step(function):
    """Whether a learning-rate callable wants the iteration as an argument."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    )
    return any(p.kind in positional for p in parameters)


class Optimizer:
    r"""Base class of every gdlib optimizer (Keras 3's ``BaseOptimizer``).

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        A float > 0; a ``gdlib.schedules`` schedule, called with
        ``iterations``; or a callable, called with ``iterations`` if it takes
        an argument and with none otherwise (Keras's form, ``lambda: 0.01``).
    weight_decay : float or None
        If set, decoupled weight decay (:func:`apply_weight_decay`) is applied
        to every variable before the update step.
    clipnorm : float or None
        Clip each gradient so that its own L2 norm is at most this value.
    clipvalue : float or None
        Clip every gradient element to ``[-clipvalue, clipvalue]``.
    global_clipnorm : float or None
        Rescale all gradients together so that their joint L2 norm is at most
        this value. At most one of the three clipping arguments may be set.
    name : str or None
        The optimizer's name; defaults to the class name in snake case.

    Notes
    -----
    One call of :meth:`apply_gradients` does, in this order (as Keras):

    1. build the slots on first use;
    2. drop ``None`` gradients (with a warning);
    3. take the learning rate :math:`\eta` for the current ``iterations``;
    4. clip the gradients;
    5. :math:`w \leftarrow w - w\lambda\eta` if ``weight_decay`` is set;
    6. ``update_step(g, w, eta)`` for each variable;
    7. ``iterations += 1``.
    """

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
    ):
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            self._learning_rate = learning_rate
        else:
            self._learning_rate = self._check_learning_rate(learning_rate)
        if weight_decay is not None:
            _check_number("weight_decay", weight_decay, low=0)
        for arg, value in [
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ]:
            if value is not None:
                _check_number(arg, value, low=0, low_open=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name if name is not None else _snake_case(type(self).__name__)
        self.iterations = 0
        self.built = False
        self._slots = []
        self._trainable_variables = []
        self._index = {}
        self._exclude_from_weight_decay = set()

    # ------------------------------------------------------------------ #
    # Learning rate
    # ------------------------------------------------------------------ #
    @staticmethod
    def _check_learning_rate(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                "`learning_rate` must be a float, a LearningRateSchedule or a "
                f"callable. Received: learning_rate={value!r}"
            )
        if not value > 0:
            raise ValueError(f"`learning_rate` must be > 0. Received: learning_rate={value!r}")
        return float(value)

    @property
    def learning_rate(self):
        """The learning rate of the next update, as a float."""
        return self._current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        if isinstance(value, LearningRateSchedule) or callable(value):
            self._learning_rate = value
        elif isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` "
                "object as its `learning_rate` constructor argument, hence its "
                "learning rate is not settable. Received: "
                f"learning_rate={value!r}"
            )
        else:
            self._learning_rate = self._check_learning_rate(value)

    def _current_learning_rate(self):
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            return float(lr(self.iterations))
        if callable(lr):
            return float(lr(self.iterations) if _takes_step(lr) else lr())
        return lr

    # ------------------------------------------------------------------ #
    # State
    # ------------------------------------------------------------------ #
    @property
    def state_values_per_parameter(self):
        """How many numbers of state this optimizer keeps for each parameter."""
        raise NotImplementedError

    def build(self, variables):
        """Remember the variables; subclasses then create their slots."""
        self._trainable_variables = list(variables)
        self._index = {id(v): i for i, v in enumerate(self._trainable_variables)}
        self.built = True

    def _add_slots(self, variables, initial_value=0.0):
        """One state array per variable, same shape and dtype, filled with ``initial_value``."""
        if initial_value == 0.0:
            slots = [np.zeros_like(v) for v in variables]
        else:
            slots = [np.full_like(v, initial_value) for v in variables]
        self._slots.extend(slots)
        return slots

    @property
    def variables(self):
        """The optimizer's state arrays (its slots), in the order they were built."""
        return list(self._slots)

    def _get_variable_index(self, variable):
        return self._index[id(variable)]

    def exclude_from_weight_decay(self, var_list=None):
        """Exclude these variables (e.g. biases) from weight decay; call before building."""
        if self.built:
            raise ValueError(
                "`exclude_from_weight_decay()` can only be configured before "
                "the optimizer is built."
            )
        self._exclude_from_weight_decay = {id(v) for v in (var_list or [])}

    # ------------------------------------------------------------------ #
    # Applying gradients
    # ------------------------------------------------------------------ #
    def apply_gradients(self, grads_and_vars):
        """Apply one update from ``zip(gradients, variables)``; return ``iterations``."""
        pairs = list(grads_and_vars)
        if not pairs:
            return self.iterations
        grads, variables = zip(*pairs)
        self.apply(list(grads), list(variables))
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        """Update ``trainable_variables`` in place from ``grads`` (one iteration).

        Without ``trainable_variables`` the optimizer must already be built,
        and ``grads`` must match the variables it was built with, one to one.
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer "
                    "must already be built on a list of variables. Call "
                    "`optimizer.build(trainable_variables)` first."
                )
            variables = self._trainable_variables
        else:
            variables = list(trainable_variables)
        if len(grads) != len(variables):
            raise ValueError(
                "`grads` and `trainable_variables` must have the same length. "
                f"Received: {len(grads)} gradients and {len(variables)} variables."
            )
        for i, variable in enumerate(variables):
            if not (isinstance(variable, np.ndarray) and np.issubdtype(variable.dtype, np.floating)):
                raise TypeError(
                    "Each variable must be a float NumPy array (it is updated in "
                    f"place). Received: variable {i} of type {type(variable).__name__}"
                    + (f" and dtype {variable.dtype}" if isinstance(variable, np.ndarray) else "")
                )
        if not self.built:
            self.build(variables)
        for variable in variables:
            if id(variable) not in self._index:
                raise ValueError(
                    f"Unknown variable of shape {variable.shape}. This optimizer "
                    "can only be called for the variables it was originally "
                    "built with. When working with a new set of variables, you "
                    "should recreate a new optimizer instance."
                )

        grads, variables = self._filter_empty_gradients(grads, variables)
        learning_rate = self._current_learning_rate()
        grads = self._clip_gradients(grads)
        if self.weight_decay is not None:
            for variable in variables:
                if id(variable) not in self._exclude_from_weight_decay:
                    apply_weight_decay(variable, learning_rate, self.weight_decay)
        self._update_step_all(grads, variables, learning_rate)
        self.iterations += 1

    def _filter_empty_gradients(self, grads, variables):
        kept_grads, kept_vars, missing = [], [], []
        for i, (g, v) in enumerate(zip(grads, variables)):
            if g is None:
                missing.append(i)
                continue
            g = np.asarray(g, dtype=v.dtype)
            if g.shape != v.shape:
                raise ValueError(
                    f"Gradient {i} has shape {g.shape} but its variable has shape "
                    f"{v.shape}. Each gradient must have its variable's shape."
                )
            kept_grads.append(g)
            kept_vars.append(v)
        if not kept_grads:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} (positions in "
                "the list) when minimizing the loss; they are left unchanged.",
                stacklevel=3,
            )
        return kept_grads, kept_vars

    def _clip_gradients(self, grads):
        if self.clipnorm is not None:
            return [_clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm is not None:
            return _clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _update_step_all(self, grads, variables, learning_rate):
        """Run ``update_step`` on every variable (Keras's ``_backend_update_step``)."""
        for gradient, variable in zip(grads, variables):
            self.update_step(gradient, variable, learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        """Update one variable in place; each optimizer implements it."""
        raise NotImplementedError

    # ------------------------------------------------------------------ #
    # Configuration
    # ------------------------------------------------------------------ #
    def get_config(self):
        """The constructor arguments, as a dict (a schedule as ``{"class_name", "config"}``)."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        return {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
        }

    @classmethod
    def from_config(cls, config):
        """A new optimizer (without state) from :meth:`get_config`'s output."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = _deserialize_schedule(config["learning_rate"])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r} iterations={self.iterations}>"


def _snake_case(name):
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i > 0 and not name[i - 1].isupper():
            out.append("_")
        out.append(c.lower())
    return "".join(out)


def _clip_by_norm(g, clipnorm):
    """Keras's ``_clip_by_norm``: ``g * c / max(||g||, c)``."""
    l2norm = np.sqrt(np.sum(np.square(g)))
    return g * np.float32(clipnorm) / np.maximum(l2norm, np.float32(clipnorm))


def _clip_by_global_norm(grads, clip_norm):
    """Keras's ``clip_by_global_norm``: every gradient times ``c * min(1/N, 1/c)``."""
    global_norm = np.sqrt(np.sum([np.sum(np.square(g)) for g in grads], dtype=np.float32))
    with np.errstate(divide="ignore"):
        inverse_norm = np.float32(1.0) / global_norm
    scale = np.float32(clip_norm) * np.minimum(inverse_norm, np.float32(1.0 / clip_norm))
    return [g * scale for g in grads]
