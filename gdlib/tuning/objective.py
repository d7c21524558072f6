"""What a search optimises: a named metric with a direction, or a callable.

``objective="val_loss"`` is minimised and ``objective="val_accuracy"``
maximised: the direction of a metric name is inferred as Keras Tuner does
(strip ``val_`` and ``weighted_``; accuracies, AUC, precision and recall go
up; losses and errors go down). For any other name, say it:
``Objective("f1", direction="max")``.
"""

_MAXIMISED = {
    "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "auc", "precision", "recall",
    "true_positives", "true_negatives", "r2_score", "f1_score", "fbeta_score",
}
_MINIMISED = {
    "loss", "crossentropy", "ce", "mean_squared_error", "mse", "mean_absolute_error", "mae",
    "mean_absolute_percentage_error", "mape", "mean_squared_logarithmic_error", "msle",
    "root_mean_squared_error", "binary_crossentropy", "categorical_crossentropy",
    "sparse_categorical_crossentropy", "huber", "hinge", "squared_hinge", "categorical_hinge",
    "kl_divergence", "kld", "kullback_leibler_divergence", "log_cosh", "logcosh", "poisson",
    "false_positives", "false_negatives",
}


def infer_direction(name):
    """``'min'`` or ``'max'`` for a metric name, or ``None`` when it cannot tell."""
    base = name[len("val_"):] if name.startswith("val_") else name
    base = base[len("weighted_"):] if base.startswith("weighted_") else base
    base = base.lower()
    if base in _MAXIMISED:
        return "max"
    if base in _MINIMISED:
        return "min"
    return None


class Objective:
    """A metric name and whether to minimise or maximise it.

    Parameters
    ----------
    name : str
        The key of the metric in the trial's results (``history.history`` of
        a model, or the dict an objective function returns).
    direction : {'min', 'max'}
    """

    def __init__(self, name, direction):
        if not isinstance(name, str) or not name:
            raise TypeError(f"`name` must be a non-empty string. Received: name={name!r}")
        if direction not in ("min", "max"):
            raise ValueError(f"`direction` must be 'min' or 'max'. Received: direction={direction!r}")
        self.name = name
        self.direction = direction

    def better_than(self, a, b):
        """Whether score ``a`` is better than score ``b``."""
        return a < b if self.direction == "min" else a > b

    def __eq__(self, other):
        return isinstance(other, Objective) and (self.name, self.direction) == (other.name, other.direction)

    def __repr__(self):
        return f"Objective(name={self.name!r}, direction={self.direction!r})"


def get_objective(objective, default="val_loss"):
    """Turn the ``objective`` argument of a tuner into an ``Objective`` or a callable.

    ``None`` gives ``default``; a string gets its direction inferred; an
    ``Objective`` is returned as is; a callable is returned as is (its value
    is minimised). Anything else raises.
    """
    if objective is None:
        objective = default
    if isinstance(objective, Objective) or callable(objective):
        return objective
    if not isinstance(objective, str):
        raise TypeError(
            "`objective` must be a metric name, an Objective or a callable. "
            f"Received: objective={objective!r}"
        )
    direction = infer_direction(objective)
    if direction is None:
        raise ValueError(
            f"Cannot tell whether to minimise or maximise the unknown objective {objective!r}. "
            f"Name a known metric ('val_loss', 'val_accuracy', 'val_mae', ...) or say it: "
            f"Objective({objective!r}, direction='min' or 'max'). Received: objective={objective!r}"
        )
    return Objective(objective, direction)


def direction_of(objective):
    """``'min'`` or ``'max'``: callables are minimised."""
    return objective.direction if isinstance(objective, Objective) else "min"


def name_of(objective):
    """A label for tables: the metric name, or the callable's ``__name__``."""
    if isinstance(objective, Objective):
        return objective.name
    return getattr(objective, "__name__", type(objective).__name__)
