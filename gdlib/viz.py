r"""Plots for the chapters: training curves, optimizer paths, schedules, searches, losses.

Matplotlib is imported inside each function, so ``import gdlib`` (and even
``import gdlib.viz``) works without it; install it with ``pip install 'gdlib[book]'``.

Every function takes an optional ``ax`` (an Axes, or a sequence of them where the
plot has several panels) to draw into, and returns the :class:`~matplotlib.figure.Figure`.
Nothing calls ``plt.show()``. In a notebook, assign the result (``fig = plot_history(h)``)
or end the line with ``;``: a Figure left as a cell's last value is shown a second time.

The functions rely only on the shapes of what they draw (duck typing):

* a *history* is a ``History`` (anything with a ``history`` dict) or the dict itself;
* a *surface* is a callable ``surface(xy)`` on points ``xy[..., 2]``, optionally with
  ``bounds`` ``((x_min, x_max), (y_min, y_max))`` and ``minima`` (points of shape ``(k, 2)``);
* a *schedule* is a callable ``schedule(step) -> learning rate``;
* *trials* are a list of dicts with ``trial_id``, ``hyperparameters`` (a dict), ``score``
  and ``seconds`` (or a tuner with such a ``trials`` list);
* a *GP* has ``predict(X, return_std=True) -> (mean, std)`` on ``X`` of shape ``(n, 1)``.
"""

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "plot_history",
    "plot_paths",
    "animate_paths",
    "plot_schedule",
    "plot_search_results",
    "plot_hyperparameter_scatter",
    "plot_gp_1d",
    "plot_loss",
    "plot_digits",
]

_LEARNING_RATE_KEYS = ("learning_rate", "lr")


# ---------------------------------------------------------------- helpers


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "gdlib.viz needs matplotlib. Install it with: pip install 'gdlib[book]'"
        ) from error
    return plt


def _figure_of(ax):
    """The top-level Figure an Axes belongs to (also when it sits in a SubFigure)."""
    try:
        return ax.get_figure(root=True)
    except TypeError:  # matplotlib < 3.10
        figure = ax.figure
        return getattr(figure, "figure", figure)


def _axes_list(ax, n, figsize, argument="ax", **subplot_kw):
    """``n`` Axes to draw into: new ones in one row, or the ones given in ``ax``."""
    if ax is None:
        plt = _pyplot()
        fig, axes = plt.subplots(1, n, figsize=figsize, squeeze=False, layout="constrained", **subplot_kw)
        return fig, list(axes.ravel())
    axes = list(np.ravel(ax)) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
    if len(axes) != n:
        raise ValueError(
            f"`{argument}` must hold {n} Axes for this plot. Received: {len(axes)} Axes"
        )
    return _figure_of(axes[0]), axes


def _history_dict(history):
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise TypeError(
            "`history` must be a History (with a `history` dict) or a dict of lists. "
            f"Received: history of type {type(history).__name__}"
        )
    return logs


def _as_path(name, path):
    # run_optimizer returns (path, losses); accept that pair as well as the path alone.
    if isinstance(path, tuple) and len(path) == 2 and np.ndim(path[0]) == 2:
        path = path[0]
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) == 0:
        raise ValueError(
            f"Each path must be an array of shape (steps + 1, 2). Received: path {name!r} "
            f"with shape {path.shape}"
        )
    return path


def _paths_dict(paths):
    if isinstance(paths, Mapping):
        return {str(name): _as_path(name, path) for name, path in paths.items()}
    return {"path": _as_path("path", paths)}


def _evaluate_surface(surface, xx, yy):
    """``surface`` on the grid ``(xx, yy)``: vectorised on ``(..., 2)`` if it can be, else point by point."""
    points = np.stack([xx, yy], axis=-1)
    try:
        z = np.asarray(surface(points), dtype=np.float64)
        if z.shape == xx.shape:
            return z
    except (ValueError, TypeError, IndexError):
        pass
    flat = points.reshape(-1, 2)
    return np.array([float(surface(p)) for p in flat]).reshape(xx.shape)


