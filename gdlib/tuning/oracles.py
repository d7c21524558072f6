r"""Oracles: which hyperparameter values to try next.

A tuner runs trials; an oracle decides their values. Each oracle keeps the
search space (``hyperparameters``), the record of finished trials
(``trials``) and everything it has proposed (so it does not propose a point
twice), and answers one question, ``create_trials(n)``: the values of up to
``n`` new trials, to be run at the same time. An empty list ends the search.

* :class:`GridSearchOracle` walks the grid of every hyperparameter's values,
  defaults first, the last hyperparameter varying fastest.
* :class:`RandomSearchOracle` draws every value from its sampling
  distribution.
* :class:`BayesianOptimizationOracle` draws ``num_initial_points`` at random,
  then fits a Gaussian process to the scores and proposes the point of
  largest expected improvement; for a batch of ``n`` it pretends each
  proposal already scored the posterior mean (the "kriging believer") and
  proposes again.
"""

import itertools
import math

import numpy as np

from .gaussian_process import GaussianProcess, expected_improvement
from .hyperparameters import HyperParameters
from .objective import direction_of


def _key(values):
    return tuple(sorted((name, repr(value)) for name, value in values.items()))


class Oracle:
    """What every oracle shares: the space, the record and de-duplication.

    Parameters
    ----------
    objective : Objective or callable
        Only its direction is used here.
    max_trials : int or None
        The tuner stops after this many trials (``None``: until the oracle
        has nothing left to propose).
    seed : int or None
        Seed of ``np.random.default_rng`` for every random choice.
    hyperparameters : HyperParameters or None
        A space declared up front (more can be discovered during trials).
    max_collisions : int
        How many duplicate random draws in a row end the search.
    """

    def __init__(self, objective, max_trials=10, seed=None, hyperparameters=None, max_collisions=20):
        if max_trials is not None and (isinstance(max_trials, bool) or not isinstance(max_trials, int)
                                       or max_trials < 1):
            raise ValueError(f"`max_trials` must be an integer >= 1. Received: max_trials={max_trials!r}")
        if hyperparameters is not None and not isinstance(hyperparameters, HyperParameters):
            raise TypeError("`hyperparameters` must be a HyperParameters object. "
                            f"Received: hyperparameters={hyperparameters!r}")
        self.objective = objective
        self.direction = direction_of(objective)
        self.max_trials = max_trials
        self.seed = seed
        self.max_collisions = max_collisions
        self.hyperparameters = hyperparameters.copy() if hyperparameters is not None else HyperParameters()
        self.trials = []
        self._proposed = set()
        self._rng = np.random.default_rng(seed)

    # -- the space -----------------------------------------------------------------------------
    def update_space(self, hyperparameters):
        """Add hyperparameters first seen in a trial to the search space."""
        for hyperparameter in hyperparameters.space:
            self.hyperparameters.register(hyperparameter)

    def encode(self, values):
        """Gaussian-process features of a values dict (1-D) or a list of them (2-D array)."""
        if isinstance(values, dict):
            return np.array(self.hyperparameters.encode(values), dtype=float)
        return np.array([self.hyperparameters.encode(v) for v in values], dtype=float)

    # -- proposals -----------------------------------------------------------------------------
    def _claim(self, values):
        """Record ``values`` as proposed; False if they were proposed before."""
        key = _key(values)
        if key in self._proposed:
            return False
        self._proposed.add(key)
        return True

    def _random_values(self):
        """Random values for the whole space, not proposed before (None after too many collisions)."""
        for _ in range(self.max_collisions + 1):
            values = {hp.name: hp.random_sample(self._rng) for hp in self.hyperparameters.space}
            if self._claim(values):
                return values
        return None

    def create_trials(self, n):
        """Values (dicts) for up to ``n`` new trials; ``[]`` when the search is over."""
        raise NotImplementedError

    # -- results -------------------------------------------------------------------------------
    def end_trial(self, record):
        """Store a finished trial's record (a dict with ``score`` and ``status``)."""
        self.trials.append(record)

    def completed_trials(self):
        return [t for t in self.trials if t["status"] == "COMPLETED"]

    def best_trials(self, num_trials=1):
        """Completed trials, best score first."""
        sign = 1.0 if self.direction == "min" else -1.0
        return sorted(self.completed_trials(), key=lambda t: sign * t["score"])[:num_trials]

    def finish(self):
        """Called by the tuner when a search ends."""


