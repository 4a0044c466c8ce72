"""``normal``: ``y ~ Normal(mu, sigma)``, the network gives ``mu``, one noise sd ``sigma`` is learned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbnn.likelihoods.base import Likelihood, Outputs, per_point, register


class Gaussian:
    """Predictive functions of a likelihood whose outputs are a Gaussian's ``mu`` and ``sigma``."""

    standardize_targets = True
    location_outputs = ("mu",)
    scale_outputs = ("sigma",)

    def log_likelihood(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        from scipy import stats

        mu = np.asarray(outputs["mu"])
        return stats.norm.logpdf(y, mu, per_point(outputs["sigma"], mu.shape[1]))

    def sample(self, outputs: Outputs, rng: np.random.Generator) -> np.ndarray:
        mu = np.asarray(outputs["mu"])
        return rng.normal(mu, per_point(outputs["sigma"], mu.shape[1]))

    def moments(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        mu = np.asarray(outputs["mu"], dtype=np.float64)
        return mu, per_point(outputs["sigma"], mu.shape[1]) ** 2

    def interval(self, outputs: Outputs, prob: float, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The exact central interval of the Gaussian mixture over draws (``seed`` is not used)."""
        from pbnn.metrics import predictive_interval

        return predictive_interval(outputs["mu"], outputs["sigma"], prob=prob)


@register
@dataclass(frozen=True)
class Normal(Gaussian, Likelihood):
    """Homoscedastic Gaussian noise, ``sigma ~ HalfNormal(noise_scale)`` in standardized units of ``y``.

    A prediction holds ``mu`` (S, N) and ``sigma`` (S,), in ``y``'s units.

    >>> Normal(noise_scale=0.5).to_value()
    {'name': 'normal', 'noise_scale': 0.5}
    """

    noise_scale: float = 1.0
    name = "normal"
    outputs = ("mu", "sigma")
    hyperparameters = ("sigma",)

    def hyperpriors(self):
        import pymc as pm

        return {"sigma": pm.HalfNormal("sigma", self.noise_scale)}

    def link(self, out, hyper):
        return {"mu": out[..., 0], "sigma": hyper["sigma"]}

    def distribution(self, outputs):
        import pymc as pm

        return pm.Normal, {"mu": outputs["mu"], "sigma": outputs["sigma"]}
