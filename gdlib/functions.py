r"""Two-dimensional test surfaces for watching optimizers, and a driver that runs one.

Each surface is a small class with

* ``surface(xy)``: the value at ``xy`` of shape (2,) or (..., 2);
* ``surface.gradient(xy)``: the gradient, same shape as ``xy``;
* ``surface.value(x, y)``: the value on arrays of ``x`` and ``y``;
* ``surface.grid(num)``: ``(X, Y, Z)`` over ``bounds``, ready for ``contour``;
* ``minima``: the known minima (a list of (2,) arrays), ``minimum_value``;
* ``saddle_points``: known saddle points (only :class:`Saddle` lists one);
* ``bounds``: ``((x_min, x_max), (y_min, y_max))``, a good window to plot.

Values and gradients are computed in float64, whatever the input.

:func:`run_optimizer` takes any gdlib optimizer and returns the path it walks
and the loss at each point::

    from gdlib import functions, optimizers
    path, losses = functions.run_optimizer(optimizers.Adam(0.1), functions.Rosenbrock(),
                                           start=(-1.5, 2.0), steps=500)
"""

import math

import numpy as np


def _split(xy):
    xy = np.asarray(xy, dtype=np.float64)
    if xy.shape[-1:] != (2,):
        raise ValueError(f"`xy` must have shape (2,) or (..., 2). Received: xy.shape={xy.shape}")
    return xy[..., 0], xy[..., 1]


class Surface:
    """What every surface shares; a subclass defines ``value`` and ``partials``."""

    name = "surface"
    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    minima = []
    minimum_value = 0.0
    saddle_points = []

    def value(self, x, y):
        """:math:`f(x, y)` elementwise on arrays ``x`` and ``y``."""
        raise NotImplementedError

    def partials(self, x, y):
        r"""``(df/dx, df/dy)`` elementwise on arrays ``x`` and ``y``."""
        raise NotImplementedError

    def __call__(self, xy):
        x, y = _split(xy)
        return self.value(x, y)

    def gradient(self, xy):
        r""":math:`\nabla f` at ``xy`` (2,) or (..., 2); same shape as ``xy``."""
        x, y = _split(xy)
        dx, dy = self.partials(x, y)
        return np.stack(np.broadcast_arrays(dx, dy), axis=-1)

    def grid(self, num=200, bounds=None):
        """``(X, Y, Z)``: a ``num`` x ``num`` meshgrid over ``bounds`` and the values on it."""
        (x_min, x_max), (y_min, y_max) = bounds or self.bounds
        X, Y = np.meshgrid(np.linspace(x_min, x_max, num), np.linspace(y_min, y_max, num))
        return X, Y, self.value(X, Y)

    def __repr__(self):
        return f"{type(self).__name__}()"


