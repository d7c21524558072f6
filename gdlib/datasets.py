r"""Small data sets for the chapters, all available offline.

``load_digits`` returns the UCI handwritten digits (1797 images of 8x8 pixels),
which gdlib ships in ``gdlib/data/digits.npz`` (45 KB, CC BY 4.0; see
``DIGITS-LICENSE.md`` there): nothing is downloaded and nothing beyond NumPy is
needed. The synthetic sets are plain NumPy too:

* :func:`make_moons` — two interleaving half circles, the classic set a linear
  model cannot separate;
* :func:`make_spirals` — ``n_classes`` arms of a spiral (CS231n's toy set);
* :func:`make_blobs` — Gaussian clusters, an easy classification set;
* :func:`make_linear_regression` — a noisy linear target with the true weights
  and bias returned, so a fit can be compared with the truth;
* :func:`make_random_labels` — random inputs with random labels: there is no
  rule to learn, so high training accuracy can only come from memorisation.

Every function takes a ``seed`` and draws from ``np.random.default_rng(seed)``;
the global NumPy seed is never touched. Inputs are float32 (Keras's floatx) and
class labels int64.
"""

import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "load_digits",
    "make_moons",
    "make_spirals",
    "make_blobs",
    "make_linear_regression",
    "make_random_labels",
    "LinearRegressionData",
]

_DIGITS_FILE = Path(__file__).resolve().parent / "data" / "digits.npz"


def _check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )


def _check_non_negative(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value >= 0:
        raise ValueError(f"`{name}` must be a number >= 0. Received: {name}={value!r}")


def load_digits(test_size=0.2, seed=0, return_images=False):
    r"""Load the UCI handwritten digits that gdlib ships, scaled to [0, 1] and split.

    Parameters
    ----------
    test_size : float or int, default=0.2
        Fraction (float in (0, 1)) or number (int) of samples held out for testing.
    seed : int, default=0
        Seed of the shuffle before the split.
    return_images : bool, default=False
        If True, inputs have shape ``(n, 8, 8)`` (for plotting) instead of ``(n, 64)``.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x``: float32 of shape ``(n, 64)`` (or ``(n, 8, 8)``), values in [0, 1];
        ``y``: int64 of shape ``(n,)``, digits 0-9.

    Notes
    -----
    Pixel values are counts in 0..16, so

    .. math::

        x = \frac{\text{pixels}}{16}.

    The images are scikit-learn's ``load_digits()`` in the same order, and the
    split is exactly ``sklearn.model_selection.train_test_split(X, y,
    test_size=test_size, random_state=seed)``, computed here in NumPy
    (``_train_test_indices``): every chapter and the benchmark see the same 1437
    training and 360 test images (``test_size=0.2``), with or without
    scikit-learn installed.

    Raises
    ------
    ValueError
        If ``test_size`` would leave one side of the split empty.
    """
    pixels, target = _digits_data()
    x = (pixels / 16.0).astype(np.float32)
    y = target.astype(np.int64)
    train, test = _train_test_indices(len(y), test_size, seed)
    x_train, x_test, y_train, y_test = x[train], x[test], y[train], y[test]
    if return_images:
        x_train = x_train.reshape(-1, 8, 8)
        x_test = x_test.reshape(-1, 8, 8)
    return (x_train, y_train), (x_test, y_test)


@functools.lru_cache(maxsize=1)
def _digits_data():
    """``(pixels, target)`` from ``gdlib/data/digits.npz``, cached and read-only.

    ``pixels`` is float64 of shape (1797, 64) with counts 0..16, ``target`` int64.
    """
    try:
        with np.load(_DIGITS_FILE, allow_pickle=False) as data:
            pixels = data["pixels"].astype(np.float64)
            target = data["target"].astype(np.int64)
    except (OSError, KeyError, ValueError) as err:
        raise OSError(f"gdlib's copy of the digits ({_DIGITS_FILE}) is missing or damaged "
                      f"({err}); reinstall gdlib (pip install --force-reinstall -e .)") from err
    pixels.flags.writeable = False
    target.flags.writeable = False
    return pixels, target


def _train_test_indices(n_samples, test_size, seed):
    """The indices ``train_test_split(..., test_size, random_state=seed)`` selects.

    scikit-learn's rule (``ShuffleSplit``): ``n_test = ceil(test_size * n)``
    for a fraction (or ``test_size`` itself for an int), one permutation from
    ``np.random.RandomState(seed)``, its first ``n_test`` entries for testing
    and the rest for training. A test checks it against scikit-learn itself.
    """
    if isinstance(test_size, bool) or not isinstance(test_size, (int, float, np.integer, np.floating)):
        raise ValueError(f"`test_size` must be a fraction in (0, 1) or a number of samples. "
                         f"Received: test_size={test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
    elif 0 < test_size < 1:
        n_test = math.ceil(test_size * n_samples)
    else:
        n_test = -1
    if not 0 < n_test < n_samples:
        raise ValueError(f"`test_size` must leave at least one sample on each side of the split "
                         f"({n_samples} samples). Received: test_size={test_size!r}")
    permutation = np.random.RandomState(seed).permutation(n_samples)
    return permutation[n_test:], permutation[:n_test]


def make_moons(n_samples=200, noise=0.1, seed=0, shuffle=True):
    r"""Two interleaving half circles: a set no straight line can separate.

    Parameters
    ----------
    n_samples : int, default=200
        Total number of points; the outer moon gets ``n_samples // 2``.
    noise : float, default=0.1
        Standard deviation of Gaussian noise added to each coordinate.
    seed : int, default=0
        Seed of the noise and the shuffle.
    shuffle : bool, default=True
        Shuffle the points (otherwise class 0 comes first).

    Returns
    -------
    x : ndarray of shape (n_samples, 2), float32
    y : ndarray of shape (n_samples,), int64
        0 for the upper (outer) moon, 1 for the lower (inner) one.

    Notes
    -----
    For :math:`t` evenly spaced in :math:`[0, \pi]`, class 0 lies on
    :math:`(\cos t, \sin t)` and class 1 on :math:`(1 - \cos t, \tfrac12 - \sin t)`,
    the same layout as ``sklearn.datasets.make_moons``.
    """
    _check_positive_int("n_samples", n_samples, minimum=2)
    _check_non_negative("noise", noise)
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = np.stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)], axis=1)
    x = np.concatenate([outer, inner])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    if noise > 0:
        x = x + rng.normal(scale=noise, size=x.shape)
    if shuffle:
        order = rng.permutation(n_samples)
        x, y = x[order], y[order]
    return x.astype(np.float32), y


