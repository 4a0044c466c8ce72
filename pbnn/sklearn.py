"""scikit-learn estimators: a BNN spec (or zoo name) fitted by :func:`pbnn.fit` behind fit/predict.

``BNNClassifier`` and ``BNNRegressor`` take the spec, the method and the fit options as parameters
(``None`` = :func:`pbnn.fit`'s default) and work in ``Pipeline``, ``GridSearchCV`` and ``cross_val_score``.
The spec's output is adapted to the task when fitted (``spec_``):

* classifier with K classes: the likelihood becomes the first registered one that models K classes
  (:func:`pbnn.likelihoods.classification_likelihood`: ``bernoulli`` for K = 2, ``categorical`` for
  K > 2) and the last layer with weights (a ``Dense``) gets its units (1 or K); labels of any type are
  mapped to 0..K-1 in the order of ``classes_``;
* regressor: a regression spec is kept as it is; a classification spec (e.g. a zoo name) gets the
  ``normal`` likelihood and 1 output unit.

>>> from sklearn.datasets import load_iris
>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.preprocessing import StandardScaler
>>> from pbnn.sklearn import BNNClassifier
>>> X, y = load_iris(return_X_y=True)
>>> clf = make_pipeline(StandardScaler(), BNNClassifier("two_layer_tanh", steps=2000, draws=100))
>>> clf.fit(X, y).score(X, y) > 0.9
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from pbnn import metrics, zoo
from pbnn.errors import SpecError
from pbnn.inference import fit as pbnn_fit
from pbnn.likelihoods import Likelihood, classification_likelihood
from pbnn.predict import Predictions
from pbnn.results import Fit
from pbnn.spec import BNN

__all__ = ["BNNClassifier", "BNNRegressor"]

#: Estimator parameters passed on to :func:`pbnn.fit` when not None: options of the registered methods
#: (:data:`pbnn.inference.METHODS`; each method takes a subset; ``options`` passes any other).
FIT_OPTIONS = ("steps", "batch_size", "learning_rate", "draws", "tune", "chains", "sampler")


class _BNNEstimator(BaseEstimator):
    """Shared parameters and fitting; see :class:`BNNClassifier` and :class:`BNNRegressor`."""

    def __init__(
        self,
        model: BNN | str = "two_layer_tanh",
        method: str | None = None,
        *,
        steps: int | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        draws: int | None = None,
        tune: int | None = None,
        chains: int | None = None,
        sampler: str | None = None,
        options: dict[str, Any] | None = None,
        standardize: bool | None = None,
        seed: int | None = 0,
        progressbar: bool = False,
    ) -> None:
        self.model = model
        self.method = method
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.sampler = sampler
        self.options = options
        self.standardize = standardize
        self.seed = seed
        self.progressbar = progressbar

    def _spec(self) -> BNN:
        if isinstance(self.model, BNN):
            return self.model
        if isinstance(self.model, str):
            return zoo.get(self.model)
        raise TypeError(
            f"model: expected a pbnn.BNN or a zoo name ({', '.join(zoo.names())}), got {type(self.model).__name__}"
        )

    def _fit_spec(self, X: np.ndarray, y: np.ndarray, spec: BNN, **kwargs: Any) -> None:
        options = {name: getattr(self, name) for name in FIT_OPTIONS if getattr(self, name) is not None}
        extra = dict(self.options or {})
        for name in extra:
            if name in options:
                raise ValueError(f"options: {name!r} is also given as the estimator parameter {name}; give it once")
        options.update(extra)
        self.spec_ = spec
        self.pbnn_fit_: Fit = pbnn_fit(
            spec, X, y, method=self.method, seed=self.seed, progressbar=self.progressbar,
            standardize=self.standardize, **kwargs, **options,
        )

    def _predictions(self, X: Any) -> Predictions:
        check_is_fitted(self, "pbnn_fit_")
        return self.pbnn_fit_.predict(validate_data(self, X, reset=False, dtype=np.float64))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.seed is None
        return tags


class BNNClassifier(ClassifierMixin, _BNNEstimator):
    """A Bayesian neural network classifier.

    Parameters
    ----------
    model : a :class:`pbnn.BNN` or the name of a zoo model (``pbnn.zoo.names()``); its last layer with
        weights must be a ``Dense``, whose units are set to 1 (2 classes, bernoulli) or K (categorical).
    method : a method of :func:`pbnn.fit` (``"advi"``, ``"fullrank_advi"``, ``"nuts"``, ...); None: the
        model's own (its ``[fit]`` table, else ``"advi"``), with the settings of that table.
    steps, batch_size, learning_rate, draws, tune, chains, sampler : options of :func:`pbnn.fit`;
        None leaves pbnn's default, a value the method does not take is an error when fitting.
    options : any other options of the method, e.g. ``{"final_learning_rate": 1e-3}`` (``pbnn fit --help``).
    standardize : standardize the features inside the fit (:class:`pbnn.scaling.FeatureScaling`; None:
        yes, unless the model's settings say otherwise); False feeds them to the network as they are.
    seed : the seed of every fit (fixed by default, so that refits agree); None draws a new one.
    progressbar : show pbnn's progress bar.

    Attributes
    ----------
    classes_ : the labels, in the order of ``predict_proba``'s columns.
    spec_ : the spec as fitted (output adapted to the classes); pbnn_fit_ : the :class:`pbnn.Fit`.
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    def fit(self, X: Any, y: Any) -> BNNClassifier:
        """Fit the posterior on ``X`` (n_samples, n_features) and labels ``y`` of any type."""
        spec = self._spec()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y: a classifier needs at least 2 classes, got one class ({self.classes_[0]!r})")
        self._fit_spec(X, y, _classification_spec(spec, len(self.classes_)), classes=self.classes_)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior predictive class probabilities, shape (n_samples, n_classes)."""
        return metrics.predictive_mean(self._predictions(X).draws("p"))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class under the posterior predictive mean."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_uncertainty(self, X: Any, kind: str = "mutual_information") -> np.ndarray:
        """Per-point uncertainty in nats, shape (n_samples,).

        ``kind``: ``"mutual_information"`` (epistemic: disagreement between posterior draws),
        ``"expected_entropy"`` (aleatoric) or ``"total_entropy"`` (their sum).
        """
        measures = {
            "mutual_information": metrics.mutual_information,
            "expected_entropy": metrics.expected_entropy,
            "total_entropy": metrics.total_entropy,
        }
        if kind not in measures:
            raise ValueError(f"kind: unknown uncertainty {kind!r}; expected one of {', '.join(measures)}")
        return measures[kind](self._predictions(X).draws("p"))


class BNNRegressor(RegressorMixin, _BNNEstimator):
    """A Bayesian neural network regressor.

    Parameters are those of :class:`BNNClassifier`. A regression spec (likelihood ``normal``,
    ``heteroscedastic_normal``, ...) is fitted as given; a classification spec gets the ``normal``
    likelihood and 1 output unit. :func:`pbnn.fit` standardizes ``y`` for the fit; predictions are in
    ``y``'s units.
    """

    def fit(self, X: Any, y: Any) -> BNNRegressor:
        """Fit the posterior on ``X`` (n_samples, n_features) and real targets ``y`` (n_samples,)."""
        spec = self._spec()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        if spec.task != "regression":
            spec = _with_output(spec, "normal", 1)
        self._fit_spec(X, y, spec)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Posterior predictive mean, shape (n_samples,)."""
        return self._predictions(X).draws("mu").mean(axis=0)

    def predict_uncertainty(self, X: Any, kind: str = "total") -> np.ndarray:
        """Per-point predictive standard deviation in ``y``'s units, shape (n_samples,).

        ``kind``: ``"total"`` (sd of the posterior predictive), ``"epistemic"`` (sd of the mean over
        posterior draws) or ``"aleatoric"`` (the noise sd, root mean square over draws).
        """
        if kind not in ("total", "epistemic", "aleatoric"):
            raise ValueError(f"kind: unknown uncertainty {kind!r}; expected one of total, epistemic, aleatoric")
        pred = self._predictions(X)
        u = metrics.moment_uncertainty(*pred.spec.likelihood_.moments(pred.outputs()))
        return {"total": u.total_std, "epistemic": u.epistemic_std, "aleatoric": u.aleatoric_std}[kind]


def _classification_spec(spec: BNN, n_classes: int) -> BNN:
    likelihood, units = classification_likelihood(n_classes)
    return _with_output(spec, likelihood, units)


def _with_output(spec: BNN, likelihood: str | Likelihood, units: int) -> BNN:
    """``spec`` with ``likelihood`` and ``units`` output units in its last layer with weights."""
    index = max(i for i, layer in enumerate(spec.layers) if layer.has_params)
    last = spec.layers[index]
    if "units" not in {f.name for f in dataclasses.fields(last)}:
        raise SpecError(
            f"model: the last layer with weights, {last.describe()}, has no units to set to {units}; "
            "end the spec with a Dense layer"
        )
    layers = list(spec.layers)
    layers[index] = dataclasses.replace(last, units=units)
    return dataclasses.replace(spec, layers=tuple(layers), likelihood=likelihood)
