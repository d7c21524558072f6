r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

from .adam import Adam, adam_update
from .base import _Default, apply_weight_decay


def adamw_update(variable, gradient, m, v, learning_rate, iteration, weight_decay=0.004,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-7, v_hat=None):
    r"""One AdamW step on ``variable``, in place: weight decay, then Adam.

    Parameters
    ----------
    variable, gradient, m, v, learning_rate, iteration, beta_1, beta_2, epsilon, v_hat
        As in :func:`~gdlib.optimizers.adam.adam_update`.
    weight_decay : float
        :math:`\lambda`.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    .. math::

        w &\leftarrow w - w\,\lambda\,\eta \\
        w &\leftarrow \operatorname{adam\_update}(w, g, m, v, \eta, t)

    The class :class:`AdamW` gets exactly this through the base class, which
    calls :func:`~gdlib.optimizers.base.apply_weight_decay` on every variable
    and then :func:`~gdlib.optimizers.adam.adam_update`. Keras scales the
    decay by the learning rate :math:`\eta` (the paper uses a separate
    schedule multiplier :math:`\eta_t`), so with a schedule the decay follows
    it.
    """
    apply_weight_decay(variable, learning_rate, weight_decay)
    return adam_update(variable, gradient, m, v, learning_rate, iteration, beta_1, beta_2,
                       epsilon, v_hat)


class AdamW(Adam):
    r"""AdamW, as ``keras.optimizers.AdamW``: Adam whose ``weight_decay`` defaults to 0.004.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.001.
    weight_decay : float
        Decoupled weight decay :math:`\lambda`, required. Defaults to 0.004.
    beta_1, beta_2, epsilon, amsgrad
        As in :class:`~gdlib.optimizers.adam.Adam`.
    clipnorm, clipvalue, global_clipnorm, name
        See :class:`~gdlib.optimizers.base.Optimizer`.
    lr, decay
        Keras 2's legacy keywords, accepted with a ``DeprecationWarning``
        (Keras 3 rejects ``lr`` and ignores ``decay``); see
        :class:`~gdlib.optimizers.base.Optimizer`.

    Notes
    -----
    The rule is :func:`adamw_update`. State per parameter: 2 numbers, 3 with
    amsgrad.
    """

    def __init__(
        self,
        learning_rate=_Default(0.001),
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        *,
        lr=None,
        decay=None,
    ):
        if weight_decay is None:
            raise ValueError(
                "Argument `weight_decay` must be a float. Received: weight_decay=None"
            )
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            lr=lr,
            decay=decay,
        )