def _surface_bounds(surface, bounds, paths):
    if bounds is None:
        bounds = getattr(surface, "bounds", None)
    if bounds is None:
        # No bounds known: frame every path with a 10% margin.
        points = np.concatenate(list(paths.values()))
        low, high = points.min(axis=0), points.max(axis=0)
        margin = 0.1 * np.maximum(high - low, 1e-3)
        return (low[0] - margin[0], high[0] + margin[0]), (low[1] - margin[1], high[1] + margin[1])
    bounds = np.asarray(bounds, dtype=np.float64).reshape(2, 2)
    return tuple(bounds[0]), tuple(bounds[1])


def _contour_levels(z, levels, log_levels):
    r"""Contour levels; with ``log_levels`` spaced geometrically above the lowest value.

    Valleys such as Rosenbrock's are invisible with evenly spaced levels, so the levels are
    :math:`z_{\min} + \text{geomspace}(10^{-4} s, s)` with :math:`s = z_{\max} - z_{\min}`.
    """
    if not isinstance(levels, (int, np.integer)):
        return np.asarray(levels, dtype=np.float64)
    finite = z[np.isfinite(z)]
    low, high = finite.min(), finite.max()
    if not log_levels or high <= low:
        return int(levels)
    span = high - low
    return low + np.geomspace(1e-4 * span, span, int(levels))


def _surface_name(surface):
    name = getattr(surface, "name", None)
    if isinstance(name, str):
        return name
    return getattr(surface, "__name__", type(surface).__name__)


def _resolve_surface(surface):
    if isinstance(surface, str):
        from gdlib import functions

        return functions.get(surface)
    if not callable(surface):
        raise TypeError(
            "`surface` must be callable as surface(xy) or a surface name such as 'rosenbrock'. "
            f"Received: surface={surface!r}"
        )
    return surface


def _draw_surface(ax, surface, paths, bounds, levels, log_levels, resolution, cmap, show_minima):
    (x_min, x_max), (y_min, y_max) = _surface_bounds(surface, bounds, paths)
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, resolution), np.linspace(y_min, y_max, resolution))
    zz = _evaluate_surface(surface, xx, yy)
    ax.contour(xx, yy, zz, levels=_contour_levels(zz, levels, log_levels), cmap=cmap, linewidths=0.7)
    minima = getattr(surface, "minima", None)
    if show_minima and minima is not None and len(minima) > 0:
        minima = np.atleast_2d(np.asarray(minima, dtype=np.float64))
        ax.scatter(minima[:, 0], minima[:, 1], marker="*", s=160, color="gold",
                   edgecolors="black", linewidths=0.8, zorder=4, label="minimum")
    saddle_points = getattr(surface, "saddle_points", None)
    if show_minima and saddle_points is not None and len(saddle_points) > 0:
        saddle_points = np.atleast_2d(np.asarray(saddle_points, dtype=np.float64))
        ax.scatter(saddle_points[:, 0], saddle_points[:, 1], marker="X", s=90, color="tab:red",
                   edgecolors="black", linewidths=0.6, zorder=4, label="saddle point")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(_surface_name(surface))


def _draw_starts(ax, paths):
    starts = np.array([path[0] for path in paths.values()])
    ax.scatter(starts[:, 0], starts[:, 1], marker="o", s=50, facecolors="white",
               edgecolors="black", linewidths=1.2, zorder=5, label="start")


# ---------------------------------------------------------------- training history


