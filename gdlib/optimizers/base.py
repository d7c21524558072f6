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
* ``get_config`` / ``from_config``;
* Keras 2's legacy keywords ``lr=`` and ``decay=``, for every optimizer, with
  a ``DeprecationWarning`` that gives the Keras 3 spelling (the Notes of
  :class:`Optimizer` say what Keras 2 and Keras 3 do with them).

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

from ..schedules import InverseTimeDecay, LearningRateSchedule, deserialize as _deserialize_schedule


class _Default(float):
    """A default learning rate: the same float, marked as "not passed by the caller".

    Each optimizer writes its Keras default as ``learning_rate=_Default(0.001)``
    (shown as ``0.001``), so that ``Adam(learning_rate=0.001, lr=0.01)``, which
    passes both spellings, can be told from ``Adam(lr=0.01)`` and refused.
    """

    __slots__ = ()


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
    w = variable
    w -= w * np.float32(weight_decay) * np.float32(learning_rate)
    return w


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
    lr : float, LearningRateSchedule or callable, optional
        Keras 2's spelling of ``learning_rate``, accepted with a
        ``DeprecationWarning``; passing both is a ``ValueError``. Keras 3
        has no ``lr``: ``keras.optimizers.Adam(lr=0.01)`` raises
        ``ValueError: Argument(s) not recognized: {'lr': 0.01}``.
    decay : float, optional
        Keras 2's inverse-time decay, :math:`\eta_t = \eta / (1 + \text{decay}
        \cdot t)` with :math:`t` = ``iterations`` (batches, from 0), accepted
        with a ``DeprecationWarning`` and applied as Keras 2 did (see below).
        Keras 3 warns (a ``UserWarning``, "Argument decay is no longer
        supported and will be ignored") and ignores it, so the same code
        trains at a constant rate there.

    Notes
    -----
    **Keras 2's legacy keywords.** In Keras 2 ``lr`` was the learning rate's
    name (standalone Keras up to 2.2; from 2.3, and in ``tf.keras`` up to
    TensorFlow 2.10, a deprecated alias that silently won over
    ``learning_rate``), and ``decay`` divided the rate of each update by
    :math:`1 + \text{decay} \cdot t` (in ``tf.keras``: in float32, after any
    schedule). The optimizers that TensorFlow 2.11 to 2.15 exported as
    ``tf.keras.optimizers.*`` logged a warning for ``lr`` and dropped its
    value (``Adam(lr=0.01)`` trained at 0.001), and refused ``decay`` with a
    ``ValueError``; their ``tf.keras.optimizers.legacy`` copies kept Keras 2's
    behaviour. Keras 3 (``BaseOptimizer.__init__`` in
    ``keras/src/optimizers/base_optimizer.py``) rejects ``lr`` and warns
    about, then ignores, ``decay``. gdlib keeps what Keras 2 did: ``lr`` is
    the learning rate, and ``decay`` turns a float learning rate
    :math:`\eta` into the schedule ``InverseTimeDecay(eta, decay_steps=1,
    decay_rate=decay)``, the Keras 3 spelling that the warning gives, which
    computes the same float32 numbers. So the textbook's
    ``SGD(lr=0.01, decay=1e-6, momentum=0.9, nesterov=True)`` trains as its
    author expected, and its learning rate, like any schedule's, cannot be
    set afterwards. ``decay`` together with a schedule or a callable is
    refused: write that decay into the schedule.

    One call of :meth:`apply_gradients` does, in this order (as Keras):

    1. build the slots on first use;
    2. drop ``None`` gradients (with a warning);
    3. take the learning rate :math:`\eta` for the current ``iterations``;
    4. clip the gradients;
    5. :math:`w \leftarrow w - w\lambda\eta` if ``weight_decay`` is set (``AdamW`` does it
       in step 6 instead, inside its rule :func:`~gdlib.optimizers.adamw.adamw_update`);
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
        *,
        lr=None,
        decay=None,
    ):
        learning_rate = self._legacy_learning_rate(learning_rate, lr, decay)
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
    def _legacy_learning_rate(self, learning_rate, lr, decay):
        """``learning_rate``, after Keras 2's ``lr=`` and ``decay=`` (see the class Notes)."""
        where = _callers_stacklevel(self)
        if lr is not None:
            if not isinstance(learning_rate, _Default):
                raise ValueError(
                    "Pass either `learning_rate` or the deprecated `lr`, not both. "
                    f"Received: learning_rate={learning_rate!r}, lr={lr!r}"
                )
            if not (isinstance(lr, LearningRateSchedule) or callable(lr)):
                lr = self._check_learning_rate(lr, "lr")
            warnings.warn(
                f"The `lr` argument is deprecated (Keras 2); write `learning_rate={lr!r}`. "
                "Keras 3 rejects `lr` (ValueError: Argument(s) not recognized).",
                DeprecationWarning,
                stacklevel=where,
            )
            learning_rate = lr
        if decay is None:
            return learning_rate
        _check_number("decay", decay, low=0)
        if isinstance(learning_rate, LearningRateSchedule) or callable(learning_rate):
            raise ValueError(
                "The deprecated `decay` applies to a float learning rate only; with a schedule, "
                "write the decay into the schedule. "
                f"Received: learning_rate={learning_rate!r}, decay={decay!r}"
            )
        eta = self._check_learning_rate(learning_rate)
        warnings.warn(
            f"The `decay` argument is deprecated (Keras 2). gdlib applies it as Keras 2 did, "
            f"learning_rate / (1 + decay * iterations), counting batches; Keras 3 warns and "
            f"ignores it. Write `learning_rate=gdlib.schedules.InverseTimeDecay({eta!r}, "
            f"decay_steps=1, decay_rate={decay!r})` instead.",
            DeprecationWarning,
            stacklevel=where,
        )
        if decay == 0:
            return eta
        return InverseTimeDecay(eta, decay_steps=1, decay_rate=float(decay))

    @staticmethod
    def _check_learning_rate(value, name="learning_rate"):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"`{name}` must be a float, a LearningRateSchedule or a "
                f"callable. Received: {name}={value!r}"
            )
        if not value > 0:
            raise ValueError(f"`{name}` must be > 0. Received: {name}={value!r}")
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
            if not (isinstance(variable, np.ndarray) and variable.dtype.kind == "f"):
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
        self._apply_weight_decay(variables, learning_rate)
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

    def _use_weight_decay(self, variable):
        """Whether ``variable`` is decayed: ``weight_decay`` is set and the variable not excluded."""
        return self.weight_decay is not None and id(variable) not in self._exclude_from_weight_decay

    def _apply_weight_decay(self, variables, learning_rate):
        """Step 5 of :meth:`apply`: :func:`apply_weight_decay` on every variable that uses it."""
        for variable in variables:
            if self._use_weight_decay(variable):
                apply_weight_decay(variable, learning_rate, self.weight_decay)

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


def _callers_stacklevel(optimizer):
    """The ``stacklevel`` that points a warning at the line that created ``optimizer``.

    Past the helper, ``Optimizer.__init__`` and the ``__init__`` of every subclass
    on the way (``AdamW`` -> ``Adam`` -> ``Optimizer``), so that the warning is
    attributed to the learner's code, where Python and Jupyter show it.
    """
    inits = sum("__init__" in vars(cls) for cls in type(optimizer).__mro__
                if issubclass(cls, Optimizer))
    return inits + 2


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
