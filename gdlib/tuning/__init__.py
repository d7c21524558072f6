"""Hyperparameter search with Keras Tuner's API, in NumPy.

    >>> from gdlib import tuning
    >>> def f(hp):
    ...     x = hp.Float("x", -2.0, 2.0)
    ...     y = hp.Float("y", -1.0, 3.0)
    ...     return (x - 1.0) ** 2 + (y - 2.0) ** 2
    >>> tuner = tuning.RandomSearch(objective_fn=f, max_trials=5, seed=0)
    >>> records = tuner.search()
    >>> len(tuner.trials)
    5

* :mod:`~gdlib.tuning.hyperparameters`: the ``hp`` object and the search space;
* :mod:`~gdlib.tuning.oracles`: grid, random and Bayesian proposals;
* :mod:`~gdlib.tuning.gaussian_process`: the surrogate and expected improvement;
* :mod:`~gdlib.tuning.tuners`: the search loop, results and parallel trials.
"""

from .gaussian_process import GaussianProcess, expected_improvement, matern52
from .hyperparameters import Boolean, Choice, Fixed, Float, HyperParameter, HyperParameters, Int
from .objective import Objective, infer_direction
from .oracles import BayesianOptimizationOracle, GridSearchOracle, Oracle, RandomSearchOracle
from .tuners import BayesianOptimization, GridSearch, HyperModel, RandomSearch, Tuner, TrialRunner

__all__ = [
    "BayesianOptimization", "BayesianOptimizationOracle", "Boolean", "Choice", "Fixed", "Float",
    "GaussianProcess", "GridSearch", "GridSearchOracle", "HyperModel", "HyperParameter", "HyperParameters", "Int",
    "Objective", "Oracle", "RandomSearch", "RandomSearchOracle", "TrialRunner", "Tuner",
    "expected_improvement", "infer_direction", "matern52",
]
