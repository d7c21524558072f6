r"""The search space: ``hp.Choice``, ``hp.Int``, ``hp.Float``, ``hp.Boolean``.

A build function (or a plain objective function) receives an ``hp`` object and
*asks* it for values::

    def build(hp):
        units = hp.Int("units", 8, 64, step=8)
        lr = hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
        ...

The first call with a name registers that hyperparameter in the space and
returns its current value: the value a tuner chose for this trial or, when no
value was chosen, the default. Later calls with the same name return the same
value. This is Keras Tuner's contract.

Every hyperparameter also maps its values to and from the unit interval, the
coordinate in which tuners sample and the Gaussian process models:

* ``from_unit(u)``, ``u`` in [0, 1): uniform ``u`` gives the hyperparameter's
  sampling distribution (uniform, log-uniform, uniform over the choices);
* ``to_unit(value)``: the inverse (the centre of the value's bucket for
  discrete hyperparameters, as Keras Tuner's ``value_to_prob``);
* ``encode(value)``: the features the Gaussian process sees, ``to_unit`` for
  ordered hyperparameters and one-hot for unordered choices (strings).
"""

import math
import numbers

import numpy as np


def _check_name(name):
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty string. Received: name={name!r}")
    return name


def _bucket_features(u, n, one_hot=False):
    """Features of ``n`` equal buckets for an array ``u``: the bucket centre, or one-hot."""
    index = np.minimum(np.floor(np.asarray(u) * n).astype(int), n - 1)
    if one_hot:
        return np.eye(n)[index]
    return ((index + 0.5) / n)[:, None]


def _bucket(u, n):
    """Index of the bucket of ``u`` in [0, 1) cut into ``n`` equal buckets."""
    return min(int(math.floor(u * n)), n - 1) if n > 0 else 0


class HyperParameter:
    """Base class: a name, a default and the unit-interval mapping."""

    #: Number of features ``encode`` returns.
    n_features = 1

    def __init__(self, name, default=None):
        self.name = _check_name(name)
        self._default = default

    @property
    def default(self):
        return self._default

    def random_sample(self, rng):
        """Draw a value from the hyperparameter's sampling distribution."""
        return self.from_unit(float(rng.random()))

    def encode(self, value):
        """Features for the Gaussian process: a list of floats in [0, 1]."""
        return [self.to_unit(value)]

    def features_from_unit(self, u):
        """``encode(from_unit(u))`` for an array ``u`` (m,) at once: shape (m, n_features)."""
        return np.array([self.encode(self.from_unit(float(u_i))) for u_i in u], dtype=float).reshape(
            len(u), self.n_features)

    def get_config(self):
        return {"class_name": type(self).__name__, "name": self.name, "default": self._default}

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, self.name))

    def __repr__(self):
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({arguments})"


class Fixed(HyperParameter):
    """A value that is not searched; it shows in ``hp.values`` and the results."""

    n_features = 0

    def __init__(self, name, value):
        super().__init__(name, default=value)
        self.value = value

    @property
    def values(self):
        return [self.value]

    def from_unit(self, u):
        return self.value

    def to_unit(self, value):
        return 0.5

    def encode(self, value):
        return []

    def features_from_unit(self, u):
        return np.zeros((len(u), 0))

    def get_config(self):
        return {"class_name": "Fixed", "name": self.name, "value": self.value}


