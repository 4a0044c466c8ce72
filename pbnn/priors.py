"""Priors over a BNN's weights and biases: frozen, validated dataclasses with no PyMC in them.

How each prior becomes PyMC variables is decided in :mod:`pbnn.compile`.

>>> from pbnn import priors as P
>>> P.Normal(sigma=0.5)
Normal(sigma=0.5)
>>> P.Hierarchical(scale=1.0)
Hierarchical(scale=1.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from pbnn.errors import SpecError


def _check_positive(prior: str, field: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SpecError(f"{prior}.{field}: expected a positive number, got {value!r}")


@dataclass(frozen=True)
class Prior:
    """Base class of weight priors; ``kind`` is the name used in TOML files."""

    kind: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            _check_positive(type(self).__name__, f.name, getattr(self, f.name))

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


#: Prior classes by their ``kind``.
PRIORS: dict[str, type[Prior]] = {cls.kind: cls for cls in (Normal, Hierarchical)}
