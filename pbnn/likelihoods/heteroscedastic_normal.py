"""``heteroscedastic_normal``: ``y ~ Normal(mu, exp(log_scale))``, both from the network's 2 output units."""

from __future__ import annotations

from dataclasses import dataclass

from pbnn.likelihoods.base import Likelihood, register
from pbnn.likelihoods.normal import Gaussian


@register
@dataclass(frozen=True)
class HeteroscedasticNormal(Gaussian, Likelihood):
    """Noise that varies per point (aleatoric uncertainty): unit 0 is the mean, unit 1 the log-scale.

    A prediction holds ``mu`` and ``sigma``, each (S, N), in ``y``'s units.
    """

    name = "heteroscedastic_normal"
    outputs = ("mu", "sigma")
    units = 2
    unit_meaning = "mean and log-scale"

    def observe(self, out, y, *, obs_dims, total_size) -> None:
        import pymc as pm
        import pytensor.tensor as pt

        mu, sigma = out[..., 0], pt.exp(out[..., 1])
        if obs_dims:
            mu = pm.Deterministic("mu", mu, dims=obs_dims)
            sigma = pm.Deterministic("sigma", sigma, dims=obs_dims)
        pm.Normal("y", mu=mu, sigma=sigma, observed=y, dims=obs_dims, total_size=total_size)
