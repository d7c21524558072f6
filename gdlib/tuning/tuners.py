r"""Tuners: run trials, keep the record, report the best (Keras Tuner's API).

Two kinds of search share one code path:

* **A model.** ``hypermodel`` is a build function ``build(hp)`` returning a
  compiled gdlib model; ``search(x, y, epochs=..., validation_data=...)``
  fits one model per trial (``executions_per_trial`` times, averaging the
  objective) and scores it by the best epoch of ``objective`` (default
  ``'val_loss'``), as Keras Tuner does.
* **A plain function.** ``objective_fn(hp)`` returns a number (minimised by
  default) or a dict of numbers (``objective`` names the one to use); then
  ``search()`` takes no data. Useful to watch a search on a 2-D surface whose
  optimum is known::

      def f(hp):
          x, y = hp.Float("x", -5.0, 10.0), hp.Float("y", 0.0, 15.0)
          return branin(x, y)

      tuner = BayesianOptimization(objective_fn=f, max_trials=20, seed=0)
      tuner.search()

Either way a trial is "values in, score out", run by one picklable
:class:`TrialRunner`. Before the first trial the tuner calls the build
function (or ``objective_fn``) once with the default values, in this process,
to learn the search space (pass ``hyperparameters=`` to declare it instead).

**Parallel trials.** ``executor=`` takes any ``concurrent.futures.Executor``:
the tuner asks its oracle for a batch of ``batch_size`` trials (default: the
executor's worker count), submits them and waits for all of them. Grid and
random search then record exactly the trials a serial search records (same
values, same order, same scores). With a ``ProcessPoolExecutor`` the build
function or ``objective_fn`` (and the data) are pickled to the workers, so
they must be defined with ``def`` at the top level of an importable module,
not as a lambda or inside another function; the tuner checks this up front.
"""

import pickle
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ..callbacks import Callback
from .hyperparameters import HyperParameters
from .objective import Objective, get_objective, name_of
from .oracles import BayesianOptimizationOracle, GridSearchOracle, RandomSearchOracle


def _is_number(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def score_of(result, objective, source="objective_fn"):
    """The objective value of one execution's ``result``.

    ``result`` is a number, a dict of numbers, or a dict of per-epoch lists
    (``history.history``; the best epoch counts, as in Keras Tuner). A
    callable ``objective`` is applied to ``result`` as it is.
    """
    if callable(objective) and not isinstance(objective, Objective):
        value = objective(result)
        if not _is_number(value):
            raise TypeError(f"The callable `objective` must return a number. Received: {value!r}")
        return float(value)
    if _is_number(result):
        return float(result)
    if not isinstance(result, dict):
        raise TypeError(f"{source} must return a number or a dict of numbers. "
                        f"Received: {type(result).__name__} {result!r}")
    if objective.name not in result:
        hint = (" Pass `validation_data=` or `validation_split=` to `search` to get 'val_' metrics."
                if objective.name.startswith("val_") else "")
        raise ValueError(f"The objective {objective.name!r} is not among the results of {source}: "
                         f"{sorted(result)}.{hint}")
    value = result[objective.name]
    if isinstance(value, (list, tuple, np.ndarray)):
        values = [float(v) for v in value]
        finite = [v for v in values if np.isfinite(v)]
        if not finite:
            return float("nan")
        return min(finite) if objective.direction == "min" else max(finite)
    if not _is_number(value):
        raise TypeError(f"{source} returned {objective.name}={value!r}; expected a number.")
    return float(value)


def check_model(model):
    """Raise unless ``model`` is a compiled gdlib model."""
    if not (hasattr(model, "fit") and hasattr(model, "get_weights")):
        hint = (" To search a plain function that returns a score, pass it as `objective_fn=`."
                if _is_number(model) else "")
        raise TypeError("The build function must return a compiled gdlib model (e.g. a Sequential). "
                        f"Received: {type(model).__name__} {model!r}.{hint}")
    if not getattr(model, "compiled", False):
        raise TypeError("The build function returned a model that is not compiled. Call "
                        "`model.compile(optimizer=..., loss=...)` before returning it.")


class _BestEpoch(Callback):
    """Keeps a copy of the weights at the best epoch of the objective."""

    def __init__(self, objective):
        super().__init__()
        self.objective = objective
        self.best = None
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.objective.name)
        if value is None or not np.isfinite(value):
            return
        if self.best is None or self.objective.better_than(value, self.best):
            self.best = float(value)
            self.weights = self.model.get_weights()