class Choice(HyperParameter):
    """One of a list of values, sampled uniformly.

    Parameters
    ----------
    name : str
        Unique name of the hyperparameter.
    values : list
        The possible values, all ``int``, all ``float``, all ``str`` or all ``bool``.
    ordered : bool or None
        Whether the order of ``values`` means something. Defaults to ``True``
        for numbers (then the Gaussian process sees the index scaled to
        [0, 1]) and must be ``False`` for strings and booleans (then it sees
        a one-hot vector).
    default : optional
        The value used when no tuner chose one. Defaults to ``values[0]``.
    """

    def __init__(self, name, values, ordered=None, default=None):
        super().__init__(name, default=default)
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise TypeError(f"`values` of Choice '{name}' must be a list. Received: values={values!r}")
        values = list(values)
        if not values:
            raise ValueError(f"`values` of Choice '{name}' must be a non-empty list. Received: values=[]")
        kinds = {bool if isinstance(v, bool) else int if isinstance(v, numbers.Integral)
                 else float if isinstance(v, numbers.Real) else str if isinstance(v, str)
                 else None for v in values}
        if None in kinds or len(kinds) > 1:
            raise TypeError(
                f"`values` of Choice '{name}' must all be int, all float, all str or all bool. "
                f"Received: values={values!r}"
            )
        if len(set(values)) != len(values):
            raise ValueError(f"`values` of Choice '{name}' must be distinct. Received: values={values!r}")
        numeric = kinds <= {int, float}
        if ordered is None:
            ordered = numeric
        if ordered and not numeric:
            raise ValueError(
                f"`ordered` must be False for a Choice of {kinds.pop().__name__} values. "
                f"Received: ordered={ordered!r}"
            )
        if default is not None and default not in values:
            raise ValueError(
                f"`default` of Choice '{name}' must be one of {values!r}. Received: default={default!r}"
            )
        self.values = values
        self.ordered = bool(ordered)
        self.n_features = 1 if self.ordered else len(values)

    @property
    def default(self):
        return self.values[0] if self._default is None else self._default

    def from_unit(self, u):
        return self.values[_bucket(u, len(self.values))]

    def to_unit(self, value):
        return (self.values.index(value) + 0.5) / len(self.values)

    def encode(self, value):
        if self.ordered:
            return [self.to_unit(value)]
        return [1.0 if v == value else 0.0 for v in self.values]

    def features_from_unit(self, u):
        return _bucket_features(u, len(self.values), one_hot=not self.ordered)

    def get_config(self):
        return {"class_name": "Choice", "name": self.name, "values": list(self.values),
                "ordered": self.ordered, "default": self._default}


class Boolean(HyperParameter):
    """``True`` or ``False``, each with probability 1/2 (``to_unit``: 0.25 and 0.75)."""

    values = [False, True]

    def __init__(self, name, default=False):
        if not isinstance(default, bool):
            raise TypeError(f"`default` of Boolean '{name}' must be a bool. Received: default={default!r}")
        super().__init__(name, default=default)

    def from_unit(self, u):
        return bool(u >= 0.5)

    def to_unit(self, value):
        return 0.75 if value else 0.25

    def features_from_unit(self, u):
        return _bucket_features(u, 2)


