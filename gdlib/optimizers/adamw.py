r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

from .adam import BETA_1, BETA_2, EPSILON, Adam, adam_update
from .base import _Default, apply_weight_decay

WEIGHT_DECAY = 0.004  # Keras's default, for adamw_update and AdamW


def adamw_update(variable, gradient, m, v, learning_rate, iteration, weight_decay=WEIGHT_DECAY,
                 beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON, v_hat=None):
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

    The class :class:`AdamW` calls this for every variable (with
    :math:`\lambda = 0` for those excluded from weight decay). It is what
    ``Adam(weight_decay=...)`` does too, to the last bit: the base class
    applies :func:`~gdlib.optimizers.base.apply_weight_decay` to every
    variable before the update step. Keras scales the decay by the learning
    rate :math:`\eta` (the paper uses a separate schedule multiplier
    :math:`\eta_t`), so with a schedule the decay follows it.
    """
    w = apply_weight_decay(variable, learning_rate, weight_decay)
    return adam_update(w, gradient, m, v, learning_rate, iteration, beta_1, beta_2, epsilon, v_hat)


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
        weight_decay=WEIGHT_DECAY,
        beta_1=BETA_1,
        beta_2=BETA_2,
        epsilon=EPSILON,
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

    def _apply_weight_decay(self, variables, learning_rate):
        """Nothing before the update step: :func:`adamw_update` decays each variable itself."""

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        weight_decay = self.weight_decay if self._use_weight_decay(variable) else 0.0
        v_hat = self._velocity_hats[i] if self.amsgrad else None
        adamw_update(variable, gradient, self._momentums[i], self._velocities[i], learning_rate,
                     self.iterations, weight_decay, self.beta_1, self.beta_2, self.epsilon, v_hat)
