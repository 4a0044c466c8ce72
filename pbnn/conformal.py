"""Conformal prediction beside the Bayesian answers: intervals and sets with a finite-sample coverage guarantee.

A fitted BNN's central 90% interval covers 90% of new targets only when the model and its posterior are right.
Split conformal prediction (Vovk et al. 2005; Lei et al. 2018) calibrates any fit on held-out data so that,
for exchangeable data, the 1 - alpha region covers at least 1 - alpha of new points whatever the model:

* :func:`calibrate` (split conformal): scores of a held-out calibration set under a :class:`~pbnn.results.Fit`,
  their finite-sample quantile (:func:`conformal_quantile`) and a :class:`Conformal` that gives intervals
  (regression) or prediction sets (classification). Scores (:data:`SCORES`): regression ``"normalized"``
  ``|y - mean| / sd`` (default) or ``"absolute"`` ``|y - mean|``; classification ``"aps"``, the adaptive
  prediction sets of Romano, Sesia & Candes (2020), randomized as in the paper (default) or not, or ``"lac"``
  ``1 - p_y`` (Sadinle, Lei & Wasserman 2019), the smallest sets on average.
* :func:`cv_plus`: CV+ intervals (Barber, Candes, Ramdas & Tibshirani 2021) from K fits, no data held out.
* :func:`report`: conformal coverage and width (set size) beside the Bayesian central interval's (or, for a
  classifier, the most probable classes up to 1 - alpha of the predictive probability) on one test set.

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=700, noise=0.3, test_size=600)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, method="map", steps=1000, progressbar=False,
...                seed=0)
>>> conf = pbnn.conformal.calibrate(fit, ds.X_test[:300], ds.y_test[:300], alpha=0.1)
>>> sets = conf.predict(ds.X_test[300:])
>>> sets["set"].dims, sets["set"].dtype
(('obs', 'class'), dtype('bool'))
>>> pbnn.conformal.report(conf, ds.X_test[300:], ds.y_test[300:])["kind"].values.tolist()
['conformal', 'bayesian']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from pbnn import metrics
from pbnn.errors import DataError
from pbnn.predict import Predictions
from pbnn.results import Fit
from pbnn.spec import BNN
from pbnn.validation import as_numeric, check_data, check_positive_int, check_seed, check_X

__all__ = ["SCORES", "CVPlus", "Conformal", "calibrate", "check_alpha", "conformal_quantile", "cv_plus", "report"]

#: Conformity scores per task: name -> what it is. The first of each task is its default.
SCORES: dict[str, dict[str, str]] = {
    "regression": {
        "normalized": "|y - mean| / sd, with the predictive mean and total sd: intervals mean +- q sd",
        "absolute": "|y - mean|: intervals mean +- q, one width everywhere",
    },
    "classification": {
        "aps": "adaptive prediction sets: the probability of the classes more probable than y, plus y's "
               "(randomized: u times y's)",
        "lac": "1 - p_y: the classes with p >= 1 - q",
    },
}

#: Slack on ``(n + 1)(1 - alpha)`` before rounding, so that 10 * (1 - 0.7) = 3.0000000000000004 counts as 3.
_ROUNDING = 1e-9
#: Upper bound on the elements of one block of CV+'s (test points x training points) arrays.
_BLOCK_ELEMENTS = 2**22


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a float in (0, 1), or a ``ValueError`` naming it."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float | np.number) or not 0 < alpha < 1:
        raise ValueError(f"alpha: expected a number in (0, 1), got {alpha!r}")
    return float(alpha)


def _rank(n: int, alpha: float) -> int:
    """``ceil((n + 1)(1 - alpha))``: the rank of the conformal quantile among ``n`` scores."""
    return math.ceil((n + 1) * (1.0 - alpha) - _ROUNDING)


def _smallest_n(alpha: float, enough) -> int:
    """The fewest points ``n`` for which ``enough(n)`` holds (it holds from about ``1 / alpha - 1`` on)."""
    n = max(1, math.floor(1.0 / alpha) - 2)
    while not enough(n):
        n += 1
    return n


def conformal_quantile(scores: Any, alpha: float, name: str = "scores") -> float:
    """The split-conformal quantile of ``n`` calibration scores: the ``ceil((n + 1)(1 - alpha))``-th smallest,
    i.e. ``np.quantile(scores, ceil((n + 1)(1 - alpha)) / n, method="inverted_cdf")``.

    A new score is at most this with probability at least ``1 - alpha`` (exchangeable data). Fewer than
    ``(1 - alpha) / alpha`` scores have no such quantile: ``ValueError`` naming ``name``.

    >>> conformal_quantile([5, 1, 4, 2, 3, 9, 8, 7, 6], 0.1)   # n = 9: the 9th smallest
    9.0
    >>> conformal_quantile(range(1, 20), 0.1)                  # n = 19: ceil(20 * 0.9) = 18th
    18.0
    """
    alpha = check_alpha(alpha)
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    n, k = len(values), _rank(len(values), alpha)
    if k > n:
        raise ValueError(f"{name}: {n} calibration points are too few for alpha={alpha:g}: the conformal quantile is "
                         f"the ceil((n + 1)(1 - alpha))-th smallest score, {k} > {n}; use at least "
                         f"{_smallest_n(alpha, lambda m: _rank(m, alpha) <= m)} points or a larger alpha")
    if np.isnan(values).any():
        raise ValueError(f"{name}: {int(np.isnan(values).sum())} conformity score(s) are NaN")
    return float(np.partition(values, k - 1)[k - 1])


class Conformal:
    """A fit calibrated by split conformal prediction (:func:`calibrate`): intervals or sets at level ``1 - alpha``.

    ``quantile`` is the conformal quantile of the ``n_calibration`` scores ``score`` (:data:`SCORES`).
    """

    def __init__(self, fit: Fit, *, alpha: float, score: str, quantile: float, n_calibration: int,
                 randomized: bool, seed: int) -> None:
        self.fit, self.alpha, self.score, self.quantile = fit, alpha, score, quantile
        self.n_calibration, self.randomized, self.seed = n_calibration, randomized, seed

    @property
    def task(self) -> str:
        return self.fit.spec.task

    def predict(self, X: Any) -> xr.Dataset:
        """Regression: ``mean``, ``lower``, ``upper`` (obs); classification: ``set`` (obs, class; True: in the set,
        the class coordinate holds the fit's class names) and its ``size`` (obs). Randomized APS draws one
        uniform per point from ``(seed, 1)``: the same ``X`` gets the same sets."""
        return self._region(_predictions(self.fit, X, "X"))

    def coverage(self, X: Any, y: Any) -> float:
        """The fraction of targets ``y`` inside their interval (set) at inputs ``X``."""
        return float(self.evaluate(X, y)["coverage"])

    def evaluate(self, X: Any, y: Any) -> xr.Dataset:
        """``coverage`` and the mean ``width`` of the intervals (regression) or the mean set ``size`` and the
        fraction of ``empty`` sets (classification) on ``X``, ``y``."""
        pred = _predictions(self.fit, X, "X")
        return _evaluate(self._region(pred), _targets(pred, y, "y"), self.alpha)

    def _region(self, pred: Predictions) -> xr.Dataset:
        attrs = {"alpha": self.alpha, "score": self.score, "quantile": self.quantile,
                 "n_calibration": self.n_calibration}
        obs = pred["predictions"]["obs"].values
        if self.task == "regression":
            mean, sd = _mean_sd(pred)
            half = self.quantile * (sd if self.score == "normalized" else 1.0)
            return xr.Dataset({"mean": ("obs", mean), "lower": ("obs", mean - half), "upper": ("obs", mean + half)},
                              coords={"obs": obs}, attrs=attrs)
        probs = metrics.predictive_mean(pred.draws())
        rng = np.random.default_rng((self.seed, 1))
        members = _sets(self.score, probs, self.quantile, self.randomized, rng)
        attrs["randomized"] = int(self.randomized)
        return xr.Dataset({"set": (("obs", "class"), members), "size": ("obs", members.sum(axis=1))},
                          coords={"obs": obs, "class": np.asarray(pred.labels.names)}, attrs=attrs)

    def __repr__(self) -> str:
        return (f"Conformal({self.fit.spec.name!r}, {self.task}, score={self.score!r}, alpha={self.alpha:g}, "
                f"quantile={self.quantile:.4g}, n_calibration={self.n_calibration})")


def calibrate(fit: Fit, X_cal: Any, y_cal: Any, *, alpha: float = 0.1, score: str | None = None,
              randomized: bool = True, seed: int = 0) -> Conformal:
    """Split conformal prediction: calibrate ``fit`` on held-out ``X_cal``, ``y_cal`` (not used in fitting).

    Regression scores: ``"normalized"`` (default) ``|y - mean| / sd`` with the posterior predictive mean and
    total sd (``pbnn.uncertainty``'s ``total_std``: noise and weight uncertainty), or ``"absolute"``
    ``|y - mean|``. The normalized score is the default because its intervals ``mean +- q sd`` follow the
    model's own local uncertainty: wider where the (heteroscedastic) noise is larger or the inputs lie
    far from the training data; the absolute score gives every point the same width, too wide where the
    model is sure and too narrow where it is not. Both keep the marginal guarantee; for a homoscedastic
    point fit (MAP of ``"normal"``) the sd is one number and both give the same intervals. Measured on
    ``sin(x) + (0.1 + 0.3 |x|)`` noise with a heteroscedastic MAP fit (``tests/test_conformal.py``'s data): both
    cover 0.90-0.91 of all test points, the absolute score 0.999 of those with ``|x| < 1`` and 0.79 of those with
    ``|x| > 2``, the normalized one 0.908 and 0.903.

    Classification: ``"aps"`` (default), adaptive prediction sets (Romano, Sesia & Candes 2020) on the
    posterior predictive class probabilities: the score of a label is the probability of the classes more
    probable than it plus its own; a set holds the most probable classes until their probability reaches the
    quantile. ``randomized=True`` (default, as in the paper) scales the label's own share by a uniform draw
    (seeded by ``seed``): coverage is then 1 - alpha up to ``1 / (n + 1)`` instead of at least ``1 - alpha``
    (a classifier with few classes overcovers by a lot without it), at the price of sets that depend on the
    draw and may be empty. ``randomized=False``: the classes until the one whose probability crosses the
    quantile, never empty. ``"lac"``: ``1 - p_y``, the smallest sets on average, but not adaptive.

    The quantile is the ``ceil((n + 1)(1 - alpha))``-th smallest of the ``n`` scores
    (:func:`conformal_quantile`); fewer than ``(1 - alpha) / alpha`` calibration points are refused.
    """
    if not isinstance(fit, Fit):
        raise TypeError(f"fit: expected a pbnn Fit (from pbnn.fit), got {type(fit).__name__}")
    alpha = check_alpha(alpha)
    task = fit.spec.task
    score = _check_score(task, score)
    if not isinstance(randomized, bool):
        raise TypeError(f"randomized: expected True or False, got {randomized!r}")
    seed = check_seed(seed)
    if seed is None:
        raise ValueError("seed: expected a non-negative integer; conformal sets are seeded")
    pred = _predictions(fit, X_cal, "X_cal")
    y = _targets(pred, y_cal, "y_cal")
    if task == "regression":
        mean, sd = _mean_sd(pred)
        degenerate = int((~(np.isfinite(sd) & (sd > 0))).sum())
        if score == "normalized" and degenerate:
            raise ValueError(f"score: 'normalized' divides by the predictive sd, which is 0 or not finite at "
                             f"{degenerate} calibration point(s); use score='absolute'")
        values = np.abs(y - mean) / (sd if score == "normalized" else 1.0)
    else:
        probs = metrics.predictive_mean(pred.draws())
        u = np.random.default_rng((seed, 0)).random(len(y))
        values = _label_scores(score, probs, randomized, u)[np.arange(len(y)), y]
    quantile = conformal_quantile(values, alpha, "X_cal")
    return Conformal(fit, alpha=alpha, score=score, quantile=quantile, n_calibration=len(y),
                     randomized=randomized and score == "aps", seed=seed)


def report(conformal: Conformal, X: Any, y: Any) -> xr.Dataset:
    """Coverage of the conformal region and of the Bayesian one on ``X``, ``y``, along ``kind``
    (``"conformal"``, ``"bayesian"``; a dim named ``method`` would clash with ``Dataset.sel``'s argument), with
    the target ``1 - alpha`` in the attributes.

    Regression: ``coverage`` and mean ``width``; the Bayesian region is the central ``1 - alpha`` interval of
    the posterior predictive (:func:`pbnn.uncertainty`, ``lower``/``upper``). Classification: ``coverage``,
    mean set ``size`` and the fraction of ``empty`` sets; the Bayesian set holds the most probable classes
    until their predictive probability reaches ``1 - alpha``.
    """
    from pbnn.uncertainty import uncertainty

    if not isinstance(conformal, Conformal):
        raise TypeError("conformal: expected a Conformal (from pbnn.conformal.calibrate), "
                        f"got {type(conformal).__name__}")
    pred = _predictions(conformal.fit, X, "X")
    y = _targets(pred, y, "y")
    ours = conformal._region(pred)
    if conformal.task == "regression":
        u = uncertainty(pred, prob=1.0 - conformal.alpha)
        bayes = u[["lower", "upper"]]
    else:
        probs = metrics.predictive_mean(pred.draws())
        bayes = xr.Dataset({"set": (("obs", "class"), _sets("aps", probs, 1.0 - conformal.alpha, False, None))})
    rows = [_evaluate(region, y, conformal.alpha) for region in (ours, bayes)]
    out = xr.concat(rows, dim=xr.DataArray(["conformal", "bayesian"], dims="kind", name="kind"))
    out.attrs.update(target=1.0 - conformal.alpha, score=conformal.score, n_calibration=conformal.n_calibration,
                     n_test=len(y), fit_method=conformal.fit.method)
    return out


class CVPlus:
    """CV+ intervals (:func:`cv_plus`): ``fits[k]`` was fitted without fold ``k``; ``fold[i]`` is point ``i``'s
    fold and ``residuals[i] = |y_i - mean_{-fold[i]}(x_i)|`` its residual under the fit that left it out."""

    def __init__(self, spec: BNN, fits: list[Fit], fold: np.ndarray, residuals: np.ndarray, alpha: float) -> None:
        self.spec, self.fits, self.fold, self.residuals, self.alpha = spec, fits, fold, residuals, alpha

    def predict(self, X: Any) -> xr.Dataset:
        """``lower``, ``upper`` (obs): the ``floor(alpha (n + 1))``-th smallest of ``mean_{-fold[i]}(x) - R_i``
        and the ``ceil((1 - alpha)(n + 1))``-th smallest of ``mean_{-fold[i]}(x) + R_i`` over the ``n``
        training points (Barber et al. 2021, eq. 6)."""
        X = _check_inputs(self.fits[0], X, "X")
        means = np.stack([_mean_sd(f.predict(X))[0] for f in self.fits])   # (folds, m)
        n = len(self.residuals)
        k_low, k_high = _cv_plus_ranks(n, self.alpha)
        lower, upper = np.empty(len(X)), np.empty(len(X))
        block = max(1, _BLOCK_ELEMENTS // n)
        for s in range(0, len(X), block):
            at_points = means[self.fold, s : s + block].T                  # (block, n): mean_{-fold[i]}(x)
            lower[s : s + block] = np.partition(at_points - self.residuals, k_low - 1, axis=1)[:, k_low - 1]
            upper[s : s + block] = np.partition(at_points + self.residuals, k_high - 1, axis=1)[:, k_high - 1]
        return xr.Dataset({"lower": ("obs", lower), "upper": ("obs", upper)}, coords={"obs": np.arange(len(X))},
                          attrs={"alpha": self.alpha, "folds": len(self.fits), "n_train": n})

    def coverage(self, X: Any, y: Any) -> float:
        """The fraction of targets ``y`` inside their CV+ interval at inputs ``X``."""
        return float(self.evaluate(X, y)["coverage"])

    def evaluate(self, X: Any, y: Any) -> xr.Dataset:
        """``coverage`` and mean ``width`` of the CV+ intervals on ``X``, ``y``."""
        region = self.predict(X)
        return _evaluate(region, _regression_targets(y, len(region["obs"]), "y"), self.alpha)

    def __repr__(self) -> str:
        return (f"CVPlus({self.spec.name!r}, folds={len(self.fits)}, n_train={len(self.residuals)}, "
                f"alpha={self.alpha:g})")


def cv_plus(spec: BNN, X: Any, y: Any, *, folds: int = 5, alpha: float = 0.1, seed: int = 0,
            progressbar: bool = False, **fit_options: Any) -> CVPlus:
    """CV+ for regression (Barber, Candes, Ramdas & Tibshirani 2021): ``folds`` fits of ``spec`` by
    :func:`pbnn.fit` (``fit_options``: ``method`` and its options, ``standardize``), fit ``k`` on every
    point outside fold ``k`` with seed ``seed + k``; each point's residual is taken under the fit that
    left it out. Coverage is at least ``1 - 2 alpha`` in theory and near ``1 - alpha`` in practice; nothing is
    held out. Folds are a seeded shuffle (``sklearn.model_selection.KFold``): equal sizes when ``folds``
    divides ``n``, so the fits share one compiled program.
    """
    import pbnn
    from sklearn.model_selection import KFold

    if not isinstance(spec, BNN):
        raise TypeError(f"spec: expected a pbnn.BNN, got {type(spec).__name__}")
    if spec.task != "regression":
        raise TypeError(f"spec: CV+ is for regression; this is a {spec.task} spec (use pbnn.conformal.calibrate "
                        "for prediction sets)")
    alpha = check_alpha(alpha)
    seed = check_seed(seed)
    if seed is None:
        raise ValueError("seed: expected a non-negative integer; the folds are seeded")
    X, y = check_data(spec, X, y)
    folds = check_positive_int("folds", folds)
    if not 2 <= folds <= len(X):
        raise ValueError(f"folds: expected 2 to n_samples ({len(X)}) folds, got {folds}")
    _cv_plus_ranks(len(X), alpha, "X")
    fold = np.empty(len(X), dtype=np.int64)
    residuals = np.empty(len(X))
    fits = []
    for k, (train, held_out) in enumerate(KFold(folds, shuffle=True, random_state=seed).split(X)):
        fit = pbnn.fit(spec, X[train], y[train], seed=(seed + k) % 2**32, progressbar=progressbar, **fit_options)
        fold[held_out] = k
        residuals[held_out] = np.abs(y[held_out] - _mean_sd(fit.predict(X[held_out]))[0])
        fits.append(fit)
    return CVPlus(spec, fits, fold, residuals, alpha)


def _cv_plus_ranks(n: int, alpha: float, name: str = "X") -> tuple[int, int]:
    """CV+'s ranks among ``n`` values: ``floor(alpha (n + 1))`` and ``ceil((1 - alpha)(n + 1))``."""
    def ranks(m: int) -> tuple[int, int]:
        return math.floor(alpha * (m + 1) + _ROUNDING), _rank(m, alpha)

    k_low, k_high = ranks(n)
    if k_low < 1 or k_high > n:
        fewest = _smallest_n(alpha, lambda m: ranks(m)[0] >= 1 and ranks(m)[1] <= m)
        raise ValueError(f"{name}: {n} training points are too few for CV+ at alpha={alpha:g}: it needs "
                         f"floor(alpha (n + 1)) >= 1; use at least {fewest} points or a larger alpha")
    return k_low, k_high


# -- scores, regions, evaluation ---------------------------------------------------------------

def _check_score(task: str, score: str | None) -> str:
    choices = SCORES[task]
    if score is None:
        return next(iter(choices))
    if score not in choices:
        raise ValueError(f"score: unknown score {score!r} for {task}; expected one of {', '.join(choices)}")
    return score


def _label_scores(score: str, probs: np.ndarray, randomized: bool, u: np.ndarray | None) -> np.ndarray:
    """The score of every label at every point, (N, K); a label is in a set when its score is <= the quantile."""
    if score == "lac":
        return 1.0 - probs
    order = np.argsort(-probs, axis=1, kind="stable")
    ranked = np.take_along_axis(probs, order, axis=1)
    before = np.cumsum(ranked, axis=1) - ranked                  # probability of the more probable classes
    own = ranked * (u[:, None] if randomized else 1.0)
    values = np.empty_like(probs)
    np.put_along_axis(values, order, before + own, axis=1)
    return values


def _sets(score: str, probs: np.ndarray, quantile: float, randomized: bool, rng: np.random.Generator | None):
    """Membership (N, K) of the sets at ``quantile``. Non-randomized APS holds the most probable classes until
    their probability reaches the quantile (the class that crosses it included), as in Romano et al. (2020)."""
    if score == "aps" and not randomized:
        aps = _label_scores("aps", probs, False, None)
        return aps - probs < quantile
    u = rng.random(len(probs)) if randomized else None
    return _label_scores(score, probs, randomized, u) <= quantile


def _evaluate(region: xr.Dataset, y: np.ndarray, alpha: float) -> xr.Dataset:
    if "set" in region:
        members = region["set"].values
        size = members.sum(axis=1)
        out = {"coverage": float(members[np.arange(len(y)), y].mean()), "size": float(size.mean()),
               "empty": float((size == 0).mean())}
    else:
        lower, upper = region["lower"].values, region["upper"].values
        out = {"coverage": metrics.interval_coverage(lower, upper, y), "width": float(np.mean(upper - lower))}
    return xr.Dataset(out, attrs={"target": 1.0 - alpha})


# -- inputs ------------------------------------------------------------------------------------

def _check_inputs(fit: Fit, X: Any, name: str) -> np.ndarray:
    X = check_X(X, name)
    if X.shape[1:] != fit.input_shape:
        raise DataError(f"{name}: expected inputs of shape {fit.input_shape} (n_samples excluded), as in training, "
                        f"got {X.shape[1:]}")
    return X


def _predictions(fit: Fit, X: Any, name: str) -> Predictions:
    return fit.predict(_check_inputs(fit, X, name))


def _targets(pred: Predictions, y: Any, name: str) -> np.ndarray:
    """``y`` for ``pred``'s points: class codes of a classifier (names as in training, or codes), else numbers."""
    n = pred["predictions"].sizes["obs"]
    if pred.task == "regression":
        return _regression_targets(y, n, name)
    if np.shape(y) != (n,):
        raise DataError(f"{name}: expected one label per row of X, shape ({n},), got {np.shape(y)}")
    return pred.labels.encode(np.asarray(y), name)


def _regression_targets(y: Any, n: int, name: str) -> np.ndarray:
    y = as_numeric(y, name)
    if y.shape != (n,):
        raise DataError(f"{name}: expected one target per row of X, shape ({n},), got {y.shape}")
    bad = int((~np.isfinite(y)).sum())
    if bad:
        raise DataError(f"{name}: expected finite values, found {bad} NaN/inf")
    return y.astype(np.float64)


def _mean_sd(pred: Predictions) -> tuple[np.ndarray, np.ndarray]:
    """Posterior predictive mean and total sd per point (law of total variance; :mod:`pbnn.metrics`)."""
    parts = metrics.moment_uncertainty(*pred.spec.likelihood_.moments(pred.outputs()))
    return parts.mean, parts.total_std