class HyperModel:
    """A search over a model *and* over how it is trained (Keras Tuner's ``HyperModel``).

    A build function can tune only the model. Subclass ``HyperModel`` to tune
    ``fit`` arguments too, such as the batch size::

        class DigitsModel(HyperModel):
            def build(self, hp):
                ...  # return a compiled model, as a build function would
            def fit(self, hp, model, *args, **kwargs):
                return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32, 64]), **kwargs)

    ``fit`` must return the ``History`` that ``model.fit`` returns.
    """

    def build(self, hp):
        """Return a compiled model for the values in ``hp``."""
        raise NotImplementedError("A HyperModel subclass must define `build(self, hp)`.")

    def fit(self, hp, model, *args, **kwargs):
        """Train ``model``; the default is ``model.fit(*args, **kwargs)``."""
        return model.fit(*args, **kwargs)


class _NoTraining:
    """Stands in for a model while a HyperModel's ``fit`` only registers its hyperparameters."""

    def __init__(self, model):
        self._model = model

    def fit(self, *args, **kwargs):
        return None

    def __getattr__(self, name):
        return getattr(self._model, name)


def build_model(hypermodel, hp):
    """The model of a build function or of a :class:`HyperModel`."""
    if isinstance(hypermodel, HyperModel):
        return hypermodel.build(hp)
    return hypermodel(hp)


class TrialRunner:
    """Runs one trial: ``runner(hp)`` -> dict with the score, the time and the weights.

    It holds everything a trial needs (the build function or objective
    function, the objective, the data and ``fit`` arguments), so an executor
    can send it to another process and call it there.
    """

    def __init__(self, hypermodel=None, objective_fn=None, objective=None, executions_per_trial=1,
                 fit_args=(), fit_kwargs=None):
        self.hypermodel = hypermodel
        self.objective_fn = objective_fn
        self.objective = objective
        self.executions_per_trial = executions_per_trial
        self.fit_args = tuple(fit_args)
        self.fit_kwargs = dict(fit_kwargs or {})

    def build(self, hp):
        model = build_model(self.hypermodel, hp)
        check_model(model)
        return model

    def _fit(self, hp):
        """One execution on a model: (score, weights at the best epoch, input shape)."""
        from ..models import NonFiniteLossError

        model = self.build(hp)
        kwargs = dict(self.fit_kwargs)
        watcher = _BestEpoch(self.objective) if isinstance(self.objective, Objective) else None
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + ([watcher] if watcher else [])
        try:
            if isinstance(self.hypermodel, HyperModel):
                history = self.hypermodel.fit(hp, model, *self.fit_args, **kwargs)
            else:
                history = model.fit(*self.fit_args, **kwargs)
        except NonFiniteLossError:
            return float("nan"), None, None
        score = score_of(history.history, self.objective, source="the model's history")
        weights = watcher.weights if watcher is not None and watcher.weights is not None else model.get_weights()
        return score, weights, model.input_shape

    def __call__(self, hp):
        start = time.perf_counter()
        scores, best = [], None
        for _ in range(self.executions_per_trial):
            if self.objective_fn is not None:
                score, weights, input_shape = score_of(self.objective_fn(hp), self.objective), None, None
            else:
                score, weights, input_shape = self._fit(hp)
            scores.append(score)
            if weights is not None and (best is None or _better(score, best[0], self.objective)):
                best = (score, weights, input_shape)
        return {
            "hyperparameters": hp,
            "score": float(np.mean(scores)),
            "seconds": time.perf_counter() - start,
            "weights": None if best is None else best[1],
            "input_shape": None if best is None else best[2],
        }


