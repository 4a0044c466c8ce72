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

    def link(self, out, hyper):
        import pytensor.tensor as pt

        return {"mu": out[..., 0], "sigma": pt.exp(out[..., 1])}

    def distribution(self, outputs):
        import pymc as pm

        return pm.Normal, {"mu": outputs["mu"], "sigma": outputs["sigma"]}
