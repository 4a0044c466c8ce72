"""Input and target scaling: the network sees standardized numbers, the user their own units.

Features: :func:`pbnn.fit` standardizes the inputs by default (:class:`FeatureScaling`; tables per column,
images only when they are outside ``[0, 1]``) and stores the training statistics in the fit's attributes
(``pbnn_x_loc``, ``pbnn_x_scale``), so that ``predict`` applies them to new inputs, also after ``load``.

Targets: regression targets are standardized for fitting and predictions come back in y's units.

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

import json
import math
import numbers
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
        from pbnn.validation import check_scale

        check_scale(y, "y")
        scale = float(np.std(y))
        return cls(float(np.mean(y)), scale if scale > 0 else 1.0)

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any] | None) -> TargetScaling:
        """Read the scaling from a fit's DataTree attributes; the identity when they are absent."""
        attrs = attrs or {}
        loc, scale = (attrs.get(name, default) for name, default in zip(ATTRS, (0.0, 1.0), strict=True))
        for name, value, form in ((ATTRS[0], loc, "a finite number"), (ATTRS[1], scale, "a finite number > 0")):
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            if not ok or (name == ATTRS[1] and value <= 0):
                shown = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else value
                raise ValueError(f"attribute {name}: expected {form}, got {shown!r}")
        return cls(float(loc), float(scale))

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


# -- features ---------------------------------------------------------------------------------------
FEATURE_ATTRS = ("pbnn_x_loc", "pbnn_x_scale")
#: Every attribute of this module: what a fit passes on to its predictions.
ALL_ATTRS = (*ATTRS, *FEATURE_ATTRS)
#: Images whose pixels all lie in this range are fed to the network as they are.
IMAGE_RANGE = (0.0, 1.0)


class FeatureScaling(NamedTuple):
    """``X_network = (X - loc) / scale``, ``loc`` and ``scale`` broadcast against one input (``X.shape[1:]``).

    :meth:`from_inputs` chooses them from the training inputs:

    * tables ``(n_samples, n_features)``: each column's training mean and sd (an sd of 0, a constant
      column, is replaced by 1), so that ``Normal(1)`` first-layer weights mean the same for features
      in any units;
    * images ``(n_samples, channels, height, width)``: left as they are when every pixel lies in
      ``[0, 1]`` (:data:`IMAGE_RANGE`, e.g. ``pbnn.datasets.digits``); otherwise each channel is mapped
      into ``[0, 1]`` by its training range, ``(X - lo) / (hi - lo)`` with ``lo = min(0, channel min)``
      and ``hi`` the channel max: raw 0..16 digits are divided by 16, 0..255 pixels by 255.

    The identity is ``FeatureScaling(0.0, 1.0)``; ``pbnn.fit(..., standardize=False)`` uses it.

    >>> s = FeatureScaling.from_inputs(np.array([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0]]))
    >>> s.loc.tolist(), s.scale.tolist()
    ([2.0, 20.0, 5.0], [1.0, 10.0, 1.0])
    >>> FeatureScaling.from_inputs(np.full((2, 1, 8, 8), 16.0)).standardize(np.full((1, 1, 8, 8), 8.0)).max()
    np.float64(0.5)
    """

    loc: np.ndarray | float = 0.0
    scale: np.ndarray | float = 1.0

    @classmethod
    def from_inputs(cls, X: np.ndarray) -> FeatureScaling:
        """The scaling of training inputs ``X`` (2-D tables, or 4-D images ``(N, C, H, W)``)."""
        if X.ndim == 2:
            scale = X.std(axis=0)
            return cls(X.mean(axis=0), np.where(scale > 0, scale, 1.0))
        lo_ok, hi_ok = IMAGE_RANGE
        if X.min() >= lo_ok and X.max() <= hi_ok:
            return cls()
        channels = X.swapaxes(0, 1).reshape(X.shape[1], -1)
        lo = np.minimum(channels.min(axis=1), 0.0)
        span = channels.max(axis=1) - lo
        shape = (X.shape[1],) + (1,) * (X.ndim - 2)
        return cls(lo.reshape(shape), np.where(span > 0, span, 1.0).reshape(shape))

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any] | None) -> FeatureScaling:
        """Read the scaling from a fit's DataTree attributes; the identity when they are absent."""
        attrs = attrs or {}
        if FEATURE_ATTRS[0] not in attrs:
            return cls()
        return cls(*(np.asarray(json.loads(attrs[name]), dtype=np.float64) for name in FEATURE_ATTRS))

    @property
    def is_identity(self) -> bool:
        return bool(np.all(np.asarray(self.loc) == 0.0) and np.all(np.asarray(self.scale) == 1.0))

    def to_attrs(self) -> dict[str, str]:
        """JSON lists (exact: floats are written with ``repr``); nothing for the identity."""
        if self.is_identity:
            return {}
        return {name: json.dumps(np.asarray(v).tolist()) for name, v in zip(FEATURE_ATTRS, self, strict=True)}

    def standardize(self, X: np.ndarray) -> np.ndarray:
        return X if self.is_identity else (X - self.loc) / self.scale
