"""Priors over a BNN's weights and biases: frozen, validated dataclasses with no PyMC in them.

How each prior becomes PyMC variables is decided in :mod:`pbnn.compile`.

>>> from pbnn import priors as P
>>> P.Normal(sigma=0.5)
Normal(sigma=0.5)
>>> P.Hierarchical(scale=1.0)
Hierarchical(scale=1.0)
>>> P.ScaleMixture(pi=0.2, sigma1=1.0, sigma2=0.1).to_dict()
{'kind': 'scale_mixture', 'pi': 0.2, 'sigma1': 1.0, 'sigma2': 0.1}

A layer can override the spec's prior: ``Dense(50, prior=P.Laplace(0.1))``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from pbnn.errors import SpecError

#: The range of a prior's scales. Above 1e8 a Normal prior is flat to float64 precision for weights of order 1
#: (``w**2 / (2 sigma**2) < 5e-17`` is lost against ``log sigma``), and weights drawn from it overflow the
#: network; below 1e-8 it pins every weight to 0.
SCALE_RANGE = (1e-8, 1e8)


def _check_positive(prior: str, field: str, value: object) -> float | int:
    """``value`` as a plain int or float (numpy scalars too) if it is a positive number in :data:`SCALE_RANGE`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SpecError(f"{prior}.{field}: expected a positive number, got {value!r}")
    low, high = SCALE_RANGE
    if not low <= value <= high:
        raise SpecError(
            f"{prior}.{field}: expected a positive number in [{low:g}, {high:g}], got {float(value):g}; a wider "
            "prior is flat to float64 precision and its draws overflow the network, a narrower one pins the weights to 0"
        )
    return value if type(value) in (int, float) else float(value)


@dataclass(frozen=True)
class Prior:
    """Base class of weight priors; ``kind`` is the name used in TOML files."""

    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name not in self._probabilities:
                object.__setattr__(self, f.name, _check_positive(type(self).__name__, f.name, getattr(self, f.name)))

    #: Fields that are probabilities in (0, 1), checked by the prior itself rather than as scales.
    _probabilities: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}

    def describe(self) -> str:
        args = ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))
        return f"{type(self).__name__}({args})"


@dataclass(frozen=True)
class Normal(Prior):
    """Independent ``Normal(0, sigma)`` on every weight and bias: L2 regularization's Bayesian twin."""

    sigma: float = 1.0
    kind: ClassVar[str] = "normal"


@dataclass(frozen=True)
class Hierarchical(Prior):
    """A learned scale per layer: ``sigma_l ~ HalfNormal(scale)``, ``w ~ Normal(0, sigma_l)``.

    The hierarchical BNN of Wiecki's *Bayesian deep learning*: each layer's weights (and biases) share
    one scale learned from the data. Compiled non-centred (``w = sigma_l * z``, ``z ~ Normal(0, 1)``)
    so that NUTS can sample it; the posterior holds ``layer_sigma`` with one value per layer.
    """

    scale: float = 1.0
    kind: ClassVar[str] = "hierarchical"


@dataclass(frozen=True)
class Laplace(Prior):
    """Independent ``Laplace(0, b)`` on every weight and bias: L1 regularization's Bayesian twin.

    >>> Laplace(b=0.1).describe()
    'Laplace(b=0.1)'
    """

    b: float = 1.0
    kind: ClassVar[str] = "laplace"


@dataclass(frozen=True)
class ScaleMixture(Prior):
    """Blundell et al.'s (2015) scale mixture ``pi N(0, sigma1) + (1 - pi) N(0, sigma2)`` per weight.

    A wide component (``sigma1``) and a narrow one (``sigma2``) give a spike-and-slab-like prior with a
    smooth density. ``pi`` must lie in (0, 1).

    >>> ScaleMixture(pi=0.2, sigma1=1.0, sigma2=0.1)
    ScaleMixture(pi=0.2, sigma1=1.0, sigma2=0.1)
    """

    pi: float = 0.5
    sigma1: float = 1.0
    sigma2: float = 0.1
    kind: ClassVar[str] = "scale_mixture"
    _probabilities: ClassVar[tuple[str, ...]] = ("pi",)

    def __post_init__(self) -> None:
        super().__post_init__()
        pi = self.pi
        if isinstance(pi, bool) or not isinstance(pi, numbers.Real) or not 0 < pi < 1:
            raise SpecError(f"ScaleMixture.pi: expected a number in (0, 1), got {pi!r}")
        object.__setattr__(self, "pi", pi if type(pi) in (int, float) else float(pi))


@dataclass(frozen=True)
class Horseshoe(Prior):
    """The regularized horseshoe (Piironen & Vehtari 2017), a sparsity prior for pruning weights.

    For each weight array ``w`` (and bias): a global scale ``tau ~ HalfCauchy(scale)``, a local scale
    per weight ``lambda ~ HalfCauchy(1)``, a slab ``c2 ~ InverseGamma(slab_df / 2, slab_df / 2 *
    slab_scale**2)`` and ``w = tau * lambda_tilde * z`` with ``z ~ Normal(0, 1)`` (non-centred) and
    ``lambda_tilde = sqrt(c2 lambda**2 / (c2 + tau**2 lambda**2))``. Most weights shrink to zero while
    large ones escape, softly capped by the slab at about ``slab_scale``.

    >>> Horseshoe(scale=0.1).describe()
    'Horseshoe(scale=0.1, slab_scale=2.0, slab_df=4.0)'
    """

    scale: float = 1.0
    slab_scale: float = 2.0
    slab_df: float = 4.0
    kind: ClassVar[str] = "horseshoe"


#: Prior classes by their ``kind``.
PRIORS: dict[str, type[Prior]] = {
    cls.kind: cls for cls in (Normal, Hierarchical, Laplace, ScaleMixture, Horseshoe)
}