def _better(a, b, objective):
    if isinstance(objective, Objective):
        return objective.better_than(a, b)
    return a < b


class Tuner:
    """The search loop every tuner shares (Keras Tuner's ``Tuner``).

    Parameters
    ----------
    oracle : Oracle
        Decides the values of each trial (grid, random, Bayesian).
    hypermodel : callable or None
        ``build(hp)`` returning a compiled gdlib model.
    objective_fn : callable or None
        ``f(hp)`` returning a number or a dict of numbers. Give exactly one of
        ``hypermodel`` and ``objective_fn``.
    executions_per_trial : int
        Independent runs of each trial; their scores are averaged.
    executor : concurrent.futures.Executor or None
        Runs trials in parallel (a ``ProcessPoolExecutor`` here, Dask's or
        Ray's on a cluster). ``None`` runs them one after the other.
    batch_size : int or None
        Trials submitted together; default the executor's worker count
        (``_max_workers`` of the standard pools, ``max_workers`` of Ray's
        ``RayExecutor``, the worker threads of the cluster behind Dask's
        ``Client.get_executor()``) or 1 without executor.

    Attributes
    ----------
    oracle : Oracle
    trials : list of dict
        One dict per finished trial, in order: ``trial_id`` (int),
        ``hyperparameters`` (dict), ``score`` (float; NaN when the trial
        failed), ``seconds`` (float) and ``status`` (``'COMPLETED'``, or
        ``'FAILED'`` when the score is not finite, e.g. a diverged fit).
    """

    def __init__(self, oracle, hypermodel=None, objective_fn=None, executions_per_trial=1, executor=None,
                 batch_size=None):
        if (hypermodel is None) == (objective_fn is None):
            raise ValueError("Give exactly one of `hypermodel` (a build function returning a compiled model) "
                             "and `objective_fn` (a function of `hp` returning a score). "
                             f"Received: hypermodel={hypermodel!r}, objective_fn={objective_fn!r}")
        for argument, value in (("hypermodel", hypermodel), ("objective_fn", objective_fn)):
            if value is not None and not callable(value) and not isinstance(value, HyperModel):
                raise TypeError(f"`{argument}` must be a function of `hp`"
                                + (" or a HyperModel" if argument == "hypermodel" else "")
                                + f". Received: {argument}={value!r}")
        if isinstance(executions_per_trial, bool) or not isinstance(executions_per_trial, int) \
                or executions_per_trial < 1:
            raise ValueError("`executions_per_trial` must be an integer >= 1. "
                             f"Received: executions_per_trial={executions_per_trial!r}")
        if executor is not None and not hasattr(executor, "submit"):
            raise TypeError("`executor` must be a concurrent.futures.Executor (it needs `submit`). "
                            f"Received: executor={executor!r}")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise ValueError(f"`batch_size` must be an integer >= 1. Received: batch_size={batch_size!r}")
        self.oracle = oracle
        self.hypermodel = hypermodel
        self.objective_fn = objective_fn
        self.executions_per_trial = executions_per_trial
        self.executor = executor
        self.batch_size = batch_size
        self._weights = {}
        self._input_shapes = {}
        self._space_known = False

    @property
    def objective(self):
        return self.oracle.objective

    @property
    def trials(self):
        return self.oracle.trials

    def _batch(self):
        if self.executor is None:
            return 1
        workers = getattr(self.executor, "_max_workers", None) or getattr(self.executor, "max_workers", None)
        client = getattr(self.executor, "_client", None)  # dask.distributed's Client.get_executor()
        if workers is None and client is not None and hasattr(client, "nthreads"):
            workers = sum(client.nthreads().values())
        return self.batch_size or workers or 1

    # -- the search ----------------------------------------------------------------------------
    def search(self, *fit_args, verbose=0, **fit_kwargs):
        """Run trials until ``max_trials`` trials are recorded or the oracle has nothing left.

        Parameters
        ----------
        *fit_args, **fit_kwargs
            For a model: the arguments of ``model.fit`` (``x``, ``y``,
            ``epochs``, ``batch_size``, ``validation_data`` or
            ``validation_split``, ``callbacks``, ...). For ``objective_fn``:
            nothing.
        verbose : int
            Passed to ``fit``; with ``verbose >= 1`` a line per trial is printed.

        Returns
        -------
        list of dict
            ``self.trials``. Calling ``search`` again continues the search.
        """
        if self.objective_fn is not None:
            if fit_args or fit_kwargs:
                raise TypeError("`search()` takes no data when searching `objective_fn`. "
                                f"Received: {len(fit_args)} positional and {sorted(fit_kwargs)} keyword arguments")
        else:
            fit_kwargs["verbose"] = verbose
            wants_validation = isinstance(self.objective, Objective) and self.objective.name.startswith("val_")
            has_validation = fit_kwargs.get("validation_data") is not None or fit_kwargs.get("validation_split")
            if wants_validation and not has_validation:
                raise ValueError(f"The objective {self.objective.name!r} needs validation data: pass "
                                 "`validation_data=(x_val, y_val)` or `validation_split=0.2` to `search`.")
        runner = TrialRunner(self.hypermodel, self.objective_fn, self.objective, self.executions_per_trial,
                             fit_args, fit_kwargs)
        self._learn_space(runner)
        if isinstance(self.executor, ProcessPoolExecutor):
            try:
                pickle.dumps(runner)
            except Exception as error:
                what = "objective_fn" if self.objective_fn is not None else "build function (hypermodel)"
                raise TypeError(
                    f"The {what} must be picklable to run on a ProcessPoolExecutor: define it with `def` at "
                    "the top level of a module (not a lambda, not inside another function), and use "
                    f"picklable data. Pickling failed with: {error}"
                ) from error

        batch = self._batch()
        while True:
            remaining = batch if self.oracle.max_trials is None else self.oracle.max_trials - len(self.trials)
            if remaining <= 0:
                break
            proposals = self.oracle.create_trials(min(batch, remaining))
            if not proposals:
                break
            hps = [self.oracle.hyperparameters.copy(values) for values in proposals]
            if self.executor is None:
                results = [runner(hp) for hp in hps]
            else:
                futures = [self.executor.submit(runner, hp) for hp in hps]
                results = [future.result() for future in futures]
            for result in results:
                self._record(result, verbose)
        self.oracle.finish()
        return self.trials

    def _learn_space(self, runner):
        """Call the build function (or objective_fn) once with defaults to register the space."""
        if self._space_known:
            return
        if self.objective_fn is None or not self.oracle.hyperparameters.space:
            hp = self.oracle.hyperparameters.copy()
            if self.objective_fn is None:
                model = runner.build(hp)
                if isinstance(self.hypermodel, HyperModel):
                    # Register the hyperparameters that ``fit`` asks for, without training.
                    self.hypermodel.fit(hp, _NoTraining(model), *runner.fit_args, **runner.fit_kwargs)
            else:
                score_of(self.objective_fn(hp), self.objective)
            self.oracle.update_space(hp)
        self._space_known = True

    def _record(self, result, verbose):
        hp = result["hyperparameters"]
        self.oracle.update_space(hp)
        trial_id = len(self.trials)
        score = result["score"]
        record = {
            "trial_id": trial_id,
            "hyperparameters": dict(hp.values),
            "score": score,
            "seconds": result["seconds"],
            "status": "COMPLETED" if np.isfinite(score) else "FAILED",
        }
        self.oracle.end_trial(record)
        if result["weights"] is not None:
            self._weights[trial_id] = result["weights"]
            self._input_shapes[trial_id] = result["input_shape"]
        if verbose:
            total = self.oracle.max_trials or "?"
            print(f"Trial {trial_id + 1}/{total}: score={score:.6g} ({record['status']}), "
                  f"{record['seconds']:.2f} s, {_format_values(record['hyperparameters'])}")

    # -- results -------------------------------------------------------------------------------
    def get_best_hyperparameters(self, num_trials=1):
        """``HyperParameters`` of the best ``num_trials`` trials, best first."""
        return [self.oracle.hyperparameters.copy(t["hyperparameters"])
                for t in self.oracle.best_trials(num_trials)]

    def get_best_models(self, num_models=1):
        """The best models, rebuilt and given the weights of their best epoch."""
        if self.hypermodel is None:
            raise TypeError("`get_best_models` needs a model search (`hypermodel=`); this tuner searched "
                            "`objective_fn`. Use `get_best_hyperparameters()`.")
        models = []
        for trial in self.oracle.best_trials(num_models):
            model = build_model(self.hypermodel, self.oracle.hyperparameters.copy(trial["hyperparameters"]))
            check_model(model)
            if not model.built:
                model.build(self._input_shapes[trial["trial_id"]])
            model.set_weights(self._weights[trial["trial_id"]])
            models.append(model)
        return models

    def results_summary(self, num_trials=10, print_fn=None):
        """Print the best ``num_trials`` trials as a table: trial, score, seconds, hyperparameters."""
        print_fn = print_fn or print
        best = self.oracle.best_trials(num_trials)
        names = [hp.name for hp in self.oracle.hyperparameters.space]
        objective = self.objective
        label = repr(objective) if isinstance(objective, Objective) else f"{name_of(objective)} (minimised)"
        print_fn(f"Results summary: {type(self).__name__}, {len(best)} best of {len(self.trials)} trials")
        print_fn(f"Objective: {label}")
        header = ["trial", "score", "seconds"] + names
        rows = [[f"{t['trial_id']:02d}", f"{t['score']:.6g}", f"{t['seconds']:.2f} s"]
                + [_format_value(t["hyperparameters"].get(name)) for name in names] for t in best]
        widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
        print_fn("  ".join(h.rjust(w) for h, w in zip(header, widths)))
        print_fn("  ".join("-" * w for w in widths))
        for row in rows:
            print_fn("  ".join(c.rjust(w) for c, w in zip(row, widths)))

    def search_space_summary(self, print_fn=None):
        """Print the search space, one hyperparameter a line."""
        print_fn = print_fn or print
        space = self.oracle.hyperparameters.space
        print_fn(f"Search space summary: {len(space)} hyperparameters")
        for hp in space:
            print_fn(f"  {hp!r}")