def make_spirals(n_samples=300, n_classes=3, noise=0.2, seed=0, shuffle=True):
    r"""``n_classes`` spiral arms around the origin (CS231n's toy set).

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, shared as evenly as possible between the classes.
    n_classes : int, default=3
        Number of arms (and classes).
    noise : float, default=0.2
        Standard deviation of Gaussian noise on the angle, in radians.
    seed : int, default=0
        Seed of the noise and the shuffle.
    shuffle : bool, default=True
        Shuffle the points (otherwise sorted by class).

    Returns
    -------
    x : ndarray of shape (n_samples, 2), float32, inside the unit disc
    y : ndarray of shape (n_samples,), int64 in ``[0, n_classes)``

    Notes
    -----
    Point :math:`i` of arm :math:`k` has radius :math:`r` evenly spaced in
    :math:`[0, 1]` and angle :math:`\theta = 4r + \frac{2\pi k}{K} + \varepsilon`
    with :math:`\varepsilon \sim \mathcal N(0, \text{noise}^2)`; its position is
    :math:`(r \sin\theta, r \cos\theta)`.
    """
    _check_positive_int("n_samples", n_samples)
    _check_positive_int("n_classes", n_classes)
    _check_non_negative("noise", noise)
    rng = np.random.default_rng(seed)
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    xs, ys = [], []
    for k, n in enumerate(counts):
        r = np.linspace(0.0, 1.0, n)
        theta = 4.0 * r + 2.0 * np.pi * k / n_classes + rng.normal(scale=noise, size=n)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(n, k, dtype=np.int64))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if shuffle:
        order = rng.permutation(n_samples)
        x, y = x[order], y[order]
    return x.astype(np.float32), y


