"""Predictive uncertainty and scores on posterior-predictive draws.

Pure, vectorized functions on plain numpy arrays; the scores that scikit-learn and SciPy define
(AUROC, Brier score, Gaussian log densities, chi-square statistics) come from them.
Posterior draws are on the leading axis (``S`` draws, chains flattened):

* classification: ``probs`` of shape ``(S, N, K)``, class probabilities per
  draw (binary problems arrive as ``K = 2``);
* regression: ``mu`` of shape ``(S, N)`` and ``sigma`` of shape ``(S, N)`` or
  ``(S,)``, the per-draw Gaussian mean and noise scale, in the user's units.

Labels ``y`` are integer class labels of shape ``(N,)`` for classification
and real targets of shape ``(N,)`` for regression. Logs are natural, so
entropies and log densities are in nats. Standard deviations over draws use
``ddof=0`` (the draws are the distribution, not a sample to be corrected),
which makes the variance decomposition of :func:`regression_uncertainty` exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats
from sklearn.metrics import brier_score_loss, roc_auc_score

__all__ = [
    "AccuracyCoverage",
    "RegressionUncertainty",
    "accuracy",
    "accuracy_coverage_curve",
    "auroc",
    "brier",
    "calibration_table",
    "expected_calibration_error",
    "expected_entropy",
    "gaussian_log_likelihood",
    "interval_coverage",
    "label_spread_chi2",
    "label_spread_chi2_from_labels",
    "log_predictive_density",
    "mean_log_predictive_density",
    "mixture_quantile",
    "moment_uncertainty",
    "mutual_information",
    "predictive_interval",
    "predictive_mean",
    "predictive_std",
    "regression_uncertainty",
    "reject_mask",
    "rmse",
    "sample_labels",
    "total_entropy",
]

FloatArray = NDArray[np.float64]

# Smallest positive float: the floor for probabilities that go into a log, so
# that a zero probability gives a large finite penalty (about -708 nats)
# instead of -inf.
_TINY = np.finfo(np.float64).tiny


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _shape_str(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_probs(probs: ArrayLike, name: str = "probs") -> FloatArray:
    """Validate ``probs`` of shape (S, N, K); clip to [0, 1]."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 3:
        raise ValueError(f"{name} must have shape (S, N, K); got shape {_shape_str(p.shape)}")
    if p.shape[0] < 1 or p.shape[2] < 1:
        raise ValueError(
            f"{name} must have at least one draw (S >= 1) and one class (K >= 1); "
            f"got shape {_shape_str(p.shape)}"
        )
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be finite")
    # Round-off can push probabilities a hair outside [0, 1].
    return np.clip(p, 0.0, 1.0)


def _as_labels(y: ArrayLike, n: int, k: int, name: str = "y") -> NDArray[np.intp]:
    """Validate integer class labels of shape (N,) with values in [0, K)."""
    arr = np.asarray(y)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must have shape (N,) = ({n},) to match probs; "
            f"got shape {_shape_str(arr.shape)}"
        )
    if arr.dtype.kind == "b" or not (
        arr.dtype.kind in "iu" or (arr.dtype.kind == "f" and np.all(arr == np.round(arr)))
    ):
        raise ValueError(f"{name} must contain integer class labels")
    lab = arr.astype(np.intp)
    if lab.size and (lab.min() < 0 or lab.max() >= k):
        raise ValueError(
            f"{name} must contain class labels in [0, {k}); "
            f"got values in [{lab.min()}, {lab.max()}]"
        )
    return lab


def _need_points(n: int) -> None:
    if n < 1:
        raise ValueError("need at least one point (N >= 1) to compute a score")


