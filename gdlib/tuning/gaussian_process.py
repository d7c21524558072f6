r"""A Gaussian-process surrogate and the expected-improvement acquisition, in NumPy.

Bayesian optimisation models the objective :math:`f(x)` of a search with a
Gaussian process: given the scores :math:`y` of the trials run so far at the
points :math:`X` (hyperparameters mapped to the unit cube), the posterior at a
new point is a normal distribution with mean :math:`\mu(x)` and standard
deviation :math:`\sigma(x)`. The next trial is the point where the *expected
improvement* over the best score is largest.

Everything here is float64 and small: a search has tens of trials, so the
:math:`O(n^3)` Cholesky factorisation is cheap.
"""

import math

import numpy as np

_SQRT5 = math.sqrt(5.0)
_erf = np.vectorize(math.erf, otypes=[float])


def matern52(X1, X2, length_scales, signal_variance=1.0):
    r"""The Matérn 5/2 kernel with one length scale per dimension.

    Parameters
    ----------
    X1 : ndarray, shape (n, d)
    X2 : ndarray, shape (m, d)
    length_scales : ndarray, shape (d,)
        :math:`\ell_j`, how far apart two points must be along dimension
        :math:`j` before their scores stop being related.
    signal_variance : float
        :math:`s`, the prior variance of :math:`f`.

    Returns
    -------
    ndarray, shape (n, m)

    Notes
    -----
    .. math::

        r = \sqrt{\sum_j (x_j - x'_j)^2 / \ell_j^2}, \qquad
        k(x, x') = s \left(1 + \sqrt{5}\, r + \tfrac{5}{3} r^2\right) e^{-\sqrt{5}\, r}

    Functions drawn from it are twice differentiable: smoother than the
    Matérn 3/2 kernel and less than the squared exponential, which suits loss
    surfaces over hyperparameters.
    """
    diff = (X1[:, None, :] - X2[None, :, :]) / length_scales
    r = np.sqrt(np.sum(diff**2, axis=-1))
    return signal_variance * (1.0 + _SQRT5 * r + 5.0 / 3.0 * r**2) * np.exp(-_SQRT5 * r)


def normal_cdf(z):
    r""":math:`\Phi(z) = \tfrac12 (1 + \operatorname{erf}(z / \sqrt 2))`, elementwise."""
    return 0.5 * (1.0 + _erf(np.asarray(z, dtype=float) / math.sqrt(2.0)))


def normal_pdf(z):
    r""":math:`\varphi(z) = e^{-z^2/2} / \sqrt{2\pi}`, elementwise."""
    z = np.asarray(z, dtype=float)
    return np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)