def make_blobs(n_samples=300, n_features=2, centers=3, cluster_std=1.0, center_box=(-10.0, 10.0), seed=0):
    r"""Gaussian clusters around random centres: an easy classification set.

    Parameters
    ----------
    n_samples : int, default=300
        Total number of points, shared as evenly as possible between the clusters.
    n_features : int, default=2
        Dimension of each point.
    centers : int or array-like of shape (n_centers, n_features), default=3
        Number of clusters (centres drawn uniformly in ``center_box``) or the centres.
    cluster_std : float, default=1.0
        Standard deviation of every cluster.
    center_box : tuple of float, default=(-10.0, 10.0)
        Range of the random centres.
    seed : int, default=0
        Seed of the centres, the points and the shuffle.

    Returns
    -------
    x : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64, the index of each point's cluster
    """
    _check_positive_int("n_samples", n_samples)
    _check_non_negative("cluster_std", cluster_std)
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        _check_positive_int("n_features", n_features)
        _check_positive_int("centers", centers)
        centers = rng.uniform(center_box[0], center_box[1], size=(centers, n_features))
    else:
        centers = np.asarray(centers, dtype=np.float64)
        if centers.ndim != 2:
            raise ValueError(
                "`centers` must be an int or an array of shape (n_centers, n_features). "
                f"Received: centers with shape {centers.shape}"
            )
    n_centers = len(centers)
    counts = np.full(n_centers, n_samples // n_centers)
    counts[: n_samples % n_centers] += 1
    y = np.repeat(np.arange(n_centers, dtype=np.int64), counts)
    x = centers[y] + rng.normal(scale=cluster_std, size=(n_samples, centers.shape[1]))
    order = rng.permutation(n_samples)
    return x[order].astype(np.float32), y[order]


class LinearRegressionData(NamedTuple):
    """What :func:`make_linear_regression` returns; unpacks as ``x, y, weights, bias``."""

    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    bias: float


def make_linear_regression(n_samples=100, n_features=1, noise=0.1, seed=0, bias=None):
    r"""A noisy linear target, returned with the weights and bias that made it.

    Parameters
    ----------
    n_samples : int, default=100
        Number of points.
    n_features : int, default=1
        Number of input features.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the target.
    seed : int, default=0
        Seed of the inputs, the true weights and the noise.
    bias : float, optional
        The true bias; drawn from :math:`\mathcal N(0, 1)` when None.

    Returns
    -------
    LinearRegressionData
        A named tuple ``(x, y, weights, bias)``: ``x`` float32 of shape
        ``(n_samples, n_features)`` drawn from :math:`\mathcal N(0, 1)`, ``y`` float32
        of shape ``(n_samples,)``, ``weights`` float32 of shape ``(n_features,)`` and
        ``bias`` a float, so that ``x @ weights + bias`` has the shape of ``y``.
        (Keras and gdlib losses accept ``y`` of shape ``(n,)`` against a ``Dense(1)``
        output of shape ``(n, 1)``; in NumPy code of your own, keep the shapes equal,
        or ``y_pred - y`` broadcasts to ``(n, n)``.)

    Notes
    -----
    .. math::

        y = x w + b + \varepsilon, \qquad \varepsilon \sim \mathcal N(0, \text{noise}^2),

    with :math:`w \sim \mathcal N(0, 1)` per feature. With ``noise=0`` the least-squares
    fit recovers ``weights`` and ``bias`` exactly (up to float32 rounding).
    """
    _check_positive_int("n_samples", n_samples)
    _check_positive_int("n_features", n_features)
    _check_non_negative("noise", noise)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_samples, n_features))
    w = rng.normal(size=n_features)
    b = float(rng.normal()) if bias is None else float(bias)
    y = x @ w + b
    if noise > 0:
        y = y + rng.normal(scale=noise, size=n_samples)
    return LinearRegressionData(
        x.astype(np.float32),
        y.astype(np.float32),
        w.astype(np.float32),
        b,
    )


def make_random_labels(n_samples=1000, n_features=20, n_classes=10, seed=0):
    r"""Random inputs with labels drawn independently of them.

    There is no relation between ``x`` and ``y`` to learn: a model can reach high
    training accuracy only by memorising each sample, and on held-out data it can
    do no better than chance, :math:`1 / \text{n\_classes}`. This is the set of the
    "deep networks fit random labels" experiment (Zhang et al., 2017).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of samples.
    n_features : int, default=20
        Number of input features, each drawn from :math:`\mathcal N(0, 1)`.
    n_classes : int, default=10
        Number of classes; labels are uniform on ``[0, n_classes)``.
    seed : int, default=0
        Seed of the inputs and the labels.

    Returns
    -------
    x : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64
    """
    _check_positive_int("n_samples", n_samples)
    _check_positive_int("n_features", n_features)
    _check_positive_int("n_classes", n_classes, minimum=2)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_samples, n_features)).astype(np.float32)
    y = rng.integers(0, n_classes, size=n_samples, dtype=np.int64)
    return x, y
