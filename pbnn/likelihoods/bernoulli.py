"""``bernoulli``: two classes, one output unit holding the logit; ``p = sigmoid(out)`` is P(class 1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbnn.likelihoods.base import Likelihood, Outputs, class_labels, register


@register
@dataclass(frozen=True)
class Bernoulli(Likelihood):
    """``y ~ Bernoulli(sigmoid(out))``, ``y`` in {0, 1}; a prediction holds ``p`` (S, N).

    >>> import numpy as np
    >>> Bernoulli().log_likelihood({"p": np.array([[0.8]])}, np.array([1])).round(4).tolist()
    [[-0.2231]]
    """

    name = "bernoulli"
    task = "classification"
    outputs = ("p",)

    def units_for_classes(self, n_classes: int) -> int | None:
        return 1 if n_classes == 2 else None

    def check_targets(self, y: np.ndarray, units: int) -> np.ndarray:
        return class_labels(self.name, y, 2, " (labels must be 0 or 1)")

    def link(self, out, hyper):
        import pytensor.tensor as pt

        return {"p": pt.sigmoid(out[..., 0])}

    def distribution(self, outputs):
        import pymc as pm

        return pm.Bernoulli, {"p": outputs["p"]}

    def class_probabilities(self, p: np.ndarray) -> np.ndarray:
        """``p`` (S, N) as the probabilities of both classes, (S, N, 2)."""
        return np.stack([1.0 - p, p], axis=-1)

    def log_likelihood(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        p = np.asarray(outputs["p"])
        return np.where(np.asarray(y) == 1, np.log(p), np.log1p(-p))

    def sample(self, outputs: Outputs, rng: np.random.Generator) -> np.ndarray:
        return (rng.random(np.shape(outputs["p"])) < outputs["p"]).astype(np.int64)