def expected_improvement(mu, sigma, best, xi=0.01):
    r"""Expected improvement of a normal posterior over the best score (minimisation).

    Parameters
    ----------
    mu : array_like
        Posterior mean :math:`\mu(x)` at the candidate points.
    sigma : array_like
        Posterior standard deviation :math:`\sigma(x)`, same shape, >= 0.
    best : float
        :math:`y^*`, the lowest score seen so far.
    xi : float
        :math:`\xi \ge 0`, an improvement that does not count: larger values
        favour exploring where :math:`\sigma` is large.

    Returns
    -------
    ndarray
        :math:`\mathrm{EI}(x) \ge 0`, same shape as ``mu``.

    Notes
    -----
    With :math:`I = y^* - \mu - \xi` and :math:`z = I / \sigma`,

    .. math::

        \mathrm{EI} = \mathbb{E}\left[\max(y^* - \xi - f(x), 0)\right]
                    = I\,\Phi(z) + \sigma\,\varphi(z),

    and :math:`\mathrm{EI} = \max(I, 0)` where :math:`\sigma = 0`. The first
    term rewards a low mean (exploitation), the second a large uncertainty
    (exploration). To maximise a score, pass :math:`-\mu` and :math:`-y^*`.
    """
    mu = np.asarray(mu, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    if xi < 0:
        raise ValueError(f"`xi` must be >= 0. Received: xi={xi!r}")
    improvement = best - mu - xi
    positive = sigma > 0
    z = np.divide(improvement, sigma, out=np.zeros_like(improvement), where=positive)
    ei = improvement * normal_cdf(z) + sigma * normal_pdf(z)
    return np.where(positive, np.maximum(ei, 0.0), np.maximum(improvement, 0.0))


class GaussianProcess:
    r"""Gaussian-process regression with a Matérn 5/2 kernel whose length scales are fitted.

    Parameters
    ----------
    alpha : float
        Smallest noise variance :math:`\sigma_n^2` (on standardised scores);
        also keeps the Cholesky factorisation stable. Keras Tuner's ``alpha``.
    n_restarts : int
        Number of starting points when the kernel hyperparameters are fitted:
        the previous fit (or the defaults) plus ``n_restarts - 1`` random ones.
    n_steps : int
        Adam steps per start.
    seed : int or None
        Seed of the random restarts.

    Attributes
    ----------
    length_scales : ndarray, shape (d,)
    signal_variance : float
    noise_variance : float
        The fitted kernel hyperparameters (standardised units).

    Notes
    -----
    The scores are standardised, :math:`\tilde y = (y - m)/s`. With
    :math:`K = k(X, X) + \sigma_n^2 I = L L^\top` and
    :math:`\alpha = K^{-1}\tilde y`, the posterior at :math:`x` is

    .. math::

        \mu(x) = m + s\, k(x, X)\,\alpha, \qquad
        \sigma^2(x) = s^2 \left(k(x, x) - \lVert L^{-1} k(X, x)\rVert^2\right).

    The hyperparameters :math:`\theta = (\log\ell_1, \dots, \log\ell_d, \log s_f, \log\sigma_n^2)`
    maximise the log marginal likelihood

    .. math::

        \log p(\tilde y \mid X, \theta) = -\tfrac12 \tilde y^\top \alpha
            - \sum_i \log L_{ii} - \tfrac n2 \log 2\pi,

    whose gradient is
    :math:`\tfrac12 \operatorname{tr}\big((\alpha\alpha^\top - K^{-1})\,\partial K/\partial\theta_j\big)`.
    They are fitted with Adam on :math:`\theta`, kept inside bounds
    (:math:`\ell \in [10^{-2}, 10]` on the unit cube), from a few starts.
    """

    LENGTH_SCALE_BOUNDS = (1e-2, 10.0)
    SIGNAL_VARIANCE_BOUNDS = (1e-2, 1e2)
    NOISE_VARIANCE_MAX = 1.0

    def __init__(self, alpha=1e-4, n_restarts=2, n_steps=40, seed=None):
        if not alpha > 0:
            raise ValueError(f"`alpha` must be > 0. Received: alpha={alpha!r}")
        self.alpha = float(alpha)
        self.n_restarts = int(n_restarts)
        self.n_steps = int(n_steps)
        self._rng = np.random.default_rng(seed)
        self.length_scales = None
        self.signal_variance = 1.0
        self.noise_variance = self.alpha

    # -- the likelihood and its gradient -------------------------------------------------------
    def _bounds(self, d):
        low = np.r_[np.full(d, np.log(self.LENGTH_SCALE_BOUNDS[0])), np.log(self.SIGNAL_VARIANCE_BOUNDS[0]),
                    np.log(self.alpha)]
        high = np.r_[np.full(d, np.log(self.LENGTH_SCALE_BOUNDS[1])), np.log(self.SIGNAL_VARIANCE_BOUNDS[1]),
                     np.log(max(self.NOISE_VARIANCE_MAX, self.alpha))]
        return low, high

    def negative_log_marginal_likelihood(self, theta, X, y, squared_differences=None):
        """``(-log p(y | X, theta), gradient)`` for standardised scores ``y``.

        ``squared_differences`` (n, n, d), :math:`(x_{ij} - x_{kj})^2`, may be
        passed in to save recomputing it at every step of the fit.
        """
        n, d = X.shape
        if squared_differences is None:
            squared_differences = (X[:, None, :] - X[None, :, :]) ** 2
        inverse_squared_lengths = np.exp(-2.0 * theta[:d])                 # 1 / l_j^2
        signal_variance, noise_variance = np.exp(theta[d]), np.exp(theta[d + 1])
        r = np.sqrt(squared_differences @ inverse_squared_lengths)         # (n, n)
        decay = np.exp(-_SQRT5 * r)
        K_f = signal_variance * (1.0 + _SQRT5 * r + 5.0 / 3.0 * r**2) * decay
        K = K_f + noise_variance * np.eye(n)
        try:
            L = np.linalg.cholesky(K)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros_like(theta)
        L_inv = np.linalg.inv(L)
        K_inv = L_inv.T @ L_inv
        alpha = K_inv @ y
        nll = 0.5 * y @ alpha + np.sum(np.log(np.diag(L))) + 0.5 * n * np.log(2.0 * np.pi)
        inner = np.outer(alpha, alpha) - K_inv                       # d log p / dK = inner / 2
        # dK/dlog(l_j) = s (5/3) (1 + sqrt5 r) exp(-sqrt5 r) (x_j - x'_j)^2 / l_j^2
        common = signal_variance * 5.0 / 3.0 * (1.0 + _SQRT5 * r) * decay
        grad_length = np.tensordot(inner * common, squared_differences, axes=2) * inverse_squared_lengths
        grad_signal = np.sum(inner * K_f)                            # dK/dlog(s) = K_f
        grad_noise = noise_variance * np.trace(inner)                # dK/dlog(sn2) = sn2 I
        gradient = -0.5 * np.concatenate([grad_length, [grad_signal, grad_noise]])
        return nll, gradient

    def _adam(self, theta, X, y, low, high, learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
        squared_differences = (X[:, None, :] - X[None, :, :]) ** 2
        m = np.zeros_like(theta)
        v = np.zeros_like(theta)
        best_theta, best_nll = theta.copy(), np.inf
        for t in range(1, self.n_steps + 1):
            nll, g = self.negative_log_marginal_likelihood(theta, X, y, squared_differences)
            if nll < best_nll:
                best_theta, best_nll = theta.copy(), nll
            if not np.isfinite(nll):
                break
            m = beta_1 * m + (1 - beta_1) * g
            v = beta_2 * v + (1 - beta_2) * g**2
            m_hat, v_hat = m / (1 - beta_1**t), v / (1 - beta_2**t)
            theta = np.clip(theta - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), low, high)
        nll, _ = self.negative_log_marginal_likelihood(theta, X, y, squared_differences)
        if nll < best_nll:
            best_theta, best_nll = theta, nll
        return best_theta, best_nll

    # -- fit and predict ------------------------------------------------------------------------
    def fit(self, X, y, optimize=True):
        """Condition on scores ``y`` (n,) at points ``X`` (n, d); fit the kernel if ``optimize``.

        With ``optimize=False`` the kernel hyperparameters of the last fit are
        kept (a tuner does this when it adds a "believed" pending point).
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        y = np.asarray(y, dtype=float).ravel()
        if X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise ValueError(f"`X` and `y` must have the same non-zero number of rows. "
                             f"Received: X.shape={X.shape}, y.shape={y.shape}")
        n, d = X.shape
        self.y_mean_ = float(np.mean(y))
        spread = float(np.std(y))
        self.y_std_ = spread if spread > 1e-12 else 1.0
        y_std = (y - self.y_mean_) / self.y_std_
        if self.length_scales is None or len(self.length_scales) != d:
            self.length_scales = np.full(d, 0.3)
        if optimize and n >= 2:
            low, high = self._bounds(d)
            starts = [np.r_[np.log(self.length_scales), np.log(self.signal_variance), np.log(self.noise_variance)]]
            for _ in range(self.n_restarts - 1):
                starts.append(self._rng.uniform(low, high))
            starts[0] = np.clip(starts[0], low, high)
            results = [self._adam(theta, X, y_std, low, high) for theta in starts]
            theta, _ = min(results, key=lambda result: result[1])
            self.length_scales = np.exp(theta[:d])
            self.signal_variance, self.noise_variance = float(np.exp(theta[d])), float(np.exp(theta[d + 1]))
        K = matern52(X, X, self.length_scales, self.signal_variance) + self.noise_variance * np.eye(n)
        jitter = 0.0
        while True:
            try:
                self.L_ = np.linalg.cholesky(K + jitter * np.eye(n))
                break
            except np.linalg.LinAlgError:
                jitter = max(10 * jitter, 1e-10)
        self.X_ = X
        self.y_standardised_ = y_std
        self.alpha_ = np.linalg.solve(self.L_.T, np.linalg.solve(self.L_, y_std))
        return self

    def predict(self, X, return_std=False):
        """Posterior mean (and standard deviation of :math:`f`, without noise) at ``X`` (m, d)."""
        if not hasattr(self, "X_"):
            raise RuntimeError("Call `fit(X, y)` before `predict`.")
        X = np.atleast_2d(np.asarray(X, dtype=float))
        K_star = matern52(X, self.X_, self.length_scales, self.signal_variance)   # (m, n)
        mean = self.y_mean_ + self.y_std_ * (K_star @ self.alpha_)
        if not return_std:
            return mean
        v = np.linalg.solve(self.L_, K_star.T)
        variance = np.maximum(self.signal_variance - np.sum(v**2, axis=0), 0.0)
        return mean, self.y_std_ * np.sqrt(variance)

    def log_marginal_likelihood(self):
        """Log marginal likelihood of the fitted kernel on the standardised scores."""
        theta = np.r_[np.log(self.length_scales), np.log(self.signal_variance), np.log(self.noise_variance)]
        return -self.negative_log_marginal_likelihood(theta, self.X_, self.y_standardised_)[0]
