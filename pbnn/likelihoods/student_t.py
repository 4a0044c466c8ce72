"""``student_t``: ``y ~ StudentT(nu, mu, sigma)`` for heavy-tailed noise, ``sigma`` and ``nu`` learned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbnn.likelihoods.base import Likelihood, Outputs, per_point, register


@register
@dataclass(frozen=True)
class StudentT(Likelihood):
    """``sigma ~ HalfNormal(noise_scale)`` (standardized units), ``nu ~ Gamma(nu_shape, rate nu_rate)``.

    The default ``Gamma(2, 0.1)`` is Juarez & Steel's (2010) prior: mean 20, so Gaussian-like noise is
    favoured unless outliers say otherwise. A prediction holds ``mu`` (S, N), ``sigma`` and ``nu`` (S,).

    >>> StudentT(nu_shape=3.0).to_value()
    {'name': 'student_t', 'nu_shape': 3.0}
    """

    noise_scale: float = 1.0
    nu_shape: float = 2.0
    nu_rate: float = 0.1
    name = "student_t"
    outputs = ("mu", "sigma", "nu")
    hyperparameters = ("sigma", "nu")
    standardize_targets = True
    location_outputs = ("mu",)
    scale_outputs = ("sigma",)

    def hyperpriors(self):
        import pymc as pm

        return {"sigma": pm.HalfNormal("sigma", self.noise_scale),
                "nu": pm.Gamma("nu", alpha=self.nu_shape, beta=self.nu_rate)}

    def link(self, out, hyper):
        return {"mu": out[..., 0], "sigma": hyper["sigma"], "nu": hyper["nu"]}

    def distribution(self, outputs):
        import pymc as pm

        return pm.StudentT, {"nu": outputs["nu"], "mu": outputs["mu"], "sigma": outputs["sigma"]}

    def _params(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        mu = np.asarray(outputs["mu"], dtype=np.float64)
        n = mu.shape[1]
        return mu, per_point(outputs["sigma"], n), per_point(outputs["nu"], n)

    def log_likelihood(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        from scipy import stats

        mu, sigma, nu = self._params(outputs)
        return stats.t.logpdf(y, nu, mu, sigma)

    def sample(self, outputs: Outputs, rng: np.random.Generator) -> np.ndarray:
        mu, sigma, nu = self._params(outputs)
        return mu + sigma * rng.standard_t(nu)

    def moments(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``mu`` (undefined for ``nu <= 1``: NaN) and variance ``sigma**2 nu / (nu - 2)`` (inf for ``nu <= 2``)."""
        mu, sigma, nu = self._params(outputs)
        with np.errstate(divide="ignore"):
            var = np.where(nu > 2, sigma**2 * nu / np.maximum(nu - 2, 0.0), np.inf)
        return np.where(nu > 1, mu, np.nan), var
