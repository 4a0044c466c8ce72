"""``poisson``: counts ``y ~ Poisson(mu)`` with the log link, ``mu = exp(out)`` from one output unit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbnn.errors import DataError
from pbnn.likelihoods.base import Likelihood, Outputs, register


def check_counts(name: str, y: np.ndarray) -> np.ndarray:
    """Count targets of likelihood ``name``: non-negative integers (in any numeric dtype), as int64."""
    if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
        raise DataError(f"y: likelihood {name!r} expects counts (non-negative integers), got dtype {y.dtype}")
    for bad, what in ((y < 0, "negative"), (y != np.round(y), "non-integer")):
        if bad.any():
            index = int(np.flatnonzero(bad)[0])
            raise DataError(
                f"y: likelihood {name!r} expects counts (non-negative integers), got {y[index]:g} at index "
                f"{index} ({int(bad.sum())} {what} value(s))"
            )
    return y.astype(np.int64)


@register
@dataclass(frozen=True)
class Poisson(Likelihood):
    """Counts with variance equal to the mean; a prediction holds the rate ``mu`` (S, N).

    Targets are not standardized: the rate is in counts per point.

    >>> import numpy as np
    >>> Poisson().moments({"mu": np.array([[2.0]])})
    (array([[2.]]), array([[2.]]))
    """

    name = "poisson"
    outputs = ("mu",)
    discrete = True

    def check_targets(self, y: np.ndarray, units: int) -> np.ndarray:
        return check_counts(self.name, y)

    def link(self, out, hyper):
        import pytensor.tensor as pt

        return {"mu": pt.exp(out[..., 0])}

    def distribution(self, outputs):
        import pymc as pm

        return pm.Poisson, {"mu": outputs["mu"]}

    def log_likelihood(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        from scipy import stats

        return stats.poisson.logpmf(y, outputs["mu"])

    def cdf(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        from scipy import stats

        return stats.poisson.cdf(y, outputs["mu"])

    def sample(self, outputs: Outputs, rng: np.random.Generator) -> np.ndarray:
        return rng.poisson(outputs["mu"])

    def moments(self, outputs: Outputs) -> tuple[np.ndarray, np.ndarray]:
        mu = np.asarray(outputs["mu"], dtype=np.float64)
        return mu, mu