def plot_history(history, metrics=None, ax=None):
    """Loss and metrics per epoch, training against validation, one panel per metric.

    Parameters
    ----------
    history : History or dict
        What ``fit`` returns, or its ``history`` dict
        ``{'loss': [...], 'val_loss': [...], 'accuracy': [...], ...}``.
    metrics : str or list of str, optional
        Names to plot (without ``val_``). Default: the loss, then every other
        training key in the history but the learning rate; ``'val_' + name`` is
        drawn beside each one that has it.
    ax : Axes or sequence of Axes, optional
        One Axes per metric. New ones, in a row, if None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    logs = _history_dict(history)
    if metrics is None:
        metrics = [key for key in logs if not key.startswith("val_") and key not in _LEARNING_RATE_KEYS]
        metrics.sort(key=lambda name: name != "loss")  # the loss first, then the metrics in order
    elif isinstance(metrics, str):
        metrics = [metrics]
    metrics = list(metrics)
    missing = [name for name in metrics if name not in logs and "val_" + name not in logs]
    if missing or not metrics:
        raise ValueError(
            f"`metrics` must name keys of the history; available: {sorted(logs)}. "
            f"Received: metrics={metrics!r}"
        )
    fig, axes = _axes_list(ax, len(metrics), figsize=(4.5 * len(metrics), 3.5))
    from matplotlib.ticker import MaxNLocator

    for axis, name in zip(axes, metrics):
        for key, style in ((name, "-"), ("val_" + name, "--")):
            if key in logs:
                values = np.asarray(logs[key], dtype=np.float64)
                epochs = np.asarray(getattr(history, "epoch", None) or range(len(values)))
                if len(epochs) != len(values):
                    epochs = np.arange(len(values))
                axis.plot(epochs + 1, values, style, marker="o", markersize=3, label=key)
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.set_title(name)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend()
    return fig


# ---------------------------------------------------------------- optimizer paths


def plot_paths(surface, paths, ax=None, levels=30, log_levels=True, bounds=None,
               resolution=200, cmap="viridis", show_minima=True):
    """Optimizer paths over the contour plot of a 2-D surface.

    Parameters
    ----------
    surface : callable or str
        ``surface(xy)`` for points ``xy`` of shape ``(..., 2)`` (or a single point),
        e.g. a ``gdlib.functions`` surface, or its name (``'rosenbrock'``); its
        ``bounds``, ``minima`` and ``saddle_points`` are used when it has them.
    paths : dict of name -> array of shape (steps + 1, 2), or one such array
        One line per optimizer. A ``(path, losses)`` pair, as ``run_optimizer``
        returns, is accepted in place of the path.
    ax : Axes, optional
        Where to draw; a new figure if None.
    levels : int or array-like, default=30
        Number of contour levels, or the levels themselves.
    log_levels : bool, default=True
        Space the levels geometrically above the lowest value (shows narrow valleys).
    bounds : ((x_min, x_max), (y_min, y_max)), optional
        Plotting window; default ``surface.bounds``, or the paths' extent.
    resolution : int, default=200
        Grid points per axis for the contours.
    cmap : str, default="viridis"
        Colour map of the contours.
    show_minima : bool, default=True
        Mark ``surface.minima`` with stars (and ``surface.saddle_points`` with crosses).

    Returns
    -------
    matplotlib.figure.Figure
        Contours, one line per path (labelled with its name), the starts as
        white circles, the minima as stars and saddle points as crosses.
    """
    surface = _resolve_surface(surface)
    paths = _paths_dict(paths)
    fig, (axis,) = _axes_list(ax, 1, figsize=(6, 5))
    _draw_surface(axis, surface, paths, bounds, levels, log_levels, resolution, cmap, show_minima)
    for name, path in paths.items():
        axis.plot(path[:, 0], path[:, 1], marker="o", markersize=2.5, linewidth=1.2, label=name, zorder=3)
    _draw_starts(axis, paths)
    axis.legend(loc="best", fontsize="small")
    return fig


def animate_paths(surface, paths, ax=None, interval=50, levels=30, log_levels=True, bounds=None,
                  resolution=200, cmap="viridis", show_minima=True):
    """Optimizer paths drawn step by step over the contour plot, as an animation.

    Takes the arguments of :func:`plot_paths`, plus ``interval`` (milliseconds
    between frames). Frame ``i`` shows the first ``i + 1`` points of every path.
    In a notebook, show it with ``IPython.display.HTML(animation.to_jshtml())``.

    Returns
    -------
    matplotlib.animation.FuncAnimation
        Its figure is ``animation._fig``; keep a reference to the animation while it plays.
    """
    from matplotlib.animation import FuncAnimation

    surface = _resolve_surface(surface)
    paths = _paths_dict(paths)
    fig, (axis,) = _axes_list(ax, 1, figsize=(6, 5))
    _draw_surface(axis, surface, paths, bounds, levels, log_levels, resolution, cmap, show_minima)
    lines = {
        name: axis.plot([], [], marker="o", markersize=2.5, linewidth=1.2, label=name, zorder=3)[0]
        for name in paths
    }
    _draw_starts(axis, paths)
    axis.legend(loc="best", fontsize="small")

    def update(frame):
        for name, path in paths.items():
            lines[name].set_data(path[: frame + 1, 0], path[: frame + 1, 1])
        return list(lines.values())

    n_frames = max(len(path) for path in paths.values())
    return FuncAnimation(fig, update, frames=n_frames, interval=interval, blit=False, repeat=False)


# ---------------------------------------------------------------- schedules


def plot_schedule(schedules, steps, ax=None):
    """Learning rate against step for one schedule or several.

    Parameters
    ----------
    schedules : callable or dict of name -> callable
        ``schedule(step) -> learning rate``, e.g. a ``gdlib.schedules`` object or
        ``lambda step: 0.1``.
    steps : int or array-like of int
        ``range(steps)``, or the steps themselves.
    ax : Axes, optional
        Where to draw; a new figure if None.

    Returns
    -------
    matplotlib.figure.Figure
        One line per schedule, labelled with its key (or its ``name``).
    """
    if not isinstance(schedules, Mapping):
        name = getattr(schedules, "name", None)
        if not isinstance(name, str):
            name = getattr(schedules, "__name__", type(schedules).__name__)
        schedules = {name: schedules}
    for name, schedule in schedules.items():
        if not callable(schedule):
            raise TypeError(
                f"Each schedule must be callable as schedule(step). Received: {name!r}={schedule!r}"
            )
    steps = np.arange(steps) if np.ndim(steps) == 0 else np.asarray(steps)
    fig, (axis,) = _axes_list(ax, 1, figsize=(6, 3.5))
    for name, schedule in schedules.items():
        rates = [float(schedule(int(step))) for step in steps]
        axis.plot(steps, rates, label=name)
    axis.set_xlabel("step")
    axis.set_ylabel("learning rate")
    axis.legend()
    return fig


# ---------------------------------------------------------------- hyperparameter search


def _trials_list(trials):
    trials = getattr(trials, "trials", trials)
    if isinstance(trials, Mapping) or not isinstance(trials, Sequence) or not all(
        isinstance(trial, Mapping) for trial in trials
    ):
        raise TypeError(
            "`trials` must be a list of dicts with 'hyperparameters' and 'score' (or a tuner "
            f"with such a `trials` list). Received: {type(trials).__name__}"
        )
    if len(trials) == 0:
        raise ValueError("`trials` must hold at least one trial. Received: an empty list")
    return list(trials)


def _score(trial):
    score = trial.get("score")
    return np.nan if score is None else float(score)


def _direction(trials, direction):
    if direction is None:
        objective = getattr(trials, "objective", None)
        direction = getattr(objective, "direction", None) or getattr(trials, "direction", None) or "min"
    if direction not in ("min", "max"):
        raise ValueError(f"`direction` must be 'min' or 'max'. Received: direction={direction!r}")
    return direction


def plot_search_results(trials, ax=None, direction=None):
    """Score of every trial, in order, with the best score found so far.

    Parameters
    ----------
    trials : list of dict or tuner
        Each with a ``score`` (None or NaN for a failed trial is skipped).
    ax : Axes, optional
        Where to draw; a new figure if None.
    direction : {'min', 'max'}, optional
        Whether lower or higher scores are better. Default: the tuner's
        ``objective.direction`` if ``trials`` is a tuner, else 'min' (a loss).

    Returns
    -------
    matplotlib.figure.Figure
        The scores as points and the running best as a step line.
    """
    direction = _direction(trials, direction)
    scores = np.array([_score(trial) for trial in _trials_list(trials)])
    numbers = np.arange(1, len(scores) + 1)
    accumulate = np.fmin.accumulate if direction == "min" else np.fmax.accumulate
    best = accumulate(scores)
    fig, (axis,) = _axes_list(ax, 1, figsize=(6, 3.5))
    axis.plot(numbers, scores, "o", label="trial score")
    axis.plot(numbers, best, drawstyle="steps-post", label="best so far")
    axis.set_xlabel("trial")
    axis.set_ylabel(f"score ({'lower' if direction == 'min' else 'higher'} is better)")
    from matplotlib.ticker import MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend()
    return fig


def _trial_values(trials, name):
    if name == "score":
        return [_score(trial) for trial in trials]
    values = []
    for trial in trials:
        hyperparameters = trial.get("hyperparameters", {})
        if name not in hyperparameters:
            raise ValueError(
                f"Every trial must have the hyperparameter {name!r} (or use 'score'); "
                f"trial {trial.get('trial_id')!r} has {sorted(hyperparameters)}."
            )
        values.append(hyperparameters[name])
    return values


def _place(axis_obj, set_scale, values, scale):
    """Numbers to plot for ``values``: categories become positions 0, 1, ... with tick labels."""
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        numeric = np.asarray(values, dtype=np.float64)
        if scale == "auto":
            positive = numeric[np.isfinite(numeric)]
            wide = positive.size and positive.min() > 0 and positive.max() / positive.min() >= 100
            scale = "log" if wide else "linear"
        set_scale(scale)
        return numeric
    categories = list(dict.fromkeys(values))
    axis_obj.set_ticks(range(len(categories)), [str(c) for c in categories])
    return np.array([categories.index(v) for v in values], dtype=np.float64)


def plot_hyperparameter_scatter(trials, x, y, ax=None, xscale="auto", yscale="auto", cmap="viridis"):
    """Trials as points in the plane of two hyperparameters, coloured by score.

    Parameters
    ----------
    trials : list of dict or tuner
        Each with ``hyperparameters`` (a dict) and ``score``.
    x, y : str
        Hyperparameter names (or ``'score'``). Categorical values (strings,
        booleans) are placed at 0, 1, ... with their values as tick labels.
    ax : Axes, optional
        Where to draw; a new figure if None.
    xscale, yscale : {'auto', 'linear', 'log'}, default='auto'
        'auto' picks log when positive values span two decades or more (e.g. a
        learning rate drawn with ``sampling='log'``).
    cmap : str, default="viridis"
        Colour map of the scores.

    Returns
    -------
    matplotlib.figure.Figure
        One scatter collection and a colour bar labelled 'score'.
    """
    for name, scale in (("xscale", xscale), ("yscale", yscale)):
        if scale not in ("auto", "linear", "log"):
            raise ValueError(f"`{name}` must be 'auto', 'linear' or 'log'. Received: {name}={scale!r}")
    trials = _trials_list(trials)
    fig, (axis,) = _axes_list(ax, 1, figsize=(5.5, 4.5))
    xs = _place(axis.xaxis, axis.set_xscale, _trial_values(trials, x), xscale)
    ys = _place(axis.yaxis, axis.set_yscale, _trial_values(trials, y), yscale)
    scores = np.array([_score(trial) for trial in trials])
    points = axis.scatter(xs, ys, c=scores, cmap=cmap, s=45, edgecolors="black", linewidths=0.5)
    fig.colorbar(points, ax=axis, label="score")
    axis.set_xlabel(x)
    axis.set_ylabel(y)
    return fig


def plot_gp_1d(gp_or_callable, x_grid, observed_x, observed_y, acquisition=None, ax=None,
               best=None, true_function=None):
    r"""A 1-D Gaussian-process posterior: mean :math:`\pm 2` std, the observations and the acquisition.

    Parameters
    ----------
    gp_or_callable : object or callable
        A GP with ``predict(X, return_std=True) -> (mean, std)`` for ``X`` of shape
        ``(n, 1)``, or a callable ``f(x_grid) -> (mean, std)``.
    x_grid : array-like of shape (n,)
        Where to draw the posterior.
    observed_x, observed_y : array-like of shape (k,)
        The points evaluated so far.
    acquisition : callable or array-like, optional
        Values on ``x_grid`` or a callable ``acquisition(mean, std, best)``, e.g.
        ``functools.partial(expected_improvement, xi=0.01)``. Drawn in a second
        panel below, with its maximum (the next point to try) marked. None: one panel.
    ax : Axes or pair of Axes, optional
        One Axes, or two (posterior, acquisition) when ``acquisition`` is given.
    best : float, optional
        Best observation passed to the acquisition; default ``min(observed_y)``
        (the objective is minimised).
    true_function : callable, optional
        The objective ``f(x_grid)``, drawn dashed for comparison.

    Returns
    -------
    matplotlib.figure.Figure
    """
    x_grid = np.asarray(x_grid, dtype=np.float64).ravel()
    observed_x = np.asarray(observed_x, dtype=np.float64).ravel()
    observed_y = np.asarray(observed_y, dtype=np.float64).ravel()
    if hasattr(gp_or_callable, "predict"):
        mean, std = gp_or_callable.predict(x_grid.reshape(-1, 1), return_std=True)
    elif callable(gp_or_callable):
        mean, std = gp_or_callable(x_grid)
    else:
        raise TypeError(
            "`gp_or_callable` must have predict(X, return_std=True) or be callable as f(x) -> (mean, std). "
            f"Received: {type(gp_or_callable).__name__}"
        )
    mean, std = np.asarray(mean, dtype=np.float64).ravel(), np.asarray(std, dtype=np.float64).ravel()
    n_panels = 1 if acquisition is None else 2
    if ax is None:
        plt = _pyplot()
        fig, axes = plt.subplots(n_panels, 1, sharex=True, squeeze=False, layout="constrained",
                                 figsize=(6, 3 + 1.8 * (n_panels - 1)),
                                 gridspec_kw={"height_ratios": [2, 1][:n_panels]})
        axes = list(axes.ravel())
    else:
        fig, axes = _axes_list(ax, n_panels, figsize=None)
    top = axes[0]
    if true_function is not None:
        top.plot(x_grid, np.asarray(true_function(x_grid), dtype=np.float64).ravel(), "k--",
                 linewidth=1, label="objective")
    top.plot(x_grid, mean, label="posterior mean")
    top.fill_between(x_grid, mean - 2 * std, mean + 2 * std, alpha=0.25, label=r"mean $\pm$ 2 std")
    top.scatter(observed_x, observed_y, color="black", zorder=3, label="observations")
    top.set_ylabel("objective")
    top.legend(fontsize="small")
    if acquisition is not None:
        if callable(acquisition):
            values = acquisition(mean, std, float(np.min(observed_y)) if best is None else best)
        else:
            values = acquisition
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.shape != x_grid.shape:
            raise ValueError(
                f"`acquisition` must give one value per point of `x_grid` ({x_grid.size}). "
                f"Received: {values.size} values"
            )
        bottom = axes[1]
        bottom.plot(x_grid, values, color="tab:green", label="acquisition")
        bottom.axvline(x_grid[np.argmax(values)], color="tab:red", linestyle=":", label="next point")
        bottom.set_ylabel("acquisition")
        bottom.legend(fontsize="small")
    axes[-1].set_xlabel("$x$")
    return fig


# ---------------------------------------------------------------- losses


def _resolve_loss(identifier):
    if isinstance(identifier, str):
        from gdlib import losses

        return identifier, losses.get(identifier)
    if not callable(identifier):
        raise TypeError(
            f"A loss must be a name or a callable loss(y_true, y_pred). Received: {identifier!r}"
        )
    name = getattr(identifier, "name", None)
    if not isinstance(name, str):
        name = getattr(identifier, "__name__", type(identifier).__name__)
    return name, identifier


def plot_loss(loss_fn_or_name, y_true, y_pred_range, ax=None, num=201):
    r"""A loss of one prediction against the prediction, with its gradient.

    Parameters
    ----------
    loss_fn_or_name : str, callable, or list/dict of them
        A loss name (``'mse'``, ``'huber'``, ``'binary_crossentropy'`` ...), a loss
        object or function ``loss(y_true, y_pred)``; several to compare.
    y_true : float
        The target.
    y_pred_range : (low, high) tuple or array-like
        Predictions to evaluate at: ``num`` evenly spaced points, or these values.
    ax : Axes, optional
        Where to draw; a new figure if None.
    num : int, default=201
        Number of points when ``y_pred_range`` is a ``(low, high)`` tuple.

    Returns
    -------
    matplotlib.figure.Figure
        For each loss a solid line (the loss, labelled with its name) and a dashed one
        of the same colour (``'<name> gradient'``).

    Notes
    -----
    Each point is a batch of one, so the value is :math:`L(y, \hat y)` and the gradient
    :math:`\partial L / \partial \hat y` for that single sample. The gradient is the loss's
    own ``gradient(y_true, y_pred)`` when it has one; otherwise a central difference of
    the plotted values (``np.gradient``).
    """
    if isinstance(loss_fn_or_name, Mapping):
        named = [(str(name), _resolve_loss(loss)[1]) for name, loss in loss_fn_or_name.items()]
    elif isinstance(loss_fn_or_name, (list, tuple)):
        named = [_resolve_loss(loss) for loss in loss_fn_or_name]
    else:
        named = [_resolve_loss(loss_fn_or_name)]
    if isinstance(y_pred_range, tuple) and len(y_pred_range) == 2:
        y_pred = np.linspace(y_pred_range[0], y_pred_range[1], num)
    else:
        y_pred = np.asarray(y_pred_range, dtype=np.float64).ravel()
    target = np.array([[y_true]], dtype=np.float32)
    fig, (axis,) = _axes_list(ax, 1, figsize=(6, 4))
    for name, loss in named:
        values, gradients = [], []
        analytic = hasattr(loss, "gradient")
        for p in y_pred:
            prediction = np.array([[p]], dtype=np.float32)
            values.append(float(np.mean(loss(target, prediction))))
            if analytic:
                try:
                    gradients.append(float(np.ravel(loss.gradient(target, prediction))[0]))
                except NotImplementedError:  # e.g. a wrapped plain function
                    analytic = False
        values = np.array(values)
        gradients = np.array(gradients) if analytic else np.gradient(values, y_pred)
        (line,) = axis.plot(y_pred, values, label=name)
        axis.plot(y_pred, gradients, "--", color=line.get_color(), label=f"{name} gradient")
    axis.axhline(0.0, color="gray", linewidth=0.6)
    axis.axvline(float(y_true), color="gray", linewidth=0.6, linestyle=":")
    axis.set_xlabel(r"prediction $\hat y$" + f" (target $y = {y_true:g}$)")
    axis.set_ylabel(r"loss and $\partial L / \partial \hat y$")
    axis.legend()
    return fig


# ---------------------------------------------------------------- digits


def plot_digits(images, labels=None, predictions=None, n_cols=10, max_images=100, axes=None, cmap="gray_r"):
    """A grid of small images, titled with their labels (and predictions).

    Parameters
    ----------
    images : array-like of shape (n, h, w) or (n, h * w) with a square h * w
        E.g. ``x_test`` from :func:`gdlib.datasets.load_digits` (64 pixels -> 8x8).
    labels : array-like of shape (n,), optional
        True labels, shown as titles.
    predictions : array-like of shape (n,) or (n, classes), optional
        Predicted labels, or probabilities (their argmax is used). Titles then read
        ``'3 → 8'`` (true → predicted), red where they differ.
    n_cols : int, default=10
        Images per row.
    max_images : int, default=100
        At most this many images (the first ones) are drawn.
    axes : array of Axes, optional
        At least as many Axes as images drawn; new ones if None.
    cmap : str, default="gray_r"
        Colour map (dark ink on white).

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images)[:max_images]
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(
                "`images` must have shape (n, h, w) or (n, h * w) with a square h * w. "
                f"Received: images with shape {images.shape}"
            )
        images = images.reshape(len(images), side, side)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"`images` must have shape (n, h, w). Received: images with shape {images.shape}")
    n = len(images)
    if predictions is not None:
        predictions = np.asarray(predictions)[:max_images]
        if predictions.ndim == 2:
            predictions = np.argmax(predictions, axis=1)
    if labels is not None:
        labels = np.asarray(labels)[:max_images]
    if axes is None:
        plt = _pyplot()
        n_rows = -(-n // n_cols)
        cols = min(n, n_cols)
        fig, grid = plt.subplots(n_rows, cols, figsize=(1.1 * cols, 1.3 * n_rows), squeeze=False,
                                 layout="constrained")
        axes = list(grid.ravel())
    else:
        axes = list(np.ravel(axes))
        if len(axes) < n:
            raise ValueError(f"`axes` must hold at least {n} Axes. Received: {len(axes)} Axes")
        fig = _figure_of(axes[0])
    for i, axis in enumerate(axes):
        axis.set_axis_off()
        if i >= n:
            continue
        axis.imshow(images[i], cmap=cmap, interpolation="nearest")
        if predictions is not None and labels is not None:
            wrong = predictions[i] != labels[i]
            axis.set_title(f"{labels[i]} → {predictions[i]}", color="red" if wrong else "black", fontsize=9)
        elif predictions is not None:
            axis.set_title(f"pred {predictions[i]}", fontsize=9)
        elif labels is not None:
            axis.set_title(str(labels[i]), fontsize=9)
    return fig