def _as_mu_sigma(mu: ArrayLike, sigma: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate ``mu`` (S, N) and ``sigma`` (S, N) or (S,); broadcast sigma to (S, N)."""
    m = np.asarray(mu, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 1:
        raise ValueError(f"mu must have shape (S, N) with S >= 1; got shape {_shape_str(m.shape)}")
    s_, n = m.shape
    sd = np.asarray(sigma, dtype=np.float64)
    if sd.shape == (s_,):
        sd = sd[:, None]
    elif sd.shape != (s_, n):
        raise ValueError(
            f"sigma must have shape (S, N) = ({s_}, {n}) or (S,) = ({s_},) to match mu; "
            f"got shape {_shape_str(sd.shape)}"
        )
    if not (np.all(np.isfinite(m)) and np.all(np.isfinite(sd))):
        raise ValueError("mu and sigma must be finite")
    if np.any(sd <= 0):
        raise ValueError("sigma must be positive")
    return m, np.broadcast_to(sd, (s_, n))


def _as_targets(y: ArrayLike, n: int, name: str = "y") -> FloatArray:
    arr = np.asarray(y, dtype=np.float64)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must have shape (N,) = ({n},) to match mu; got shape {_shape_str(arr.shape)}"
        )
    return arr


def _entropy(p: FloatArray) -> FloatArray:
    """Shannon entropy over the last axis, with 0 log 0 = 0 (nats)."""
    return -np.sum(special.xlogy(p, p), axis=-1)


# --------------------------------------------------------------------------
# classification: per-point uncertainty
# --------------------------------------------------------------------------


def predictive_mean(probs: ArrayLike) -> FloatArray:
    """Posterior-predictive class probabilities, ``p̄[n, k] = mean_s p[s, n, k]``.

    Returns shape (N, K).

    >>> p = np.array([[[1.0, 0.0]], [[0.5, 0.5]]])  # S=2, N=1, K=2
    >>> predictive_mean(p)
    array([[0.75, 0.25]])
    """
    return _as_probs(probs).mean(axis=0)


def predictive_std(probs: ArrayLike) -> FloatArray:
    """Standard deviation of the class probabilities over draws (ddof=0), shape (N, K).

    >>> p = np.array([[[1.0, 0.0]], [[0.5, 0.5]]])
    >>> predictive_std(p)
    array([[0.25, 0.25]])
    """
    return _as_probs(probs).std(axis=0)


def total_entropy(probs: ArrayLike) -> FloatArray:
    """Entropy of the predictive mean, ``H[p̄] = -sum_k p̄_k log p̄_k`` (nats), shape (N,).

    Total predictive uncertainty = aleatoric + epistemic.

    >>> p = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # draws disagree completely
    >>> round(float(total_entropy(p)[0]), 6)  # log 2
    0.693147
    """
    return _entropy(_as_probs(probs).mean(axis=0))


def expected_entropy(probs: ArrayLike) -> FloatArray:
    """Mean entropy of the draws, ``mean_s H[p_s]`` (nats), shape (N,): the aleatoric part.

    >>> p = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> expected_entropy(p)
    array([0.])
    """
    return _entropy(_as_probs(probs)).mean(axis=0)


def mutual_information(probs: ArrayLike) -> FloatArray:
    """Mutual information between label and parameters (BALD), shape (N,), in nats.

    ``MI = H[mean_s p_s] - mean_s H[p_s] >= 0``: the epistemic part. Tiny negative
    values from rounding are clipped to 0.

    >>> p = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    >>> round(float(mutual_information(p)[0]), 6)  # log 2
    0.693147
    """
    p = _as_probs(probs)
    mi = _entropy(p.mean(axis=0)) - _entropy(p).mean(axis=0)
    return np.maximum(mi, 0.0)


def sample_labels(
    probs: ArrayLike,
    seed: int | np.random.Generator | None = None,
    n_labels: int = 1,
) -> NDArray[np.intp]:
    """Draw ``n_labels`` class labels from each draw's categorical ``p[s, n, :]``.

    Returns shape (S * n_labels, N). Each row of probabilities is renormalized
    to sum to 1 (rows summing to 0 are not allowed).

    >>> p = np.array([[[0.0, 1.0]], [[1.0, 0.0]]])
    >>> sample_labels(p, seed=0).tolist()
    [[1], [0]]
    """
    p = _as_probs(probs)
    if not (isinstance(n_labels, (int, np.integer)) and n_labels >= 1):
        raise ValueError(f"n_labels must be a positive integer; got {n_labels!r}")
    cdf = np.cumsum(p, axis=-1)
    total = cdf[..., -1:]
    if np.any(total <= 0):
        raise ValueError("probs must have a positive sum over classes for every draw and point")
    cdf = cdf / total
    rng = np.random.default_rng(seed)
    s_, n, k = p.shape
    u = rng.random((n_labels, s_, n, 1))
    # label = number of cumulative probabilities strictly below u
    lab = np.sum(cdf[None] < u, axis=-1)
    lab = np.minimum(lab, k - 1)  # guards u above a cdf that rounds below 1
    return lab.reshape(n_labels * s_, n).astype(np.intp)


def label_spread_chi2_from_labels(labels: ArrayLike, n_classes: int) -> FloatArray:
    """Chi-square spread of sampled labels per point, shape (N,).

    The uncertainty measure of Wiecki's PyMC Bayesian deep learning tutorial:
    take one sampled label per posterior draw (``labels`` of shape (S, N)),
    count how often each of the ``K = n_classes`` classes occurs at each point
    and compute the chi-square statistic of these counts against the uniform
    distribution over classes (:func:`scipy.stats.chisquare`):
    ``chi2 = sum_k (c_k - S/K)^2 / (S/K)``. It ranges from 0 (labels spread
    perfectly evenly: most uncertain) to ``(K - 1) * S`` (all draws agree:
    most certain). **Low = spread-out labels = uncertain.**

    >>> labels = np.array([[0, 0], [0, 1], [0, 0], [0, 1]])  # S=4, N=2
    >>> label_spread_chi2_from_labels(labels, n_classes=2)
    array([4., 0.])
    """
    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.shape[0] < 1:
        raise ValueError(
            f"labels must have shape (S, N) with S >= 1; got shape {_shape_str(lab.shape)}"
        )
    if not (isinstance(n_classes, (int, np.integer)) and n_classes >= 2):
        raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}")
    if lab.dtype.kind not in "iu":
        raise ValueError("labels must contain integer class labels")
    if lab.size and (lab.min() < 0 or lab.max() >= n_classes):
        raise ValueError(f"labels must contain class labels in [0, {n_classes})")
    # counts[n, k] = number of draws with label k at point n
    counts = (lab[:, :, None] == np.arange(n_classes)).sum(axis=0)
    return np.asarray(stats.chisquare(counts, axis=-1).statistic, dtype=np.float64)


def label_spread_chi2(
    probs: ArrayLike,
    seed: int | np.random.Generator | None = None,
    n_labels: int = 1,
) -> FloatArray:
    """Chi-square label spread (Wiecki's tutorial measure) from probabilities, shape (N,).

    Samples ``n_labels`` labels from each draw's class probabilities
    (:func:`sample_labels`) and applies :func:`label_spread_chi2_from_labels`
    with ``K`` classes; the maximum is ``(K - 1) * S * n_labels``.
    Low = spread-out labels = uncertain. Random: pass ``seed`` to reproduce.

    >>> p = np.tile([[[1.0, 0.0, 0.0]]], (5, 1, 1))  # S=5 identical one-hots
    >>> label_spread_chi2(p, seed=0)
    array([10.])
    """
    p = _as_probs(probs)
    return label_spread_chi2_from_labels(sample_labels(p, seed, n_labels), n_classes=p.shape[2])


# --------------------------------------------------------------------------
# regression: per-point uncertainty and intervals
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RegressionUncertainty:
    """Per-point regression uncertainty, each field of shape (N,).

    ``total_std**2 == epistemic_std**2 + aleatoric_std**2`` is the variance of
    the Gaussian mixture over draws (law of total variance).
    """

    mean: FloatArray
    epistemic_std: FloatArray
    aleatoric_std: FloatArray
    total_std: FloatArray

    def as_dict(self) -> dict[str, FloatArray]:
        return {
            "mean": self.mean,
            "epistemic_std": self.epistemic_std,
            "aleatoric_std": self.aleatoric_std,
            "total_std": self.total_std,
        }


def regression_uncertainty(mu: ArrayLike, sigma: ArrayLike) -> RegressionUncertainty:
    """Decompose predictive uncertainty of a Gaussian-likelihood regression.

    ``mean = mean_s mu_s``; ``epistemic_std = std_s mu_s`` (ddof=0);
    ``aleatoric_std = sqrt(mean_s sigma_s^2)``;
    ``total_std = sqrt(epistemic_std^2 + aleatoric_std^2)``.

    >>> u = regression_uncertainty(np.array([[0.0], [2.0]]), np.array([1.0, 1.0]))
    >>> float(u.mean[0]), float(u.epistemic_std[0]), float(u.aleatoric_std[0])
    (1.0, 1.0, 1.0)
    >>> round(float(u.total_std[0]), 6)  # sqrt(2)
    1.414214
    """
    m, sd = _as_mu_sigma(mu, sigma)
    return moment_uncertainty(m, sd**2)


def moment_uncertainty(mean: ArrayLike, var: ArrayLike) -> RegressionUncertainty:
    """Decompose predictive uncertainty from each draw's mean and variance of ``y``, each (S, N).

    Law of total variance: ``total = E_s[var_s] + Var_s[mean_s]``; ``aleatoric_std = sqrt(E_s[var_s])``,
    ``epistemic_std = std_s mean_s`` (ddof=0). Any likelihood with per-draw moments fits (Poisson: ``var = mean``).

    >>> u = moment_uncertainty(np.array([[1.0], [3.0]]), np.array([[1.0], [3.0]]))  # two Poisson rates
    >>> float(u.epistemic_std[0]), round(float(u.aleatoric_std[0]) ** 2, 12)
    (1.0, 2.0)
    """
    m, v = np.asarray(mean, dtype=np.float64), np.asarray(var, dtype=np.float64)
    epi = m.std(axis=0)
    ale = np.sqrt(np.mean(v, axis=0))
    return RegressionUncertainty(
        mean=m.mean(axis=0),
        epistemic_std=epi,
        aleatoric_std=ale,
        total_std=np.sqrt(epi**2 + ale**2),
    )


def mixture_quantile(
    mu: ArrayLike,
    sigma: ArrayLike,
    q: float,
    *,
    xtol: float = 1e-10,
    max_iter: int = 100,
) -> FloatArray:
    """Quantile ``q`` of the equal-weight Gaussian mixture over draws, per point, shape (N,).

    Solves ``F(x) = mean_s Phi((x - mu_s) / sigma_s) = q``, vectorized over
    points, by Newton's method safeguarded with bisection (``rtsafe``). The
    root lies in ``[min_s Q_s, max_s Q_s]``, ``Q_s = mu_s + sigma_s Phi^{-1}(q)``
    the components' quantiles (so a single draw gives ``Q_1`` exactly); the
    bracket shrinks every step, and a Newton step that leaves it or fails to
    halve the previous step is replaced by bisection. A point is done when its
    step or bracket is below ``xtol * mean_s sigma_s``. For ``q`` where the
    mixture CDF is flat (a gap between modes) any root is returned.
    Memory and time per step are O(S * N).

    >>> x = mixture_quantile(np.array([[0.0]]), np.array([1.0]), 0.975)
    >>> round(float(x[0]), 4)
    1.96
    """
    m, sd = _as_mu_sigma(mu, sigma)
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1); got {q!r}")
    # Newton steps with the mixture density take half the time of the derivative-free
    # scipy.optimize.elementwise.find_root (Chandrupatla) here: 8.6 s vs 17.3 s for both ends of a 90%
    # interval on 20 draws x 1e5 points (loaded 2-core machine, 2026-12-01), the same roots to 4e-11.
    z_q = special.ndtri(q)
    comp_q = m + sd * z_q
    lo = comp_q.min(axis=0)
    hi = comp_q.max(axis=0)
    tol = xtol * sd.mean(axis=0)
    # start from the quantile of the moment-matched Gaussian, inside the bracket
    total_sd = np.sqrt(m.var(axis=0) + np.mean(sd**2, axis=0))
    x = np.clip(m.mean(axis=0) + z_q * total_sd, lo, hi)
    active = np.flatnonzero(hi - lo > tol)
    last_step = hi - lo  # previous step size (rtsafe); starts at the bracket width
    x[hi - lo <= tol] = 0.5 * (lo + hi)[hi - lo <= tol]
    inv_sqrt_2pi = 1.0 / np.sqrt(2.0 * np.pi)
    for _ in range(max_iter):
        if active.size == 0:
            break
        ma, sa, xa = m[:, active], sd[:, active], x[active]
        z = (xa - ma) / sa
        cdf = special.ndtr(z).mean(axis=0)
        pdf = (np.exp(-0.5 * z**2) / sa).mean(axis=0) * inv_sqrt_2pi
        below = cdf < q
        la = np.where(below, xa, lo[active])
        ha = np.where(below, hi[active], xa)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = xa - (cdf - q) / pdf
        # Newton only if it stays inside the bracket and at least halves the
        # previous step; otherwise bisect (Numerical Recipes' rtsafe)
        ok = (
            np.isfinite(newton)
            & (newton >= la)  # inclusive: an exact root (cdf == q) is kept
            & (newton <= ha)
            & (np.abs(newton - xa) <= 0.5 * last_step[active])
        )
        xn = np.where(ok, newton, 0.5 * (la + ha))
        last_step[active] = np.abs(xn - xa)
        lo[active], hi[active], x[active] = la, ha, xn
        done = (np.abs(xn - xa) <= tol[active]) | (ha - la <= tol[active])
        active = active[~done]
    return x


def predictive_interval(
    mu: ArrayLike,
    sigma: ArrayLike,
    prob: float = 0.9,
    *,
    xtol: float = 1e-10,
) -> tuple[FloatArray, FloatArray]:
    """Central ``prob`` interval of the posterior-predictive Gaussian mixture, per point.

    ``lower, upper`` are the ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles of
    ``p(y) = mean_s N(y | mu_s, sigma_s^2)`` (analytic, by bisection on the
    mixture CDF; see :func:`mixture_quantile`). Each has shape (N,). For a single
    draw this is ``mu ± Phi^{-1}((1 + prob)/2) sigma`` (``± 1.645 sigma`` for 0.9).

    >>> lo, hi = predictive_interval(np.array([[0.0]]), np.array([2.0]), prob=0.9)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (-3.2897, 3.2897)
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1); got {prob!r}")
    alpha = 0.5 * (1.0 - prob)
    lower = mixture_quantile(mu, sigma, alpha, xtol=xtol)
    upper = mixture_quantile(mu, sigma, 1.0 - alpha, xtol=xtol)
    return lower, upper


# --------------------------------------------------------------------------
# classification scores
# --------------------------------------------------------------------------


def accuracy(probs: ArrayLike, y: ArrayLike) -> float:
    """Fraction of points whose predictive-mean argmax equals ``y``.

    >>> p = np.array([[[0.9, 0.1], [0.4, 0.6]]])  # S=1, N=2
    >>> accuracy(p, [0, 0])
    0.5
    """
    p = _as_probs(probs)
    lab = _as_labels(y, p.shape[1], p.shape[2])
    _need_points(p.shape[1])
    return float(np.mean(p.mean(axis=0).argmax(axis=-1) == lab))


def log_predictive_density(probs: ArrayLike, y: ArrayLike) -> float:
    """Mean log posterior-predictive probability of the labels (nats per point).

    ``LPD = (1/N) sum_n log( (1/S) sum_s p_s(y_n) )``, computed as
    ``logsumexp_s log p_s(y_n) - log S``; probabilities are floored at the
    smallest positive float so a zero gives about -708 instead of -inf.

    >>> p = np.array([[[0.6, 0.4]], [[0.8, 0.2]]])  # S=2, N=1
    >>> round(log_predictive_density(p, [0]), 6)  # log 0.7
    -0.356675
    """
    p = _as_probs(probs)
    s_, n, k = p.shape
    lab = _as_labels(y, n, k)
    _need_points(n)
    py = p[:, np.arange(n), lab]  # (S, N)
    lpd = special.logsumexp(np.log(np.maximum(py, _TINY)), axis=0) - np.log(s_)
    return float(lpd.mean())


def brier(probs: ArrayLike, y: ArrayLike) -> float:
    """Multi-class Brier score of the predictive mean (lower is better, in [0, 2]).

    ``(1/N) sum_n sum_k (p̄_{nk} - 1[y_n = k])^2``: :func:`sklearn.metrics.brier_score_loss` without its
    halving of binary scores.

    >>> p = np.array([[[0.7, 0.3]]])
    >>> round(brier(p, [0]), 6)  # 0.3^2 + 0.3^2
    0.18
    """
    p = _as_probs(probs)
    n, k = p.shape[1:]
    lab = _as_labels(y, n, k)
    _need_points(n)
    if k < 2:
        raise ValueError(f"probs must have at least two classes (K >= 2) for a Brier score; got K = {k}")
    return float(brier_score_loss(lab, p.mean(axis=0), labels=np.arange(k), scale_by_half=False))


def calibration_table(probs: ArrayLike, y: ArrayLike, n_bins: int = 10) -> dict[str, NDArray]:
    """Reliability table of top-label confidence, ``n_bins`` equal-width bins over [0, 1].

    Confidence = max predictive-mean probability, correct = its argmax equals ``y``.
    Bin ``b`` covers ``[b/B, (b+1)/B)``, the last bin also includes 1. Returns a
    dict of arrays of shape (n_bins,): ``bin_lower``, ``bin_upper``, ``count``
    (int), ``confidence`` (mean confidence) and ``accuracy``; the last two are
    NaN for empty bins.

    >>> p = np.array([[[0.9, 0.1], [0.9, 0.1], [0.3, 0.7]]])
    >>> t = calibration_table(p, [0, 1, 1], n_bins=5)
    >>> t["count"].tolist(), t["accuracy"][3:].tolist()
    ([0, 0, 0, 1, 2], [1.0, 0.5])
    """
    p = _as_probs(probs)
    n, k = p.shape[1:]
    lab = _as_labels(y, n, k)
    if not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}")
    pbar = p.mean(axis=0)
    conf = pbar.max(axis=-1)
    correct = (pbar.argmax(axis=-1) == lab).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], conf, side="right")  # in 0 .. n_bins-1
    count = np.bincount(idx, minlength=n_bins)
    sum_conf = np.bincount(idx, weights=conf, minlength=n_bins)
    sum_corr = np.bincount(idx, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, sum_conf / count, np.nan)
        acc = np.where(count > 0, sum_corr / count, np.nan)
    return {
        "bin_lower": edges[:-1],
        "bin_upper": edges[1:],
        "count": count,
        "confidence": mean_conf,
        "accuracy": acc,
    }


