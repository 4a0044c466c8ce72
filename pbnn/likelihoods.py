"""Likelihoods: what the network's last layer means, and which targets each accepts.

Pure data and checks; :mod:`pbnn.compile` builds the PyMC distribution for each.

* ``bernoulli`` (1 output unit, logit) and ``categorical`` (one unit per class, softmax logits);
* ``normal``: ``y ~ Normal(mu, sigma)``, the network gives ``mu``, one noise sd ``sigma`` is learned;
* ``heteroscedastic_normal``: the last layer has 2 units, the mean ``mu`` and the log-scale, so that
  ``sigma = exp(log_scale)`` varies per point (aleatoric uncertainty);
* ``student_t``: ``y ~ StudentT(nu, mu, sigma)`` for heavy-tailed noise, ``sigma`` and the degrees of
  freedom ``nu`` learned (``nu ~ Gamma(2, 0.1)``, Juarez & Steel's prior: mean 20, so Gaussian-like
  noise is favoured unless outliers say otherwise).

Regression targets are standardized by :func:`pbnn.fit` (see :mod:`pbnn.inference`); the priors on
``sigma`` are in those standardized units and predictions come back in the user's units.

>>> from pbnn.likelihoods import LIKELIHOODS
>>> LIKELIHOODS["categorical"].outputs
('p',)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbnn.errors import DataError, SpecError


@dataclass(frozen=True)
class Likelihood:
    """A likelihood family.

    ``outputs`` are the per-draw quantities a prediction holds (``p`` for class probabilities,
    ``mu``/``sigma`` for a Gaussian); ``task`` is ``"classification"`` or ``"regression"``.
    """

    name: str
    task: str
    outputs: tuple[str, ...]

    def check_units(self, units: int) -> None:
        """Check that the last layer's width fits this likelihood."""
        expected = {"bernoulli": 1, "normal": 1, "heteroscedastic_normal": 2, "student_t": 1}.get(self.name)
        if expected is not None and units != expected:
            what = "1 unit" if expected == 1 else f"{expected} units (mean and log-scale)"
            raise SpecError(f"likelihood {self.name!r} needs a last layer with {what}, got {units}")
        if self.name == "categorical" and units < 2:
            raise SpecError(
                f"likelihood 'categorical' needs a last layer with one unit per class (>= 2), got {units}"
            )

    def check_targets(self, y: np.ndarray, units: int) -> np.ndarray:
        """Validate targets ``y`` (1-D) and return them in the dtype the model uses."""
        if self.task == "regression":
            if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
                raise DataError(f"y: expected real numbers, got dtype {y.dtype}")
            return y.astype(np.float64)
        if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
            raise DataError(f"y: expected integer class labels, got dtype {y.dtype}")
        labels = np.asarray(y, dtype=np.float64)
        n_classes = 2 if self.name == "bernoulli" else units
        bad = (labels != np.round(labels)) | (labels < 0) | (labels >= n_classes)
        if bad.any():
            first = labels[bad][0]
            hint = (
                " (map your labels to 0..K-1, e.g. with sklearn.preprocessing.LabelEncoder)"
                if self.name == "categorical"
                else " (labels must be 0 or 1)"
            )
            raise DataError(
                f"y: likelihood {self.name!r} expects labels in 0..{n_classes - 1}, "
                f"got {first:g} ({int(bad.sum())} bad value(s)){hint}"
            )
        return labels.astype(np.int64)


#: Likelihoods by name.
LIKELIHOODS: dict[str, Likelihood] = {
    lik.name: lik
    for lik in (
        Likelihood("bernoulli", "classification", ("p",)),
        Likelihood("categorical", "classification", ("p",)),
        Likelihood("normal", "regression", ("mu", "sigma")),
        Likelihood("heteroscedastic_normal", "regression", ("mu", "sigma")),
        Likelihood("student_t", "regression", ("mu", "sigma", "nu")),
    )
}


def get_likelihood(name: str) -> Likelihood:
    """Look a likelihood up by name, with an error that lists the known ones."""
    try:
        return LIKELIHOODS[name]
    except (KeyError, TypeError):
        raise SpecError(
            f"likelihood: unknown likelihood {name!r}; expected one of {', '.join(LIKELIHOODS)}"
        ) from None
