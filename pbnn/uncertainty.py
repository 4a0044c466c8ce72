"""Uncertainty you can see: per-point decomposition, scores, out-of-distribution detection, rejection.

xarray faces on :mod:`pbnn.metrics` (the numeric core; every formula lives there). Each function
takes :class:`~pbnn.predict.Predictions` (``fit.predict(X)``), reads its draws as arrays and labels
points by ``obs``; it relies on the :class:`Predictive` face only, so that this module does not import
the predictor (which imports this one for ``pred.uncertainty()`` and the like).

* :func:`uncertainty`: a Dataset per point. Classifiers: ``mean`` and ``std`` of the class
  probabilities, ``entropy`` (total, nats) = ``aleatoric`` (expected entropy) + ``epistemic``
  (mutual information), ``label_spread_chi2``; regression: ``mean``, ``epistemic_std``,
  ``aleatoric_std``, ``total_std`` and a central interval ``lower``/``upper``.
* :func:`scores`: accuracy, log predictive density, Brier, ECE and a reliability table; regression
  RMSE, log predictive density and interval coverage.
* :func:`ood_auroc`, :func:`reject`, :func:`accuracy_coverage`: use an uncertainty score
  (:data:`SCORES`) to tell out-of-distribution points apart or to refuse to answer.

>>> import pbnn
>>> from pbnn import datasets
>>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
>>> u = pbnn.uncertainty(fit.predict(X_te))
>>> u["epistemic"].dims, u["mean"].dims
(('obs',), ('obs', 'class'))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import xarray as xr

from pbnn import metrics

__all__ = ["SCORES", "Predictive", "Score", "accuracy_coverage", "ood_auroc", "reject", "scores", "uncertainty"]


@runtime_checkable
class Predictive(Protocol):
    """What these functions read of a prediction; :class:`pbnn.predict.Predictions` is one.

    ``pred.draws(name)``: an output's draws as an array (draws, obs, ...); ``pred.task``:
    ``"classification"`` or ``"regression"``; ``pred.spec``: the model; ``pred["predictions"]``: the
    Dataset of draws, whose ``obs`` coordinate labels the points.
    """

    spec: Any
    task: str

    def draws(self, name: str | None = None) -> np.ndarray: ...

    def __getitem__(self, key: str) -> Any: ...


@dataclass(frozen=True)
class Score:
    """A per-point uncertainty score: a variable of :func:`uncertainty` and its direction."""

    variable: str
    higher_is_uncertain: bool
    description: str
    #: The largest value the score takes for ``K`` classes (a :func:`reject` threshold lies in [0, this]).
    largest: Callable[[int], float] = lambda k: math.inf

    def values(self, u: xr.Dataset) -> np.ndarray:
        """The score of every point, oriented so that larger = more uncertain."""
        v = u[self.variable].values
        return v if self.higher_is_uncertain else -v


#: Scores for :func:`ood_auroc`, :func:`reject` and :func:`accuracy_coverage`, per task.
SCORES: dict[str, dict[str, Score]] = {
    "classification": {
        "epistemic": Score("epistemic", True, "mutual information between label and weights (nats)", math.log),
        "mutual_info": Score("epistemic", True, "alias of 'epistemic'", math.log),
        "entropy": Score("entropy", True, "entropy of the predictive mean (nats)", math.log),
        "aleatoric": Score("aleatoric", True, "expected entropy of the draws (nats)", math.log),
        "std": Score("confidence_std", True, "std over draws of the predicted class's probability", lambda k: 0.5),
        "confidence": Score("confidence", False, "probability of the predicted class", lambda k: 1.0),
        "label_spread_chi2": Score("label_spread_chi2", False, "chi-square spread of sampled labels"),
    },
    "regression": {
        "std": Score("total_std", True, "total predictive std"),
        "epistemic": Score("epistemic_std", True, "std of the mean over draws"),
        "aleatoric": Score("aleatoric_std", True, "noise std of the likelihood"),
    },
}


def uncertainty(pred: Predictive, *, prob: float = 0.9, seed: int = 0) -> xr.Dataset:
    """Per-point predictive uncertainty of ``pred`` as an xarray Dataset over ``obs``.

    Classifiers (``K`` classes; a Bernoulli model counts as ``K = 2``):

    * ``mean``, ``std`` (obs, class): class probabilities averaged over draws, and their std;
    * ``predicted`` (obs): the most probable class; ``confidence``: its mean probability;
      ``confidence_std``: the std of that probability over draws (the seeds/000 measure);
    * ``entropy`` = ``aleatoric`` + ``epistemic`` (obs, nats): total predictive entropy, expected
      entropy of the draws and mutual information between label and weights;
    * ``label_spread_chi2`` (obs): chi-square of one sampled label per draw against uniform
      (low = spread out = uncertain), sampled with ``seed``.

    Regression (any likelihood with per-draw predictive moments: Gaussian, Student-t, counts): ``mean``,
    ``epistemic_std`` (std over draws of each draw's mean), ``aleatoric_std`` (root of the mean over draws
    of each draw's variance), ``total_std`` (``total**2 = aleatoric**2 + epistemic**2``) and the central
    ``prob`` interval ``lower``, ``upper`` of the predictive mixture (obs; the likelihood's
    :meth:`~pbnn.likelihoods.Likelihood.interval`, from predictive draws with ``seed`` where it is not exact).

    >>> import numpy as np, pbnn
    >>> from pbnn import datasets
    >>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
    >>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
    >>> u = pbnn.uncertainty(fit.predict(X_te))
    >>> bool(np.allclose(u["entropy"], u["aleatoric"] + u["epistemic"]))
    True
    """
    _check_predictions(pred)
    obs = pred["predictions"]["obs"].values
    if pred.task == "classification":
        return _classification_uncertainty(pred.draws(), obs, seed, np.asarray(pred.labels.names))
    return _regression_uncertainty(pred, obs, prob, seed)


def _classification_uncertainty(probs: np.ndarray, obs: np.ndarray, seed: int, classes: np.ndarray) -> xr.Dataset:
    mean = metrics.predictive_mean(probs)
    std = metrics.predictive_std(probs)
    predicted = mean.argmax(axis=-1)
    rows = np.arange(len(obs))
    nats = {"units": "nats"}
    ds = xr.Dataset(
        {
            "mean": (("obs", "class"), mean, {"long_name": "predictive mean probability"}),
            "std": (("obs", "class"), std, {"long_name": "std of the probability over draws"}),
            "predicted": ("obs", predicted, {"long_name": "most probable class (its index along class)"}),
            "confidence": ("obs", mean[rows, predicted], {"long_name": "probability of the predicted class"}),
            "confidence_std": ("obs", std[rows, predicted], {"long_name": "std of the predicted class's probability"}),
            "entropy": ("obs", metrics.total_entropy(probs), {"long_name": "total predictive entropy", **nats}),
            "aleatoric": ("obs", metrics.expected_entropy(probs), {"long_name": "expected entropy (aleatoric)", **nats}),
            "epistemic": ("obs", metrics.mutual_information(probs), {"long_name": "mutual information (epistemic)", **nats}),
            "label_spread_chi2": (
                "obs",
                metrics.label_spread_chi2(probs, seed=seed),
                {"long_name": "chi-square spread of sampled labels (low = uncertain)"},
            ),
        },
        coords={"obs": obs, "class": classes},
    )
    ds.attrs["task"] = "classification"
    return ds


def _regression_uncertainty(pred: Predictive, obs: np.ndarray, prob: float, seed: int) -> xr.Dataset:
    likelihood, outputs = pred.spec.likelihood_, pred.outputs()
    parts = metrics.moment_uncertainty(*likelihood.moments(outputs)).as_dict()
    lower, upper = likelihood.interval(outputs, prob, seed=seed)
    ds = xr.Dataset({name: ("obs", values) for name, values in parts.items()}, coords={"obs": obs})
    ds["lower"] = ("obs", lower, {"long_name": f"lower end of the central {prob:g} interval"})
    ds["upper"] = ("obs", upper, {"long_name": f"upper end of the central {prob:g} interval"})
    ds.attrs.update(task="regression", prob=prob)
    return ds


def scores(pred: Predictive, y: Any, *, n_bins: int = 10, prob: float = 0.9) -> xr.Dataset:
    """Scores of ``pred`` against the labels or targets ``y`` (one per point).

    Classifiers: ``accuracy``; ``lpd``, the log predictive density ``log mean_s p_s(y)`` in nats per
    point; ``brier``; ``ece``, the expected calibration error over ``n_bins`` equal-width confidence
    bins; and the reliability table along ``bin`` (``bin_lower``, ``bin_upper``, ``bin_count``,
    ``bin_confidence``, ``bin_accuracy``; NaN for empty bins).
    Regression: ``rmse`` of the predictive mean, ``lpd`` (the test log-likelihood ``log mean_s p_s(y)``
    under the spec's likelihood, nats per point) and ``coverage``, the fraction of targets inside the
    central ``prob`` interval (as in :func:`uncertainty`, ``seed`` 0).

    >>> import pbnn
    >>> from pbnn import datasets
    >>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
    >>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
    >>> s = pbnn.scores(fit.predict(X_te), y_te)
    >>> list(s.data_vars)[:4], s["bin_count"].sizes["bin"]
    (['accuracy', 'lpd', 'brier', 'ece'], 10)
    """
    _check_predictions(pred)
    y = check_targets(pred, y)
    if pred.task == "regression":
        likelihood, outputs = pred.spec.likelihood_, pred.outputs()
        lower, upper = likelihood.interval(outputs, prob)
        lpd = metrics.mean_log_predictive_density(likelihood.log_likelihood(outputs, y))
        return xr.Dataset(
            {
                "rmse": metrics.rmse(likelihood.moments(outputs)[0], y),
                "lpd": ((), lpd, {"units": "nats per point"}),
                "coverage": ((), metrics.interval_coverage(lower, upper, y), {"prob": prob}),
            },
            attrs={"task": "regression"},
        )
    probs = pred.draws()
    table = metrics.calibration_table(probs, y, n_bins)
    return xr.Dataset(
        {
            "accuracy": metrics.accuracy(probs, y),
            "lpd": ((), metrics.log_predictive_density(probs, y), {"units": "nats per point"}),
            "brier": metrics.brier(probs, y),
            "ece": metrics.expected_calibration_error(probs, y, n_bins),
            **{name: ("bin", table[key]) for name, key in _TABLE_NAMES.items()},
        },
        coords={"bin": np.arange(n_bins)},
        attrs={"task": "classification"},
    )


#: Reliability-table variables of :func:`scores` -> keys of :func:`pbnn.metrics.calibration_table`.
_TABLE_NAMES = {
    "bin_lower": "bin_lower",
    "bin_upper": "bin_upper",
    "bin_count": "count",
    "bin_confidence": "confidence",
    "bin_accuracy": "accuracy",
}


def ood_auroc(pred_in: Predictive, pred_out: Predictive, score: str = "epistemic") -> float:
    """AUROC of telling ``pred_out`` (out-of-distribution) from ``pred_in`` by an uncertainty score.

    ``score`` is a name of :data:`SCORES` (classifiers: ``"epistemic"``/``"mutual_info"``,
    ``"entropy"``, ``"aleatoric"``, ``"std"``, ``"confidence"``, ``"label_spread_chi2"``;
    regression: ``"std"``, ``"epistemic"``, ``"aleatoric"``). 0.5 is chance, 1 a perfect split;
    ties count one half, as in ``sklearn.metrics.roc_auc_score``.
    """
    for name, pred in (("pred_in", pred_in), ("pred_out", pred_out)):
        _check_predictions(pred, name)
    if pred_in.task != pred_out.task:
        raise ValueError(f"pred_out: a {pred_out.task} prediction cannot be compared with a {pred_in.task} one")
    chosen = _score(pred_in.task, score)
    return metrics.auroc(chosen.values(uncertainty(pred_in)), chosen.values(uncertainty(pred_out)))


def reject(pred: Predictive, threshold: float, by: str = "confidence") -> xr.DataArray:
    """Points the model should refuse to answer: a boolean DataArray over ``obs``.

    ``by="confidence"`` (classifiers): refuse when no class reaches probability ``threshold``.
    Any other score of :data:`SCORES`: refuse when the point is more uncertain than ``threshold``
    (``epistemic > threshold``; ``label_spread_chi2 < threshold``, low chi-square being uncertain).

    >>> import numpy as np, pbnn
    >>> from pbnn import datasets
    >>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
    >>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
    >>> refused = fit.predict(X_te).reject(0.9)          # no class reaches 90%
    >>> refused.dtype, refused.dims
    (dtype('bool'), ('obs',))
    """
    _check_predictions(pred)
    chosen = _score(pred.task, by)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number) or not np.isfinite(threshold):
        raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
    n_classes = pred.draws().shape[-1] if pred.task == "classification" else 0
    largest = chosen.largest(n_classes) if n_classes else math.inf
    if not 0 <= threshold <= largest:
        span = f"[0, {largest:.4g}]" if math.isfinite(largest) else ">= 0"
        raise ValueError(f"threshold: expected a number {span} for by={by!r} ({chosen.description}), got {threshold!r}")
    u = uncertainty(pred)
    oriented = chosen.values(u)
    limit = threshold if chosen.higher_is_uncertain else -threshold
    if pred.task == "classification":
        mask = metrics.reject_mask(pred.draws(), score=oriented, max_score=limit)
    else:
        mask = ~(oriented <= limit)
    return xr.DataArray(
        mask, coords={"obs": u["obs"]}, dims="obs", name="reject",
        attrs={"by": by, "threshold": float(threshold)},
    )


def accuracy_coverage(pred: Predictive, y: Any, by: str = "confidence") -> xr.Dataset:
    """Accuracy on the most certain points against the fraction kept (classifiers).

    Points are kept from most to least certain by the score ``by`` (:data:`SCORES`). Along ``cut``:
    ``coverage`` (fraction kept), ``accuracy`` (on the kept points) and ``threshold``, the score of
    the last point kept in the score's own units (keep points at most this uncertain).
    """
    _check_predictions(pred)
    if pred.task != "classification":
        raise TypeError("accuracy_coverage(): needs a classifier; this is a regression model")
    y = check_targets(pred, y)
    chosen = _score(pred.task, by)
    curve = metrics.accuracy_coverage_curve(pred.draws(), y, score=chosen.values(uncertainty(pred)))
    threshold = curve.max_score if chosen.higher_is_uncertain else -curve.max_score
    return xr.Dataset(
        {"coverage": ("cut", curve.coverage), "accuracy": ("cut", curve.accuracy), "threshold": ("cut", threshold)},
        attrs={"by": by},
    )


def _score(task: str, name: str) -> Score:
    choices = SCORES[task]
    if name not in choices:
        raise ValueError(f"score: unknown score {name!r} for {task}; expected one of {', '.join(choices)}")
    return choices[name]


def _check_predictions(pred: Any, name: str = "pred") -> None:
    if not isinstance(pred, Predictive):
        raise TypeError(f"{name}: expected pbnn Predictions (from fit.predict(X)), got {type(pred).__name__}")


def check_targets(pred: Predictive, y: Any) -> np.ndarray:
    """``y`` with one target per predicted point: a classifier's labels (names as in training, or codes) as
    codes 0..K-1, a regression's targets as numbers; else an error naming ``y`` and the expected form."""
    from pbnn.validation import as_numeric

    n = pred["predictions"].sizes["obs"]
    if np.shape(y) != (n,):
        raise ValueError(f"y: expected shape ({n},) (one label per predicted point), got {np.shape(y)}")
    if pred.task == "regression":
        return as_numeric(y, "y")
    return pred.labels.encode(np.asarray(y))
