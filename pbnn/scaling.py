"""Target scaling: regression targets are standardized for fitting and predictions come back in y's units.

:func:`pbnn.fit` fits a likelihood whose ``standardize_targets`` is true (Gaussian, Student-t) to
``(y - loc) / scale`` with ``loc``, ``scale`` the training mean and sd of ``y``, so that the priors
(``Normal(1)`` weights, ``HalfNormal(1)`` noise sd) mean the same for any units of ``y``. The two numbers
are stored in the fit's DataTree attributes (``pbnn_y_loc``, ``pbnn_y_scale``), so that predictions, also
after ``save``/``load``, report ``mu`` and ``sigma`` in the units of ``y``. Other targets (class labels,
counts) are left alone (no attributes).

>>> import numpy as np
>>> s = TargetScaling.from_targets(np.array([1.0, 3.0]))
>>> s, s.standardize(np.array([1.0, 3.0])).tolist()
(TargetScaling(loc=2.0, scale=1.0), [-1.0, 1.0])
>>> from pbnn.likelihoods import get_likelihood
>>> s.to_user_units({"mu": np.array([0.5]), "sigma": np.array([2.0])}, get_likelihood("normal"))["mu"].tolist()
[2.5]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from pbnn.likelihoods import Likelihood

ATTRS = ("pbnn_y_loc", "pbnn_y_scale")


class TargetScaling(NamedTuple):
    """``y_standardized = (y - loc) / scale``; the identity is ``TargetScaling(0.0, 1.0)``."""

    loc: float = 0.0
    scale: float = 1.0

    @classmethod
    def from_targets(cls, y: np.ndarray) -> TargetScaling:
        """The training mean and sd of ``y`` (an sd of 0, constant targets, is replaced by 1)."""
        scale = float(np.std(y))
        return cls(float(np.mean(y)), scale if scale > 0 else 1.0)

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any] | None) -> TargetScaling:
        """Read the scaling from a fit's DataTree attributes; the identity when they are absent."""
        attrs = attrs or {}
        return cls(float(attrs.get(ATTRS[0], 0.0)), float(attrs.get(ATTRS[1], 1.0)))

    def to_attrs(self) -> dict[str, float]:
        return dict(zip(ATTRS, (self.loc, self.scale), strict=True))

    def standardize(self, y: np.ndarray) -> np.ndarray:
        return (y - self.loc) / self.scale

    def to_user_units(self, outputs: Mapping[str, np.ndarray], likelihood: Likelihood) -> dict[str, np.ndarray]:
        """Outputs of ``likelihood`` on the standardized scale -> ``y``'s units: its location outputs
        (``mu``) shifted and scaled, its scale outputs (``sigma``) scaled, the others (``p``, ``nu``) unchanged."""
        out = dict(outputs)
        for name in likelihood.location_outputs:
            out[name] = self.loc + self.scale * np.asarray(out[name])
        for name in likelihood.scale_outputs:
            out[name] = self.scale * np.asarray(out[name])
        return out