def _format_value(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _format_values(values):
    return ", ".join(f"{k}={_format_value(v)}" for k, v in values.items())


class GridSearch(Tuner):
    """Try every combination of the hyperparameters' values (Keras Tuner's ``GridSearch``).

    Parameters
    ----------
    hypermodel : callable or None
        ``build(hp)`` returning a compiled model.
    objective : str, Objective or callable
        Default ``'val_loss'`` for a model and ``'score'`` (minimised) for
        ``objective_fn``.
    max_trials : int or None
        Default ``None``: the whole grid.
    seed : int or None
        Unused by the grid; kept for a common signature.
    hyperparameters : HyperParameters or None
        A space declared up front.
    executions_per_trial, executor, batch_size, objective_fn
        As :class:`Tuner`.
    """

    def __init__(self, hypermodel=None, objective=None, max_trials=None, seed=None, hyperparameters=None,
                 executions_per_trial=1, executor=None, batch_size=None, objective_fn=None):
        objective = _objective(objective, objective_fn)
        super().__init__(GridSearchOracle(objective, max_trials=max_trials, seed=seed,
                                          hyperparameters=hyperparameters),
                         hypermodel=hypermodel, objective_fn=objective_fn,
                         executions_per_trial=executions_per_trial, executor=executor, batch_size=batch_size)


class RandomSearch(Tuner):
    """Draw each trial's values at random (Keras Tuner's ``RandomSearch``).

    Parameters
    ----------
    hypermodel : callable or None
        ``build(hp)`` returning a compiled model.
    objective : str, Objective or callable
        Default ``'val_loss'`` for a model and ``'score'`` (minimised) for
        ``objective_fn``.
    max_trials : int
        Number of trials.
    seed : int or None
        Seed of the draws; the same seed gives the same trials.
    hyperparameters : HyperParameters or None
        A space declared up front.
    executions_per_trial, executor, batch_size, objective_fn
        As :class:`Tuner`.
    """

    def __init__(self, hypermodel=None, objective=None, max_trials=10, seed=None, hyperparameters=None,
                 executions_per_trial=1, executor=None, batch_size=None, objective_fn=None):
        objective = _objective(objective, objective_fn)
        super().__init__(RandomSearchOracle(objective, max_trials=max_trials, seed=seed,
                                            hyperparameters=hyperparameters),
                         hypermodel=hypermodel, objective_fn=objective_fn,
                         executions_per_trial=executions_per_trial, executor=executor, batch_size=batch_size)


class BayesianOptimization(Tuner):
    """Gaussian-process Bayesian optimisation (Keras Tuner's ``BayesianOptimization``).

    The first ``num_initial_points`` trials are random; each later one goes
    where the expected improvement under a Gaussian process fitted to the
    scores so far is largest. See :class:`~gdlib.tuning.oracles.BayesianOptimizationOracle`.

    Parameters
    ----------
    hypermodel : callable or None
        ``build(hp)`` returning a compiled model.
    objective : str, Objective or callable
        Default ``'val_loss'`` for a model and ``'score'`` (minimised) for
        ``objective_fn``.
    max_trials : int
        Number of trials.
    num_initial_points : int or None
        Random trials first; default ``3 * len(space)``.
    alpha : float
        Smallest noise variance of the Gaussian process.
    beta : float
        Exploration weight when ``acquisition='ucb'``.
    seed : int or None
        Seed of the random trials, candidates and kernel-fit restarts.
    hyperparameters : HyperParameters or None
        A space declared up front.
    acquisition : {'ei', 'ucb'}
        Expected improvement (default) or lower confidence bound.
    xi : float
        Exploration margin of expected improvement.
    executions_per_trial, executor, batch_size, objective_fn
        As :class:`Tuner`. With an executor, each batch is proposed by the
        "kriging believer" rule, so a parallel run differs from a serial one.
    """

    def __init__(self, hypermodel=None, objective=None, max_trials=10, num_initial_points=None, alpha=1e-4,
                 beta=2.6, seed=None, hyperparameters=None, acquisition="ei", xi=0.01,
                 executions_per_trial=1, executor=None, batch_size=None, objective_fn=None):
        objective = _objective(objective, objective_fn)
        oracle = BayesianOptimizationOracle(objective, max_trials=max_trials,
                                            num_initial_points=num_initial_points, alpha=alpha, beta=beta,
                                            seed=seed, hyperparameters=hyperparameters,
                                            acquisition=acquisition, xi=xi)
        super().__init__(oracle, hypermodel=hypermodel, objective_fn=objective_fn,
                         executions_per_trial=executions_per_trial, executor=executor, batch_size=batch_size)


def _objective(objective, objective_fn):
    if objective is None and objective_fn is not None:
        return Objective("score", "min")
    return get_objective(objective)


__all__ = ["Tuner", "GridSearch", "RandomSearch", "BayesianOptimization", "TrialRunner", "score_of",
           "HyperParameters"]
