"""``negative_binomial``: overdispersed counts, ``y ~ NegativeBinomial(mu, alpha)``, ``mu = exp(out)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbnn.likelihoods.base import Likelihood, Outputs, per_point, register
from pbnn.likelihoods.poisson import check_counts


@register
@dataclass(frozen=True)
class NegativeBinomial(Likelihood):
    """Counts with variance ``mu + mu**2 / alpha``; the dispersion ``alpha ~ Gamma(alpha_shape, rate alpha_rate)``.

    The log link gives the mean ``mu = exp(out)`` from one output unit. Large ``alpha`` is Poisson; the
    default ``Gamma(2, 0.1)`` (mean 20) leans that way, as the Student-t ``nu`` prior leans Gaussian.
    A prediction holds ``mu`` (S, N) and ``alpha`` (S,).

    >>> import numpy as np
    >>> NegativeBinomial().moments({"mu": np.array([[2.0]]), "alpha": np.array([4.0])})[1].tolist()
    [[3.0]]
    """

    alpha_shape: float = 2.0
    alpha_rate: float = 0.1
    name = "negative_binomial"
    outputs = ("mu", "alpha")
    hyperparameters = ("alpha",)
    discrete = True

    def check_targets(self, y: np.ndarray, units: int) -> np.ndarray:
        return check_counts(self.name, y)

    def hyperpriors(self):
        import pymc as pm

        return {"alpha": pm.Gamma("alpha", alpha=self.alpha_shape, beta=self.alpha_rate)}

    def link(self, out, hyper):
        import pytensor.tensor as pt

        return {"mu": pt.exp(out[..., 0]), "alpha": hyper["alpha"]}

    def distribution(self, outputs):
        import pymc as pm

        return pm.NegativeBinomial, {"mu": outputs["mu"], "alpha": outputs["alpha"]}

    def _params(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        mu = np.asarray(outputs["mu"], dtype=np.float64)
        return mu, per_point(outputs["alpha"], mu.shape[1])

    def log_likelihood(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        from scipy import stats

        mu, alpha = self._params(outputs)
        return stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))

    def cdf(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        from scipy import stats

        mu, alpha = self._params(outputs)
        return stats.nbinom.cdf(y, alpha, alpha / (alpha + mu))

    def sample(self, outputs: Outputs, rng: np.random.Generator) -> np.ndarray:
        mu, alpha = self._params(outputs)
        return rng.negative_binomial(alpha, alpha / (alpha + mu))

    def moments(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        mu, alpha = self._params(outputs)
        return mu, mu + mu**2 / alpha