class IllConditionedQuadratic(Surface):
    r"""A quadratic bowl whose curvature differs by ``condition_number`` between two axes.

    Parameters
    ----------
    condition_number : float
        :math:`\kappa \ge 1`, the ratio of the largest to the smallest
        curvature (eigenvalue of the Hessian).
    angle : float
        Rotation of the bowl's axes, in degrees. At 0 the axes are :math:`x`
        and :math:`y`, where per-coordinate methods (Adagrad, RMSprop, Adam)
        can rescale each curvature away; at 45 they cannot.

    Notes
    -----
    With :math:`(u, v)` the coordinates along the rotated axes,

    .. math::

        f(x, y) = \tfrac12 \left(u^2 + \kappa\, v^2\right), \qquad
        u = x\cos\theta + y\sin\theta, \quad v = -x\sin\theta + y\cos\theta .

    The Hessian has eigenvalues :math:`\lambda_{\min} = 1` and
    :math:`\lambda_{\max} = \kappa`; the minimum is 0 at the origin. Gradient
    descent with learning rate :math:`\eta` multiplies each eigen-coordinate
    by :math:`(1 - \eta\lambda)` per step: it converges only for
    :math:`\eta < 2/\lambda_{\max} = 2/\kappa`, and then the flat direction
    takes about :math:`\kappa` times more steps than the steep one.
    """

    name = "ill-conditioned quadratic"
    bounds = ((-2.0, 2.0), (-2.0, 2.0))

    def __init__(self, condition_number=10.0, angle=0.0):
        if isinstance(condition_number, bool) or not isinstance(condition_number, (int, float)) \
                or not condition_number >= 1:
            raise ValueError("`condition_number` must be a number >= 1. "
                             f"Received: condition_number={condition_number!r}")
        self.condition_number = float(condition_number)
        self.angle = float(angle)
        self.eigenvalues = (1.0, self.condition_number)
        self.minima = [np.zeros(2)]

    def _rotate(self, x, y):
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        return c * x + s * y, -s * x + c * y, c, s

    def value(self, x, y):
        u, v, _, _ = self._rotate(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        return 0.5 * (u**2 + self.condition_number * v**2)

    def partials(self, x, y):
        u, v, c, s = self._rotate(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        du, dv = u, self.condition_number * v          # df/du, df/dv
        return c * du - s * dv, s * du + c * dv        # chain rule back to x, y

    def __repr__(self):
        return f"IllConditionedQuadratic(condition_number={self.condition_number:g}, angle={self.angle:g})"


class Rosenbrock(Surface):
    r"""Rosenbrock's banana valley.

    Parameters
    ----------
    a, b : float
        Position of the minimum and steepness of the valley walls.

    Notes
    -----
    .. math::

        f(x, y) = (a - x)^2 + b\,(y - x^2)^2, \qquad
        \frac{\partial f}{\partial x} = -2(a - x) - 4bx\,(y - x^2), \quad
        \frac{\partial f}{\partial y} = 2b\,(y - x^2).

    One minimum, 0 at :math:`(a, a^2)`, at the end of a long, curved, flat
    valley: easy to find the valley, slow to walk along it.
    """

    name = "Rosenbrock"
    bounds = ((-2.0, 2.0), (-1.0, 3.0))

    def __init__(self, a=1.0, b=100.0):
        self.a, self.b = float(a), float(b)
        self.minima = [np.array([self.a, self.a**2])]

    def value(self, x, y):
        return (self.a - x) ** 2 + self.b * (y - x**2) ** 2

    def partials(self, x, y):
        return -2.0 * (self.a - x) - 4.0 * self.b * x * (y - x**2), 2.0 * self.b * (y - x**2)

    def __repr__(self):
        return f"Rosenbrock(a={self.a:g}, b={self.b:g})"


class Beale(Surface):
    r"""Beale's function: flat plateaus and sharp ridges.

    Notes
    -----
    .. math::

        f(x, y) = \sum_{i=1}^{3} \left(c_i - x + x y^i\right)^2,
        \qquad c = (1.5,\ 2.25,\ 2.625),

        \frac{\partial f}{\partial x} = \sum_i 2 r_i\,(y^i - 1), \quad
        \frac{\partial f}{\partial y} = \sum_i 2 r_i\, i\, x\, y^{i-1},
        \qquad r_i = c_i - x + x y^i .

    One minimum, 0 at :math:`(3, 0.5)`. Values span many orders of
    magnitude: plot its contours on a log scale.
    """

    name = "Beale"
    bounds = ((-4.5, 4.5), (-4.5, 4.5))
    minima = [np.array([3.0, 0.5])]
    _c = (1.5, 2.25, 2.625)

    def value(self, x, y):
        return sum((c - x + x * y**i) ** 2 for i, c in enumerate(self._c, start=1))

    def partials(self, x, y):
        residuals = [(i, c - x + x * y**i) for i, c in enumerate(self._c, start=1)]
        dx = sum(2.0 * r * (y**i - 1.0) for i, r in residuals)
        dy = sum(2.0 * r * i * x * y ** (i - 1) for i, r in residuals)
        return dx, dy


class Himmelblau(Surface):
    r"""Himmelblau's function: four minima of equal depth.

    Notes
    -----
    .. math::

        f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2,

        \frac{\partial f}{\partial x} = 4x\,(x^2 + y - 11) + 2\,(x + y^2 - 7), \quad
        \frac{\partial f}{\partial y} = 2\,(x^2 + y - 11) + 4y\,(x + y^2 - 7).

    Four minima, all 0: :math:`(3, 2)` and three irrational ones (given to
    15 digits, refined by Newton's method). Which one an optimizer reaches
    depends on where it starts.
    """

    name = "Himmelblau"
    bounds = ((-5.0, 5.0), (-5.0, 5.0))
    minima = [
        np.array([3.0, 2.0]),
        np.array([-2.805118086952745, 3.131312518250573]),
        np.array([-3.779310253377747, -3.283185991286170]),
        np.array([3.584428340330492, -1.848126526964403]),
    ]

    def value(self, x, y):
        return (x**2 + y - 11.0) ** 2 + (x + y**2 - 7.0) ** 2

    def partials(self, x, y):
        p, q = x**2 + y - 11.0, x + y**2 - 7.0
        return 4.0 * x * p + 2.0 * q, 2.0 * p + 4.0 * y * q


class Saddle(Surface):
    r"""A saddle: a stationary point that is not a minimum.

    Parameters
    ----------
    kind : {'simple', 'monkey'}
        ``'simple'``: :math:`f = x^2 - y^2`, curving up along :math:`x` and
        down along :math:`y`. ``'monkey'``: :math:`f = x^3 - 3xy^2`, three
        valleys around a point where the gradient *and* the curvature vanish.

    Notes
    -----
    .. math::

        \text{simple: } \nabla f = (2x,\ -2y), \qquad
        \text{monkey: } \nabla f = (3x^2 - 3y^2,\ -6xy).

    Neither has a minimum (both are unbounded below), so ``minima`` is empty;
    ``saddle_points`` holds the origin, where :math:`f = 0`. Started exactly
    on the :math:`x` axis, gradient descent on the simple saddle walks into
    the saddle point and stays; the smallest push off the axis (momentum,
    noise via ``run_optimizer(..., noise_std=...)``) lets it escape.
    """

    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    minima = []
    minimum_value = None

    def __init__(self, kind="simple"):
        if kind not in ("simple", "monkey"):
            raise ValueError(f"`kind` must be 'simple' or 'monkey'. Received: kind={kind!r}")
        self.kind = kind
        self.name = "saddle" if kind == "simple" else "monkey saddle"
        self.saddle_points = [np.zeros(2)]

    def value(self, x, y):
        if self.kind == "simple":
            return x**2 - y**2
        return x**3 - 3.0 * x * y**2

    def partials(self, x, y):
        if self.kind == "simple":
            return 2.0 * x, -2.0 * y
        return 3.0 * x**2 - 3.0 * y**2, -6.0 * x * y

    def __repr__(self):
        return f"Saddle(kind={self.kind!r})"


class Branin(Surface):
    r"""The Branin (Branin-Hoo) function: three global minima, a classic test of search methods.

    Notes
    -----
    .. math::

        f(x, y) = a\,(y - b x^2 + c x - r)^2 + s\,(1 - t)\cos x + s,

        \frac{\partial f}{\partial x} = 2a\,(y - b x^2 + c x - r)(c - 2 b x) - s\,(1 - t)\sin x, \quad
        \frac{\partial f}{\partial y} = 2a\,(y - b x^2 + c x - r),

    with :math:`a = 1,\ b = 5.1 / (4\pi^2),\ c = 5/\pi,\ r = 6,\ s = 10,\ t = 1/(8\pi)`,
    on :math:`x \in [-5, 10],\ y \in [0, 15]`. Three minima, all
    :math:`0.397887\ldots`: :math:`(-\pi, 12.275)`, :math:`(\pi, 2.275)` and
    :math:`(9.42478, 2.475)`. Hyperparameter-search demos use it because its
    optimum is known and lies between the points of any coarse grid.
    """

    name = "Branin"
    bounds = ((-5.0, 10.0), (0.0, 15.0))
    minima = [np.array([-np.pi, 12.275]), np.array([np.pi, 2.275]), np.array([3 * np.pi, 2.475])]
    minimum_value = 10.0 / (8.0 * np.pi)  # 0.397887...: s (1 - t) cos x + s with cos x = -1
    _a, _b, _c, _r, _s, _t = 1.0, 5.1 / (4 * np.pi**2), 5.0 / np.pi, 6.0, 10.0, 1.0 / (8 * np.pi)

    def value(self, x, y):
        inner = y - self._b * x**2 + self._c * x - self._r
        return self._a * inner**2 + self._s * (1.0 - self._t) * np.cos(x) + self._s

    def partials(self, x, y):
        inner = y - self._b * x**2 + self._c * x - self._r
        dx = 2.0 * self._a * inner * (self._c - 2.0 * self._b * x) - self._s * (1.0 - self._t) * np.sin(x)
        return dx, 2.0 * self._a * inner


def run_optimizer(optimizer, surface, start, steps, noise_std=0.0, seed=None, dtype="float32"):
    r"""Let a gdlib optimizer walk on a surface; return the path and the loss at each point.

    Parameters
    ----------
    optimizer : Optimizer or str
        A *fresh* gdlib optimizer (``optimizers.SGD(0.01, momentum=0.9)``) or
        a name (``'adam'``, Keras's defaults). One that has already taken
        steps is refused: its ``iterations`` and state would carry over.
    surface : Surface
        Anything with ``__call__(xy)`` and ``gradient(xy)``.
    start : array_like, shape (2,)
        The starting point :math:`w_0`.
    steps : int
        Number of updates.
    noise_std : float
        Standard deviation of Gaussian noise added to each gradient
        component, to imitate the noise of mini-batch gradients.
    seed : int or None
        Seed of that noise.
    dtype : {'float32', 'float64'}
        Type of the parameter array. The default, float32, is what a Keras
        or gdlib model uses, so the path is the one a real model would take;
        float64 removes round-off when a plot zooms into the last digits.

    Returns
    -------
    path : ndarray, shape (steps + 1, 2), float64
        :math:`w_0, w_1, \dots, w_{steps}`.
    losses : ndarray, shape (steps + 1,), float64
        :math:`f(w_k)` for each point of the path.

    Notes
    -----
    Each step computes :math:`g_k = \nabla f(w_k) + \sigma\,\varepsilon_k`,
    :math:`\varepsilon_k \sim \mathcal N(0, I)`, and calls
    ``optimizer.apply_gradients([(g_k, w)])``, which updates :math:`w` in
    place exactly as it would a model's weights. A run that diverges is not
    stopped: the rest of the path is ``inf`` or ``nan``.
    """
    from . import optimizers as optimizers_module

    if isinstance(optimizer, str):
        optimizer = optimizers_module.get(optimizer)
    if not hasattr(optimizer, "apply_gradients"):
        raise TypeError(f"`optimizer` must be a gdlib optimizer or its name. Received: optimizer={optimizer!r}")
    if getattr(optimizer, "iterations", 0):
        raise ValueError(f"`optimizer` has already taken {optimizer.iterations} steps; pass a new one for each "
                         "run, or its state (iterations, momentum, averages) carries over.")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"`steps` must be a non-negative integer. Received: steps={steps!r}")
    if not noise_std >= 0:
        raise ValueError(f"`noise_std` must be >= 0. Received: noise_std={noise_std!r}")
    if dtype not in ("float32", "float64", np.float32, np.float64):
        raise ValueError(f"`dtype` must be 'float32' or 'float64'. Received: dtype={dtype!r}")
    w = np.array(start, dtype=dtype)
    if w.shape != (2,):
        raise ValueError(f"`start` must be a point (x, y). Received: start={start!r}")
    rng = np.random.default_rng(seed)
    path = np.empty((steps + 1, 2))
    losses = np.empty(steps + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        path[0], losses[0] = w, surface(w)
        for k in range(1, steps + 1):
            gradient = surface.gradient(w)
            if noise_std:
                gradient = gradient + noise_std * rng.standard_normal(2)
            optimizer.apply_gradients([(gradient.astype(w.dtype), w)])
            path[k], losses[k] = w, surface(w)
    return path, losses


SURFACES = {
    "quadratic": IllConditionedQuadratic,
    "rosenbrock": Rosenbrock,
    "beale": Beale,
    "himmelblau": Himmelblau,
    "saddle": Saddle,
    "branin": Branin,
}


def get(identifier):
    """A surface from its name (``'rosenbrock'``, ...) or an instance (returned as is)."""
    if isinstance(identifier, Surface):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in SURFACES:
        return SURFACES[identifier.lower()]()
    raise ValueError(f"Unknown surface {identifier!r}. Valid names: {sorted(SURFACES)}")
