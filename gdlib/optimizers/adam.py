r"""Adam: momentum on the gradient, RMSprop-style scaling, and bias correction."""

import numpy as np

from .base import Optimizer, _Default, _check_bool, _check_number

# Keras's defaults, written once for adam_update and Adam (AdamW takes them from here).
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7


def adam_update(variable, gradient, m, v, learning_rate, iteration, beta_1=BETA_1, beta_2=BETA_2,
                epsilon=EPSILON, v_hat=None):
    r"""One Adam step on ``variable``, in place (Keras 3's rule).

    Parameters
    ----------
    variable : ndarray
        The parameter :math:`w`, updated in place.
    gradient : ndarray
        :math:`g`, same shape; not modified.
    m : ndarray
        :math:`m`, the first moment (moving average of :math:`g`), in place.
    v : ndarray
        :math:`v`, the second moment (moving average of :math:`g^2`), in place.
    learning_rate : float
        :math:`\eta`.
    iteration : int
        Number of updates already made (the optimizer's ``iterations``);
        this is step :math:`t` = ``iteration + 1``.
    beta_1, beta_2 : float
        :math:`\beta_1, \beta_2`.
    epsilon : float
        :math:`\hat\epsilon`.
    v_hat : ndarray or None
        :math:`\hat v`, the running maximum of :math:`v`, for AMSGrad.

    Returns
    -------
    ndarray
        ``variable``, after the step.

    Notes
    -----
    .. math::

        \eta_t &= \eta \, \frac{\sqrt{1 - \beta_2^{\,t}}}{1 - \beta_1^{\,t}} \\
        m &\leftarrow m + (1 - \beta_1)(g - m) \\
        v &\leftarrow v + (1 - \beta_2)(g^2 - v) \\
        \hat v &\leftarrow \max(\hat v, v) \text{ and } v \text{ replaced by } \hat v
            \quad \text{(amsgrad)} \\
        w &\leftarrow w - \frac{\eta_t\, m}{\sqrt{v} + \hat\epsilon}

    Keras folds the bias corrections :math:`1/(1-\beta_1^t)` and
    :math:`1/(1-\beta_2^t)` into the step size :math:`\eta_t`, the
    "efficient version" at the end of Section 2 of Kingma & Ba (2015). It is
    Algorithm 1 except for where epsilon sits: this :math:`\hat\epsilon`
    equals Algorithm 1's :math:`\epsilon\sqrt{1-\beta_2^t}`, so it matters
    most in the first steps. :math:`m + (1-\beta_1)(g-m)` is
    :math:`\beta_1 m + (1-\beta_1) g` rearranged, as Keras (and chapter 4,
    equation ``eq-adam``) writes it; the two round differently in float32.
    """
    w, g = variable, gradient
    t = np.float32(iteration + 1)
    eta_t = np.float32(learning_rate) * np.sqrt(1 - np.float32(beta_2) ** t) / (1 - np.float32(beta_1) ** t)
    # The three lines of the rule, each in place with one temporary array `step` (the
    # one-line forms, `m += (1 - beta_1) * (g - m)` and so on, allocate nine temporaries:
    # this is the hot loop of fit, and they cost a tenth of its time on the digits benchmark).
    step = g - m  # m <- m + (1 - beta_1)(g - m)
    step *= 1 - beta_1
    m += step
    np.square(g, out=step)  # v <- v + (1 - beta_2)(g^2 - v)
    step -= v
    step *= 1 - beta_2
    v += step
    if v_hat is not None:  # v_hat <- max(v_hat, v), used in place of v
        np.maximum(v_hat, v, out=v_hat)
        v = v_hat
    denominator = np.sqrt(v)  # w <- w - eta_t m / (sqrt(v) + epsilon)
    denominator += np.float32(epsilon)
    np.multiply(m, eta_t, out=step)
    step /= denominator
    w -= step
    return w


class Adam(Optimizer):
    r"""Adam, as ``keras.optimizers.Adam``.

    Parameters
    ----------
    learning_rate : float, LearningRateSchedule or callable
        Defaults to 0.001.
    beta_1 : float
        Decay of the first-moment estimate, in [0, 1). Defaults to 0.9.
    beta_2 : float
        Decay of the second-moment estimate, in [0, 1). Defaults to 0.999.
    epsilon : float
        "Epsilon hat" of Kingma & Ba (before Section 2.1), not the epsilon
        of their Algorithm 1. Defaults to 1e-7.
    amsgrad : bool
        Use the AMSGrad variant (Reddi et al., 2018). Defaults to False.
    weight_decay, clipnorm, clipvalue, global_clipnorm, name
        See :class:`~gdlib.optimizers.base.Optimizer`.
    lr, decay
        Keras 2's legacy keywords, accepted with a ``DeprecationWarning``
        (Keras 3 rejects ``lr`` and ignores ``decay``); see
        :class:`~gdlib.optimizers.base.Optimizer`.

    Notes
    -----
    The rule is :func:`adam_update`. State per parameter: 2 numbers, 3 with
    amsgrad.
    """

    def __init__(
        self,
        learning_rate=_Default(0.001),
        beta_1=BETA_1,
        beta_2=BETA_2,
        epsilon=EPSILON,
        amsgrad=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        *,
        lr=None,
        decay=None,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            lr=lr,
            decay=decay,
        )
        self.beta_1 = _check_number("beta_1", beta_1, low=0, high=1, high_open=True)
        self.beta_2 = _check_number("beta_2", beta_2, low=0, high=1, high_open=True)
        self.epsilon = _check_number("epsilon", epsilon, low=0)
        self.amsgrad = _check_bool("amsgrad", amsgrad)

    @property
    def state_values_per_parameter(self):
        return 3 if self.amsgrad else 2

    def build(self, variables):
        super().build(variables)
        self._momentums = self._add_slots(variables)
        self._velocities = self._add_slots(variables)
        self._velocity_hats = self._add_slots(variables) if self.amsgrad else []

    def update_step(self, gradient, variable, learning_rate):
        i = self._get_variable_index(variable)
        v_hat = self._velocity_hats[i] if self.amsgrad else None
        adam_update(variable, gradient, self._momentums[i], self._velocities[i], learning_rate,
                    self.iterations, self.beta_1, self.beta_2, self.epsilon, v_hat)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
            }
        )
        return config