class _Numerical(HyperParameter):
    """What ``Int`` and ``Float`` share: a range, a step and a sampling."""

    def __init__(self, name, min_value, max_value, step, sampling, default):
        super().__init__(name, default=default)
        kind = type(self).__name__
        for argument, value in (("min_value", min_value), ("max_value", max_value)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise TypeError(f"`{argument}` of {kind} '{name}' must be a finite number. "
                                f"Received: {argument}={value!r}")
        if min_value > max_value:
            raise ValueError(f"`min_value` must be <= `max_value` for {kind} '{name}'. "
                             f"Received: min_value={min_value!r}, max_value={max_value!r}")
        if sampling is None:
            sampling = "linear"
        if sampling not in ("linear", "log"):
            raise ValueError(f"`sampling` of {kind} '{name}' must be 'linear' or 'log'. "
                             f"Received: sampling={sampling!r}")
        if sampling == "log" and min_value <= 0:
            raise ValueError(f"`sampling='log'` needs `min_value` > 0 for {kind} '{name}'. "
                             f"Received: min_value={min_value!r}")
        if step is not None:
            if isinstance(step, bool) or not isinstance(step, numbers.Real) or step <= 0:
                raise ValueError(f"`step` of {kind} '{name}' must be a number > 0. Received: step={step!r}")
            if sampling == "log" and step <= 1:
                raise ValueError(f"`step` of {kind} '{name}' multiplies with `sampling='log'`, "
                                 f"so it must be > 1. Received: step={step!r}")
        if default is not None and not min_value <= default <= max_value:
            raise ValueError(f"`default` of {kind} '{name}' must be in [{min_value}, {max_value}]. "
                             f"Received: default={default!r}")
        self.min_value = min_value
        self.max_value = max_value
        self.step = step
        self.sampling = sampling

    @property
    def default(self):
        return self.min_value if self._default is None else self._default

    # The continuous map between [0, 1] and [low, high], linear or logarithmic.
    def _scale(self, u, low, high):
        if self.sampling == "log":
            return low * (high / low) ** u
        return low + u * (high - low)

    def _unscale(self, value, low, high):
        if high == low:
            return 0.5
        if self.sampling == "log":
            return math.log(value / low) / math.log(high / low)
        return (value - low) / (high - low)

    # With a step the values are a finite ladder: min, min+step, ... (or min*step^i for log).
    def _ladder(self):
        if self.sampling == "log":
            count = int(math.log(self.max_value / self.min_value, self.step) + 1e-9) + 1
            return [self.min_value * self.step ** i for i in range(count)]
        count = int((self.max_value - self.min_value) / self.step + 1e-9) + 1
        return [self.min_value + i * self.step for i in range(count)]

    def _nearest_index(self, ladder, value):
        return min(range(len(ladder)), key=lambda i: abs(ladder[i] - value))

    def get_config(self):
        return {"class_name": type(self).__name__, "name": self.name, "min_value": self.min_value,
                "max_value": self.max_value, "step": self.step, "sampling": self.sampling,
                "default": self._default}


class Int(_Numerical):
    """An integer in [min_value, max_value] (both included), as Keras Tuner.

    Parameters
    ----------
    name : str
        Unique name of the hyperparameter.
    min_value, max_value : int
        The range, both ends included.
    step : int or None
        Distance between two values (a factor > 1 with ``sampling='log'``).
        With ``sampling='linear'`` it defaults to 1; with ``'log'`` and no step
        every integer is possible, drawn log-uniformly.
    sampling : {'linear', 'log'}
        How ``from_unit`` spreads a uniform draw over the range.
    default : int or None
        Defaults to ``min_value``.
    """

    def __init__(self, name, min_value, max_value, step=None, sampling="linear", default=None):
        for argument, value in (("min_value", min_value), ("max_value", max_value), ("step", step),
                                ("default", default)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                      or int(value) != value):
                raise ValueError(f"`{argument}` of Int '{name}' must be an integer. "
                                 f"Received: {argument}={value!r}")
        if step is None and sampling in (None, "linear"):
            step = 1
        def to_int(v):
            return None if v is None else int(v)

        super().__init__(name, to_int(min_value), to_int(max_value), to_int(step), sampling, to_int(default))

    @property
    def values(self):
        if self.step is not None:
            return [int(round(v)) for v in self._ladder()]
        return sorted({self.from_unit(0.05 + 0.1 * i) for i in range(10)})

    def from_unit(self, u):
        if self.step is not None:
            ladder = self._ladder()
            return int(round(ladder[_bucket(u, len(ladder))]))
        # Log sampling without a step: [min, max + 1) log-uniformly, then floor.
        return min(int(self._scale(u, self.min_value, self.max_value + 1)), self.max_value)

    def to_unit(self, value):
        if self.step is not None:
            ladder = self._ladder()
            return (self._nearest_index(ladder, value) + 0.5) / len(ladder)
        return self._unscale(value + 0.5, self.min_value, self.max_value + 1)

    def features_from_unit(self, u):
        if self.step is not None:
            return _bucket_features(u, len(self._ladder()))
        return super().features_from_unit(u)


class Float(_Numerical):
    r"""A float in [min_value, max_value], as Keras Tuner.

    Parameters
    ----------
    name : str
        Unique name of the hyperparameter.
    min_value, max_value : float
        The range.
    step : float or None
        If given, only ``min_value + i * step`` (``min_value * step**i`` with
        ``sampling='log'``) up to ``max_value``.
    sampling : {'linear', 'log'}
        ``'log'`` spreads values evenly over orders of magnitude (learning
        rates, regularisation strengths); it needs ``min_value > 0``.
    default : float or None
        Defaults to ``min_value``.

    Notes
    -----
    ``from_unit`` maps :math:`u \in [0, 1)` to

    .. math::

        x = x_{min} + u\,(x_{max} - x_{min}) \quad\text{(linear)}, \qquad
        x = x_{min}\,(x_{max} / x_{min})^{u} \quad\text{(log)}.

    A grid search without a step tries the 10 bucket centres
    :math:`u = 0.05, 0.15, \dots, 0.95` (Keras Tuner's choice).
    """

    def __init__(self, name, min_value, max_value, step=None, sampling="linear", default=None):
        def to_float(v):
            return v if v is None or isinstance(v, bool) or not isinstance(v, numbers.Real) else float(v)

        super().__init__(name, to_float(min_value), to_float(max_value), to_float(step), sampling,
                         to_float(default))

    @property
    def values(self):
        if self.step is not None:
            return self._ladder()
        return [self.from_unit(0.05 + 0.1 * i) for i in range(10)]

    def from_unit(self, u):
        if self.step is not None:
            ladder = self._ladder()
            return ladder[_bucket(u, len(ladder))]
        return float(self._scale(u, self.min_value, self.max_value))

    def to_unit(self, value):
        if self.step is not None:
            ladder = self._ladder()
            return (self._nearest_index(ladder, value) + 0.5) / len(ladder)
        return self._unscale(value, self.min_value, self.max_value)

    def features_from_unit(self, u):
        if self.step is not None:
            return _bucket_features(u, len(self._ladder()))
        return np.asarray(u, dtype=float)[:, None]


class HyperParameters:
    """The ``hp`` object: a search space (``space``) and current ``values``.

    Examples
    --------
    >>> hp = HyperParameters()
    >>> hp.Float("x", -2.0, 2.0)           # registers 'x', returns the default
    -2.0
    >>> hp.values["x"] = 0.5                # a tuner sets a trial's values
    >>> hp.Float("x", -2.0, 2.0)
    0.5
    """

    def __init__(self):
        self._space = {}
        self.values = {}

    @property
    def space(self):
        """The registered hyperparameters, in the order they were first asked for."""
        return list(self._space.values())

    def _retrieve(self, hyperparameter):
        name = hyperparameter.name
        known = self._space.get(name)
        if known is None:
            self._space[name] = hyperparameter
        elif known != hyperparameter:
            raise ValueError(
                f"Hyperparameter '{name}' is already defined as {known!r}; "
                f"it cannot be redefined as {hyperparameter!r}."
            )
        if name not in self.values:
            self.values[name] = self._space[name].default
        return self.values[name]

    def Choice(self, name, values, ordered=None, default=None):
        """Register (first call) and return a value from ``values``. See :class:`Choice`."""
        return self._retrieve(Choice(name, values, ordered=ordered, default=default))

    def Int(self, name, min_value, max_value, step=None, sampling="linear", default=None):
        """Register (first call) and return an integer. See :class:`Int`."""
        return self._retrieve(Int(name, min_value, max_value, step=step, sampling=sampling, default=default))

    def Float(self, name, min_value, max_value, step=None, sampling="linear", default=None):
        """Register (first call) and return a float. See :class:`Float`."""
        return self._retrieve(Float(name, min_value, max_value, step=step, sampling=sampling, default=default))

    def Boolean(self, name, default=False):
        """Register (first call) and return ``True`` or ``False``. See :class:`Boolean`."""
        return self._retrieve(Boolean(name, default=default))

    def Fixed(self, name, value):
        """Register a value that is not searched and return it."""
        return self._retrieve(Fixed(name, value))

    def get(self, name):
        """The current value of hyperparameter ``name``."""
        if name not in self.values:
            raise KeyError(f"Hyperparameter '{name}' does not exist. Known: {sorted(self.values)}")
        return self.values[name]

    def __contains__(self, name):
        return name in self.values

    def register(self, hyperparameter):
        """Add a hyperparameter object to the space (used by tuners to merge spaces)."""
        return self._retrieve(hyperparameter)

    def copy(self, values=None):
        """A new ``HyperParameters`` with the same space and ``values`` (default: these)."""
        new = HyperParameters()
        new._space = dict(self._space)
        new.values = dict(self.values if values is None else values)
        return new

    def encode(self, values=None):
        """The feature vector of ``values`` (default: the current ones) for the Gaussian process."""
        values = self.values if values is None else values
        features = []
        for hyperparameter in self._space.values():
            features.extend(hyperparameter.encode(values.get(hyperparameter.name, hyperparameter.default)))
        return features

    def __repr__(self):
        return f"HyperParameters(values={self.values!r})"