def expected_calibration_error(probs: ArrayLike, y: ArrayLike, n_bins: int = 10) -> float:
    """Expected calibration error, ``ECE = sum_b (n_b / N) |acc_b - conf_b|``.

    Bins as in :func:`calibration_table`; empty bins contribute 0.

    >>> p = np.tile([[[0.9, 0.1]]], (1, 10, 1))  # always 90% sure of class 0
    >>> round(expected_calibration_error(p, [0] * 6 + [1] * 4), 6)  # right 60% of the time
    0.3
    """
    t = calibration_table(probs, y, n_bins)
    n = int(t["count"].sum())
    _need_points(n)
    nonempty = t["count"] > 0
    gaps = np.abs(t["accuracy"][nonempty] - t["confidence"][nonempty])
    return float(np.sum(t["count"][nonempty] / n * gaps))


# --------------------------------------------------------------------------
# regression scores
# --------------------------------------------------------------------------


def rmse(mu: ArrayLike, y: ArrayLike) -> float:
    """Root mean squared error of the predictive mean ``mean_s mu_s`` (``mu`` of shape (S, N)).

    >>> rmse(np.array([[1.0, 2.0], [3.0, 4.0]]), [2.0, 5.0])  # means [2, 3]
    1.4142135623730951
    """
    m = np.asarray(mu, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 1:
        raise ValueError(f"mu must have shape (S, N) with S >= 1; got shape {_shape_str(m.shape)}")
    t = _as_targets(y, m.shape[1])
    _need_points(m.shape[1])
    return float(np.sqrt(np.mean((m.mean(axis=0) - t) ** 2)))


def gaussian_log_likelihood(mu: ArrayLike, sigma: ArrayLike, y: ArrayLike) -> float:
    """Test log-likelihood, mean over points of ``log mean_s N(y_n | mu_sn, sigma_sn^2)`` (nats).

    The predictive test LL of Hernández-Lobato & Adams (2015) and Gal & Ghahramani
    (2016), via logsumexp over draws.

    >>> round(gaussian_log_likelihood(np.array([[0.0]]), np.array([1.0]), [0.0]), 6)
    -0.918939
    """
    m, sd = _as_mu_sigma(mu, sigma)
    n = m.shape[1]
    t = _as_targets(y, n)
    _need_points(n)
    return mean_log_predictive_density(stats.norm.logpdf(t, m, sd))


def mean_log_predictive_density(log_lik: ArrayLike) -> float:
    """Mean over points of ``log mean_s p(y_n | draw s)`` (nats) from the pointwise log-likelihood (S, N).

    >>> round(mean_log_predictive_density(np.log([[0.2, 0.5], [0.4, 0.5]])), 5)  # log 0.3, log 0.5
    -0.94856
    """
    ll = np.asarray(log_lik, dtype=np.float64)
    if ll.ndim != 2 or ll.shape[0] < 1:
        raise ValueError(f"log_lik must have shape (S, N) with S >= 1; got shape {_shape_str(ll.shape)}")
    _need_points(ll.shape[1])
    return float(np.mean(special.logsumexp(ll, axis=0) - np.log(ll.shape[0])))


def interval_coverage(lower: ArrayLike, upper: ArrayLike, y: ArrayLike) -> float:
    """Fraction of points with ``lower_n <= y_n <= upper_n``; all arguments of shape (N,).

    >>> interval_coverage([0, 0, 0], [1, 1, 1], [0.5, 1.0, 2.0])
    0.6666666666666666
    """
    lo = np.asarray(lower, dtype=np.float64)
    if lo.ndim != 1:
        raise ValueError(f"lower must have shape (N,); got shape {_shape_str(lo.shape)}")
    n = lo.shape[0]
    hi = np.asarray(upper, dtype=np.float64)
    if hi.shape != (n,):
        raise ValueError(
            f"upper must have shape (N,) = ({n},) to match lower; got shape {_shape_str(hi.shape)}"
        )
    t = np.asarray(y, dtype=np.float64)
    if t.shape != (n,):
        raise ValueError(
            f"y must have shape (N,) = ({n},) to match lower; got shape {_shape_str(t.shape)}"
        )
    _need_points(n)
    return float(np.mean((lo <= t) & (t <= hi)))


# --------------------------------------------------------------------------
# out-of-distribution detection and rejection
# --------------------------------------------------------------------------


def auroc(scores_in: ArrayLike, scores_out: ArrayLike) -> float:
    """Area under the ROC curve for detecting OOD points (positives) by a score.

    Larger score = more likely OOD. :func:`sklearn.metrics.roc_auc_score` with the OOD points as
    positives: the Mann-Whitney probability ``P(s_out > s_in) + 0.5 P(s_out = s_in)``.

    >>> round(auroc([0.1, 0.2, 0.5], [0.5, 0.9]), 6)  # (5 + 0.5) / 6
    0.916667
    """
    a = np.asarray(scores_in, dtype=np.float64)
    b = np.asarray(scores_out, dtype=np.float64)
    for name, arr in (("scores_in", a), ("scores_out", b)):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(
                f"{name} must have shape (n,) with n >= 1; got shape {_shape_str(arr.shape)}"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite")
    is_out = np.concatenate([np.zeros(a.size), np.ones(b.size)])
    return float(roc_auc_score(is_out, np.concatenate([a, b])))


class AccuracyCoverage(NamedTuple):
    """Result of :func:`accuracy_coverage_curve`; arrays of equal length."""

    coverage: FloatArray
    """fraction of points retained"""
    accuracy: FloatArray
    """accuracy on the retained points"""
    max_score: FloatArray
    """score threshold: points with ``score <= max_score`` are retained"""


def accuracy_coverage_curve(
    probs: ArrayLike, y: ArrayLike, score: ArrayLike | None = None
) -> AccuracyCoverage:
    """Accuracy on the most certain points as a function of the fraction retained.

    Points are sorted from most to least certain by ``score`` (shape (N,),
    larger = less certain; default ``1 - max_k p̄_k``) and retained greedily.
    Points with tied scores cannot be separated by a threshold, so the curve
    has one entry per distinct score: retaining every point with
    ``score <= max_score[i]`` gives ``coverage[i]`` and ``accuracy[i]``.
    Coverage increases to 1, where accuracy equals :func:`accuracy`.

    >>> p = np.array([[[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]])
    >>> c = accuracy_coverage_curve(p, [0, 1, 0], score=[0.1, 0.4, 0.2])
    >>> c.coverage.round(3).tolist(), c.accuracy.round(3).tolist()
    ([0.333, 0.667, 1.0], [1.0, 0.5, 0.333])
    """
    p = _as_probs(probs)
    n, k = p.shape[1:]
    lab = _as_labels(y, n, k)
    _need_points(n)
    pbar = p.mean(axis=0)
    if score is None:
        sc = 1.0 - pbar.max(axis=-1)
    else:
        sc = np.asarray(score, dtype=np.float64)
        if sc.shape != (n,):
            raise ValueError(
                f"score must have shape (N,) = ({n},) to match probs; "
                f"got shape {_shape_str(sc.shape)}"
            )
        if np.any(np.isnan(sc)):
            raise ValueError("score must not contain NaN")
    correct = pbar.argmax(axis=-1) == lab
    order = np.argsort(sc, kind="stable")
    sc_sorted = sc[order]
    cum_correct = np.cumsum(correct[order])
    # last index of each run of tied scores
    ends = np.flatnonzero(np.append(sc_sorted[1:] != sc_sorted[:-1], True))
    kept = ends + 1
    return AccuracyCoverage(
        coverage=kept / n,
        accuracy=cum_correct[ends] / kept,
        max_score=sc_sorted[ends],
    )


def reject_mask(
    probs: ArrayLike,
    threshold: float | None = None,
    score: ArrayLike | None = None,
    max_score: float | None = None,
) -> NDArray[np.bool_]:
    """Boolean mask of shape (N,), True where the model should refuse to classify.

    Rejects a point when its max predictive-mean probability is below
    ``threshold``, or when ``score`` (shape (N,), larger = less certain) is
    above ``max_score`` (NaN scores are rejected); with both criteria a point
    is rejected if either says so. At least one criterion must be given.

    >>> p = np.array([[[0.9, 0.1], [0.55, 0.45]]])
    >>> reject_mask(p, threshold=0.8).tolist()
    [False, True]
    >>> reject_mask(p, score=[0.3, 0.1], max_score=0.2).tolist()
    [True, False]
    """
    p = _as_probs(probs)
    n = p.shape[1]
    if threshold is None and max_score is None:
        raise ValueError("give threshold, or score with max_score")
    if (score is None) != (max_score is None):
        raise ValueError("score and max_score must be given together")
    reject = np.zeros(n, dtype=bool)
    if threshold is not None:
        reject |= p.mean(axis=0).max(axis=-1) < threshold
    if score is not None:
        sc = np.asarray(score, dtype=np.float64)
        if sc.shape != (n,):
            raise ValueError(
                f"score must have shape (N,) = ({n},) to match probs; "
                f"got shape {_shape_str(sc.shape)}"
            )
        reject |= ~(sc <= max_score)
    return reject
