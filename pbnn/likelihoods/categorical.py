"""``categorical``: K classes, one output unit per class holding its logit; ``p = softmax(out)``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pbnn.errors import SpecError
from pbnn.likelihoods.base import Likelihood, Outputs, class_labels, register


@register
@dataclass(frozen=True)
class Categorical(Likelihood):
    """``y ~ Categorical(softmax(out))``, ``y`` in 0..K-1; a prediction holds ``p`` (S, N, K).

    >>> import numpy as np
    >>> Categorical().log_likelihood({"p": np.array([[[0.2, 0.8]]])}, np.array([1])).round(4).tolist()
    [[-0.2231]]
    """

    name = "categorical"
    task = "classification"
    outputs = ("p",)
    point_dims = ("class",)
    units = None

    def check_units(self, units: int) -> None:
        if units < 2:
            raise SpecError(
                f"likelihood {self.name!r} needs a last layer with one unit per class (>= 2), got {units}"
            )

    def units_for_classes(self, n_classes: int) -> int | None:
        return n_classes if n_classes >= 2 else None

    def coords(self, units: int) -> dict[str, range]:
        return {"class": range(units)}

    def check_targets(self, y: np.ndarray, units: int) -> np.ndarray:
        hint = " (map your labels to 0..K-1, e.g. with sklearn.preprocessing.LabelEncoder)"
        return class_labels(self.name, y, units, hint)

    def link(self, out, hyper):
        import pytensor.tensor as pt

        return {"p": pt.special.softmax(out, axis=-1)}

    def distribution(self, outputs):
        import pymc as pm

        return pm.Categorical, {"p": outputs["p"]}

    def class_probabilities(self, p: np.ndarray) -> np.ndarray:
        return p

    def log_likelihood(self, outputs: Outputs, y: np.ndarray) -> np.ndarray:
        p = np.asarray(outputs["p"])
        return np.log(np.take_along_axis(p, np.asarray(y)[None, :, None], axis=-1)[..., 0])

    def sample(self, outputs: Outputs, rng: np.random.Generator) -> np.ndarray:
        p = np.asarray(outputs["p"])
        drawn = (rng.random(p.shape[:-1])[..., None] > np.cumsum(p, axis=-1)).sum(axis=-1)
        return np.minimum(drawn, p.shape[-1] - 1)  # a cumulative sum a rounding below 1