class RandomSearchOracle(Oracle):
    """Every value drawn independently from its hyperparameter's distribution."""

    def create_trials(self, n):
        proposals = []
        for _ in range(n):
            values = self._random_values()
            if values is None:
                break
            proposals.append(values)
        return proposals


class GridSearchOracle(Oracle):
    """Every combination of the hyperparameters' ``values``, in order.

    Each hyperparameter's list starts with its default; a ``Float`` without a
    ``step`` contributes its default and 10 evenly spread values. The last
    hyperparameter varies fastest (like nested ``for`` loops in the order the
    build function asks for them). ``max_trials=None`` runs the whole grid.
    """

    def _axes(self):
        axes = []
        for hp in self.hyperparameters.space:
            values = list(hp.values)
            if hp.default in values:
                values.remove(hp.default)
            axes.append([(hp.name, value) for value in [hp.default] + values])
        return axes

    def grid_size(self):
        return math.prod(len(axis) for axis in self._axes())

    def create_trials(self, n):
        proposals = []
        for combination in itertools.product(*self._axes()):
            if len(proposals) == n:
                break
            values = dict(combination)
            if self._claim(values):
                proposals.append(values)
        return proposals


class BayesianOptimizationOracle(Oracle):
    r"""Gaussian-process Bayesian optimisation with expected improvement.

    Parameters
    ----------
    objective, max_trials, seed, hyperparameters, max_collisions
        As :class:`Oracle`.
    num_initial_points : int or None
        Random trials before the Gaussian process takes over; default
        ``3 * len(space)`` (at least 3), Keras Tuner's choice.
    alpha : float
        Smallest noise variance of the Gaussian process (standardised scores).
    beta : float
        Exploration weight of ``acquisition='ucb'``.
    acquisition : {'ei', 'ucb'}
        Expected improvement (default) or the lower confidence bound
        :math:`\mu - \beta\sigma` (Keras Tuner's choice, for comparison).
    xi : float
        The ``xi`` of :func:`~gdlib.tuning.gaussian_process.expected_improvement`, in units of the standard
        deviation of the scores seen so far.
    num_candidates : int
        Random points scored by the acquisition before local refinement.

    Attributes
    ----------
    gp : GaussianProcess
        The surrogate. After a search it is fitted to every completed trial
        (raw scores, in the objective's own units), so
        ``oracle.gp.predict(oracle.encode(values), return_std=True)`` draws
        the posterior.

    Notes
    -----
    Points live in the unit cube: a ``Float`` or ``Int`` becomes
    :math:`u \in [0, 1]` (after the logarithm for ``sampling='log'``), an
    ordered choice or a boolean the centre of its bucket, an unordered choice
    a one-hot vector. The acquisition is maximised over ``num_candidates``
    random points, then around the 5 best by Gaussian steps of shrinking size
    (0.1, 0.03, 0.01) in the unit coordinates of the hyperparameters.
    """

    def __init__(self, objective, max_trials=10, num_initial_points=None, alpha=1e-4, beta=2.6,
                 seed=None, hyperparameters=None, acquisition="ei", xi=0.01, num_candidates=500,
                 max_collisions=20):
        super().__init__(objective, max_trials=max_trials, seed=seed, hyperparameters=hyperparameters,
                         max_collisions=max_collisions)
        if num_initial_points is not None and (isinstance(num_initial_points, bool)
                                               or not isinstance(num_initial_points, int)
                                               or num_initial_points < 1):
            raise ValueError("`num_initial_points` must be an integer >= 1. "
                             f"Received: num_initial_points={num_initial_points!r}")
        if acquisition not in ("ei", "ucb"):
            raise ValueError(f"`acquisition` must be 'ei' or 'ucb'. Received: acquisition={acquisition!r}")
        if not beta >= 0:
            raise ValueError(f"`beta` must be >= 0. Received: beta={beta!r}")
        if not xi >= 0:
            raise ValueError(f"`xi` must be >= 0. Received: xi={xi!r}")
        self.num_initial_points = num_initial_points
        self.acquisition = acquisition
        self.beta = float(beta)
        self.xi = float(xi)
        self.num_candidates = int(num_candidates)
        self.gp = GaussianProcess(alpha=alpha, seed=None if seed is None else seed + 1)

    def _initial_points(self):
        if self.num_initial_points is not None:
            return self.num_initial_points
        return max(3 * len(self.hyperparameters.space), 3)

    def _observations(self):
        completed = self.completed_trials()
        X = self.encode([t["hyperparameters"] for t in completed]) if completed else np.zeros((0, 0))
        y = np.array([t["score"] for t in completed], dtype=float)
        return X, y

    def acquisition_values(self, X):
        """The acquisition (larger is better) at feature rows ``X`` under the current ``gp``."""
        mu, sigma = self.gp.predict(X, return_std=True)
        sign = 1.0 if self.direction == "min" else -1.0
        scale = self.gp.y_std_
        best = sign * self.best_score_ / scale
        if self.acquisition == "ucb":
            return -(sign * mu / scale - self.beta * sigma / scale)
        return expected_improvement(sign * mu / scale, sigma / scale, best, xi=self.xi)

    def _decode(self, U):
        """Values dicts of the rows of ``U`` (m, number of hyperparameters), unit coordinates."""
        space = self.hyperparameters.space
        return [{hp.name: hp.from_unit(float(u_j)) for hp, u_j in zip(space, u)} for u in U]

    def _features(self, U):
        """``encode(_decode(U))``, computed per hyperparameter on whole columns."""
        space = self.hyperparameters.space
        return np.hstack([hp.features_from_unit(U[:, j]) for j, hp in enumerate(space)])

    def _maximise_acquisition(self):
        """Values of the best not-yet-proposed point found, or None."""
        space = self.hyperparameters.space
        U = self._rng.random((self.num_candidates, len(space)))
        scores = self.acquisition_values(self._features(U))
        order = np.argsort(-scores)[:5]
        U_best, scores_best = U[order], scores[order]
        for step in (0.1, 0.03, 0.01):
            for i in range(len(U_best)):
                U_near = np.clip(U_best[i] + step * self._rng.standard_normal((20, len(space))), 0.0, 1.0 - 1e-9)
                near = self.acquisition_values(self._features(U_near))
                j = int(np.argmax(near))
                if near[j] > scores_best[i]:
                    U_best[i], scores_best[i] = U_near[j], near[j]
        # Best first; skip points proposed before (possible for discrete hyperparameters).
        U_all = np.vstack([U_best[np.argsort(-scores_best)], U[np.argsort(-scores)]])
        for u in U_all:
            values = self._decode(u[None, :])[0]
            if self._claim(values):
                return values
        return None

    def create_trials(self, n):
        X, y = self._observations()
        proposals = []
        believed_X, believed_y = list(X), list(y)
        fitted = False
        for _ in range(n):
            use_model = (len(self._proposed) >= self._initial_points() and len(y) >= 2
                         and X.shape[1] > 0)
            values = None
            if use_model:
                self._fit_gp(np.array(believed_X), np.array(believed_y), optimize=not fitted)
                fitted = True
                values = self._maximise_acquisition()
                if values is not None:
                    x = self.encode(values)
                    believed_X.append(x)
                    believed_y.append(float(self.gp.predict(x[None, :])[0]))
            if values is None:
                values = self._random_values()
            if values is None:
                break
            proposals.append(values)
        return proposals

    def _fit_gp(self, X, y, optimize):
        self.gp.fit(X, y, optimize=optimize)
        #: The best score the acquisition tries to improve on (raw units).
        self.best_score_ = float(np.min(y) if self.direction == "min" else np.max(y))

    def finish(self):
        X, y = self._observations()
        if len(y) >= 1 and X.shape[1] > 0:
            self._fit_gp(X, y, optimize=len(y) >= 2)
