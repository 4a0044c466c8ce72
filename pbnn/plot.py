"""Plots of fits and predictions (matplotlib); each returns a Figure and can save a PNG.

Every figure is a :class:`InlineFigure`: a cell that returns it shows it as a PNG in Jupyter under any
matplotlib backend (no ``%matplotlib inline`` needed); it never enters pyplot's registry of figures, so it
is neither shown twice nor kept alive after the last reference to it goes.

>>> import pbnn
>>> from pbnn import datasets
>>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
>>> fig = pbnn.plot.uncertainty_map(fit, X_te, y_te)
>>> len(fig.axes)
4
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from pbnn.predict import Predictions
from pbnn.results import Fit

if TYPE_CHECKING:  # pragma: no cover
    from pbnn.vae.results import VAEFit

#: Marker shapes of the classes in scatter plots of data (cycled beyond eight classes).
CLASS_MARKERS = "o^sDvP*X"


class InlineFigure(Figure):
    """A matplotlib Figure with a PNG representation, shown by Jupyter whatever the backend.

    >>> fig = InlineFigure(figsize=(2, 2))
    >>> fig._repr_png_()[:4]
    b'\\x89PNG'
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


def _figure(width: float, height: float) -> InlineFigure:
    return InlineFigure(figsize=(width, height), layout="constrained")


def _scatter_data(ax: Any, X: np.ndarray, y: Any | None, *, classes: bool, cmap: Any = None, norm: Any = None,
                  size: float = 16) -> None:
    """Points of ``X`` that stay visible on any background: every marker has a black and a white part.

    Classes alternate white faces with black edges and black faces with white edges and each has its own
    marker shape; continuous targets are coloured by ``cmap``/``norm`` with black edges.
    """
    if y is None:
        ax.scatter(X[:, 0], X[:, 1], s=size, c="white", edgecolors="black", linewidths=0.7)
        return
    y = np.asarray(y)
    if not classes:
        ax.scatter(X[:, 0], X[:, 1], s=size, c=y, cmap=cmap, norm=norm, edgecolors="black", linewidths=0.7)
        return
    for k, label in enumerate(np.unique(y)):
        face, edge = ("white", "black") if k % 2 == 0 else ("black", "white")
        at = y == label
        marker = CLASS_MARKERS[k % len(CLASS_MARKERS)]
        ax.scatter(X[at, 0], X[at, 1], s=size * (1.0 if marker == "o" else 1.6), marker=marker, c=face,
                   edgecolors=edge, linewidths=0.7, label=f"class {label}")


def uncertainty_map(
    fit: Fit, X: Any, y: Any | None = None, *, resolution: int = 100, margin: float = 0.5,
    path: str | Path | None = None, title: str | None = None, epistemic: bool = False,
) -> Figure:
    """Posterior predictive mean and standard deviation over a grid around 2-D inputs ``X``.

    Left: the mean probability of class 1 (or the regression mean); right: its standard deviation
    over posterior draws (the BNN's uncertainty), with the points of ``X`` coloured by ``y``.
    ``epistemic=True`` (classifiers) adds a third panel: the mutual information between label and
    weights, the part of the uncertainty that more data would remove.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X: uncertainty_map needs 2-D inputs of shape (n, 2), got {X.shape}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    draws = fit.predict(grid).draws()
    extra = []
    if epistemic:
        if fit.spec.task != "classification":
            raise ValueError("epistemic: the mutual-information panel needs a classifier")
        from pbnn.metrics import mutual_information

        extra.append((mutual_information(draws).reshape(g0.shape), "mutual information (nats)", "epistemic uncertainty"))
    if fit.spec.task == "classification":
        draws = draws[..., 1] if draws.shape[-1] == 2 else draws.max(axis=-1)
        mean_label, mean_cmap = "P(class 1)", "RdBu_r"
    else:
        mean_label, mean_cmap = "predictive mean", "viridis"
    mean, std = draws.mean(axis=0).reshape(g0.shape), draws.std(axis=0).reshape(g0.shape)
    panels = [(mean, mean_label, "posterior predictive mean"), (std, "posterior std", "uncertainty (std over draws)"), *extra]
    fig = _figure(5.5 * len(panels), 4.5)
    axes = fig.subplots(1, len(panels), sharey=True)
    classes = fit.spec.task == "classification"
    for k, (ax, (values, label, panel_title)) in enumerate(zip(axes, panels)):
        contour = ax.contourf(g0, g1, values, levels=20, cmap=mean_cmap if k == 0 else "magma_r")
        fig.colorbar(contour, ax=ax, label=label)
        _scatter_data(ax, X, y if classes or k == 0 else None, classes=classes, cmap=contour.cmap, norm=contour.norm)
        ax.set(xlabel="x1", title=panel_title)
    axes[0].set_ylabel("x2")
    if y is not None and classes:
        axes[0].legend(loc="upper left", fontsize="small")
    fig.suptitle(title or f"{fit.spec.name}: {fit.method}")
    return _finish(fig, path)


def regression_band(
    fit: Fit | Mapping[str, Fit], X: Any, y: Any | None = None, *, grid: Any | None = None, resolution: int = 200,
    margin: float = 0.5, prob: float = 0.9, path: str | Path | None = None, title: str | None = None,
) -> Figure:
    """A 1-D regression: predictive mean, epistemic and total central ``prob`` bands, and the points ``X``, ``y``.

    The dark band is the central interval of the network's mean over posterior draws (epistemic: what
    more data would remove), the light one that of the predictive distribution (noise included: where a
    new ``y`` falls). They are drawn over ``grid`` (default: ``resolution`` points from ``min(X) - margin``
    to ``max(X) + margin``). ``fit`` may be a mapping of labels to fits: one panel each, one y axis.

    >>> import pbnn
    >>> ds = pbnn.datasets.sine(n_samples=64)
    >>> fit = pbnn.fit(pbnn.zoo.sine(), ds.X_train, ds.y_train, steps=1000, progressbar=False, seed=0)
    >>> fig = pbnn.plot.regression_band(fit, ds.X_train, ds.y_train, margin=1.0)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['x']
    """
    fits = {fit.method: fit} if isinstance(fit, Fit) else dict(fit)
    if not fits or not all(isinstance(f, Fit) for f in fits.values()):
        raise TypeError("fit: expected a pbnn Fit or a mapping of labels to fits")
    for label, f in fits.items():
        if f.spec.task != "regression" or f.input_shape != (1,):
            raise ValueError(f"fit {label!r}: regression_band needs a regression fit on 1-D inputs, got a "
                             f"{f.spec.task} fit on inputs of shape {f.input_shape}")
    x = np.asarray(X, dtype=float)
    if not (x.ndim == 1 or (x.ndim == 2 and x.shape[1] == 1)):
        raise ValueError(f"X: regression_band needs 1-D inputs of shape (n,) or (n, 1), got {x.shape}")
    x = x.reshape(-1)
    if y is not None and np.shape(y) != x.shape:
        raise ValueError(f"y: expected one target per point of X, shape {x.shape}, got {np.shape(y)}")
    if grid is None:
        grid = np.linspace(x.min() - margin, x.max() + margin, resolution)
    grid = np.sort(np.asarray(grid, dtype=float).reshape(-1))
    fig = _figure(5.0 * len(fits), 4.0)
    axes = np.atleast_1d(fig.subplots(1, len(fits), sharey=True, squeeze=False)[0])
    for ax, (label, f) in zip(axes, fits.items()):
        pred = f.predict(grid[:, None])
        u = pred.uncertainty(prob=prob)
        epistemic = np.quantile(pred.draws("mu"), [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        ax.fill_between(grid, u["lower"].values, u["upper"].values, color="C0", alpha=0.2, lw=0,
                        label=f"{prob:.0%} predictive (total)")
        ax.fill_between(grid, epistemic[0], epistemic[1], color="C0", alpha=0.45, lw=0,
                        label=f"{prob:.0%} of the mean (epistemic)")
        ax.plot(grid, u["mean"].values, color="C0", lw=1.5, label="predictive mean")
        if y is not None:
            ax.scatter(x, np.asarray(y, dtype=float), s=12, c="black", edgecolors="white", linewidths=0.5, zorder=3,
                       label="data")
        ax.set(xlabel="x", title=label)
    axes[0].set_ylabel("y")
    axes[0].legend(loc="best", fontsize="small")
    fig.suptitle(title or f"{next(iter(fits.values())).spec.name}: predictive mean and central {prob:.0%} bands")
    return _finish(fig, path)


# -- fits --------------------------------------------------------------------------------------


def elbo_trace(fit: Fit, *, window: float = 0.1, path: str | Path | None = None) -> Figure:
    """ELBO history of an ADVI fit: every step and a running mean (left), the last part (right).

    The left panel shows the whole running mean, on a symmetric log axis when the start lies far below
    the end; the right panel shades the two windows of ``window`` of the steps that
    :func:`pbnn.diagnose` compares for its convergence verdict.
    """
    elbo = _elbo(fit)
    if elbo is None:
        raise ValueError(f"fit: a {fit.method} fit has no ELBO history (optimizer_stats.elbo); elbo_trace needs an ADVI fit")
    steps = np.arange(1, len(elbo) + 1)
    width = max(1, int(len(elbo) * window))
    smooth_steps, smooth, span = _running_mean(elbo)
    fig = _figure(11, 4)
    whole, tail = fig.subplots(1, 2)
    start = max(0, len(elbo) - 4 * width)
    for ax, first in ((whole, 0), (tail, start)):
        ax.plot(steps[first:], elbo[first:], lw=0.4, color="0.7", label="ELBO")
        shown = smooth_steps > first
        ax.plot(smooth_steps[shown], smooth[shown], color="C0", label=f"running mean ({span} steps)")
        ax.set_xlabel("step")
    _show_whole(whole, [smooth])
    last = elbo[start:][np.isfinite(elbo[start:])]
    tail.set_ylim(np.quantile(last, 0.02), last.max() + 0.05 * np.ptp(last))
    for k, label in ((2, "window before"), (1, "last window")):
        lo, hi = len(elbo) - k * width, len(elbo) - (k - 1) * width
        tail.axvspan(steps[lo], steps[hi - 1], alpha=0.12, color=f"C{k}")
        tail.hlines(np.nanmean(elbo[lo:hi]), steps[lo], steps[hi - 1], color=f"C{k}", lw=2, label=f"{label}: mean")
    whole.set(ylabel="ELBO", title="whole run")
    tail.set(title=f"last {len(elbo) - start} steps: the windows pbnn.diagnose compares")
    whole.legend(loc="lower right")
    tail.legend(loc="lower right", fontsize="small")
    fig.suptitle(f"{fit.spec.name}: {fit.method} ELBO")
    return _finish(fig, path)


def _elbo(fit: Fit) -> np.ndarray | None:
    """The ELBO per step of a variational fit (``optimizer_stats.elbo``), or None."""
    return fit.optimizer_stats["elbo"].values if "elbo" in fit.optimizer_stats else None


def _running_mean(elbo: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Steps (1-based, at each window's end), the mean over windows of 1% of the steps, and that width."""
    span = max(1, len(elbo) // 100)
    return np.arange(span, len(elbo) + 1), np.convolve(elbo, np.ones(span) / span, mode="valid"), span


def _show_whole(ax: Any, curves: Sequence[np.ndarray]) -> None:
    """Y limits that show every curve whole: linear with a 5% margin, or a symmetric log axis when the
    curves reach over 100 times the magnitude of their second halves (a start decades below the end)."""
    values = np.concatenate([c[np.isfinite(c)] for c in curves])
    tails = np.concatenate([c[len(c) // 2 :][np.isfinite(c[len(c) // 2 :])] for c in curves])
    if values.size == 0:
        return
    lo, hi = values.min(), values.max()
    scale = max(np.median(np.abs(tails)), 1e-3 * np.abs(values).max(), 1e-12)
    if np.abs(values).max() > 100 * scale:
        ax.set_yscale("symlog", linthresh=10.0 ** np.floor(np.log10(scale)))
        ax.set_ylim(lo - 0.3 * abs(lo), hi + 0.3 * abs(hi))
    else:
        pad = 0.05 * max(hi - lo, 1e-12)
        ax.set_ylim(lo - pad, hi + pad)


def weight_densities(fit: Fit, *, bins: int = 60, path: str | Path | None = None) -> Figure:
    """Posterior density of the weights (and biases) of each layer, pooled over the layer's entries."""
    post = fit.posterior
    layers: dict[int, list[str]] = {}
    for name in post.data_vars:
        match = re.fullmatch(r"([wb])_(\d+)", str(name))
        if match:
            layers.setdefault(int(match.group(2)), []).append(str(name))
    if not layers:
        raise ValueError("fit: the posterior has no layer parameters named w_<i> or b_<i>")
    fig = _figure(3.2 * len(layers), 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(layers), squeeze=False)[0])
    for ax, (layer, names) in zip(axes, sorted(layers.items())):
        for k, name in enumerate(sorted(names, reverse=True)):  # w before b
            values = post[name].values.ravel()
            ax.hist(values, bins=bins, density=True, histtype="stepfilled", alpha=0.5, color=f"C{k}",
                    label=f"{name} ({post[name][{'chain': 0, 'draw': 0}].size} entries)")
        ax.set(title=f"layer {layer}", xlabel="value")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("posterior density")
    fig.suptitle(f"{fit.spec.name}: {fit.method} weight posterior per layer")
    return _finish(fig, path)


# -- predictions -------------------------------------------------------------------------------


def reliability_diagram(pred: Predictions, y: Any, *, n_bins: int = 10, path: str | Path | None = None) -> Figure:
    """Accuracy against confidence per bin (a calibrated model lies on the diagonal), with counts.

    The bins are those of the ECE (:func:`pbnn.scores`); the confidence axis starts at the lowest
    possible confidence, ``1 / n_classes`` (0.5 for binary data); the lower panel gives each bin's count.
    """
    s = pred.scores(y, n_bins=n_bins)
    centers = 0.5 * (s["bin_lower"].values + s["bin_upper"].values)
    width = 1.0 / n_bins
    fig = _figure(5, 6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    acc, conf = np.nan_to_num(s["bin_accuracy"].values), np.nan_to_num(s["bin_confidence"].values)
    top.bar(centers, acc, width=width * 0.95, color="C0", label="accuracy")
    top.bar(centers, np.abs(conf - acc), bottom=np.minimum(acc, conf), width=width * 0.95,
            facecolor=(0.84, 0.15, 0.16, 0.15), edgecolor="C3", hatch="//", label="gap to mean confidence")
    floor = _confidence_floor(pred, n_bins)
    top.plot([floor, 1], [floor, 1], "k--", lw=1, label="calibrated")
    top.set(ylabel="accuracy", xlim=(floor, 1), ylim=(_accuracy_floor(floor, [s]), 1),
            title=f"ECE {float(s['ece']):.3f}, accuracy {float(s['accuracy']):.3f}")
    top.legend(loc="upper left")
    _bin_counts(bottom, centers, [s["bin_count"].values], width * 0.95, ["0.5"])
    bottom.set(xlabel="confidence (probability of the predicted class)", ylabel="points")
    return _finish(fig, path)


def _confidence_floor(pred: Predictions, n_bins: int) -> float:
    """The lowest possible confidence, ``1 / n_classes``, down to the edge of its bin."""
    n_classes = 2 if pred.spec.likelihood == "bernoulli" else pred.spec.output_units
    return float(np.floor(n_bins / n_classes) / n_bins)


def _accuracy_floor(floor: float, tables: Sequence[Any]) -> float:
    """The bottom of an accuracy axis: the confidence floor, or lower to show a bin below it."""
    lowest = min(float(np.nanmin(t["bin_accuracy"].values)) for t in tables)
    return min(floor, np.floor(10 * lowest) / 10)


def _bin_counts(ax: Any, centers: np.ndarray, counts: Sequence[np.ndarray], width: float, colors: Sequence[Any],
                labels: Sequence[str] | None = None) -> None:
    """Bars of points per bin (side by side for several tables), each non-empty bin labelled with its count."""
    step = width / len(counts)
    for k, (count, color) in enumerate(zip(counts, colors)):
        x = centers - width / 2 + (k + 0.5) * step
        ax.bar(x, count, width=step, color=color, label=None if labels is None else labels[k])
        for xi, c in zip(x, count):
            if c:
                ax.annotate(str(int(c)), (xi, c), xytext=(0, 1), textcoords="offset points", ha="center",
                            va="bottom", fontsize="x-small")
    ax.margins(y=0.25)


def probability_vs_uncertainty(
    preds: Predictions | Mapping[str, Predictions], *, path: str | Path | None = None
) -> Figure:
    """Predicted probability against its std over draws, one colour per set of predictions.

    The scatter of seeds/000: a binary model shows P(class 1), a multi-class model the probability of
    the predicted class. Pass ``{"test": pred_test, "held-out class": pred_ood}`` to compare sets.
    """
    preds = _named(preds)
    fig = _figure(6, 4.5)
    ax = fig.subplots()
    for k, (label, pred) in enumerate(preds.items()):
        u = pred.uncertainty()
        binary = u.sizes["class"] == 2
        prob = u["mean"].isel({"class": 1}) if binary else u["confidence"]
        std = u["std"].isel({"class": 1}) if binary else u["confidence_std"]
        ax.scatter(prob, std, s=8, alpha=0.5, color=f"C{k}", label=f"{label} (mean std {float(std.mean()):.3f})")
    ax.set(xlabel="P(class 1)" if binary else "probability of the predicted class",
           ylabel="std over posterior draws", title="predicted probability is not certainty")
    ax.legend()
    return _finish(fig, path)


def predictive_histogram(
    pred: Predictions, points: Sequence[int], *, bins: int = 30, path: str | Path | None = None
) -> Figure:
    """Histogram of the posterior draws at each of the points ``points`` (indices along ``obs``).

    Classifiers: the probability of class 1 (binary) or of the predicted class; regression: the mean.
    """
    points = [int(i) for i in points]
    n_obs = pred["predictions"].sizes["obs"]
    if not points or any(not 0 <= i < n_obs for i in points):
        raise ValueError(f"points: expected indices in 0..{n_obs - 1}, got {points}")
    if pred.task == "classification":
        draws = pred.draws()
        cls = np.full(n_obs, 1) if draws.shape[-1] == 2 else draws.mean(axis=0).argmax(axis=-1)
        values = draws[:, np.arange(n_obs), cls]
    else:
        values, cls = pred.draws("mu"), None
    fig = _figure(3.2 * len(points), 3)
    axes = np.atleast_1d(fig.subplots(1, len(points), sharey=True, squeeze=False)[0])
    for ax, i in zip(axes, points):
        v = values[:, i]
        ax.hist(v, bins=bins, range=(0, 1) if cls is not None else None, color="C0")
        what = f"P(class {cls[i]})" if cls is not None else "predictive mean"
        ax.set(xlabel=what, title=f"point {i}: {v.mean():.2f} ± {v.std():.2f}")
    axes[0].set_ylabel("draws")
    return _finish(fig, path)


def confusion_matrix(
    pred: Predictions, y: Any, *, normalize: bool = True, labels: Sequence[Any] | None = None,
    path: str | Path | None = None,
) -> Figure:
    """True class (rows) against predicted class (columns); ``normalize`` divides each row by its total."""
    from pbnn.uncertainty import check_targets

    y = check_targets(pred, y).astype(int)  # codes, also for named labels
    predicted = pred.labels.encode(pred.classes())
    k = pred.draws().shape[-1]
    counts = np.zeros((k, k))
    np.add.at(counts, (y, predicted), 1)
    shown = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    labels = list(pred.labels.names) if labels is None else list(labels)
    fig = _figure(1.0 + 0.55 * k, 0.6 + 0.55 * k)
    ax = fig.subplots()
    image = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, label="fraction of the true class" if normalize else "points")
    for (i, j), value in np.ndenumerate(shown):
        if counts[i, j]:
            ax.text(j, i, f"{value:.2f}" if normalize else f"{int(value)}", ha="center", va="center",
                    fontsize="small", color="white" if value > 0.5 * shown.max() else "black")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=labels, yticklabels=labels,
           xlabel="predicted class", ylabel="true class",
           title=f"accuracy {float(np.trace(counts) / counts.sum()):.3f}")
    return _finish(fig, path)


def ood_histograms(
    preds: Mapping[str, Predictions], *, score: str = "epistemic", bins: int = 30,
    path: str | Path | None = None,
) -> Figure:
    """Histograms of an uncertainty score per set; the first set is in-distribution.

    The legend gives each other set's AUROC against the first (:func:`pbnn.ood_auroc`).
    """
    from pbnn import metrics
    from pbnn.uncertainty import SCORES, _score

    preds = _named(preds, classification_only=False)
    task = next(iter(preds.values())).task
    chosen = _score(task, score)
    values = {label: pred.uncertainty()[chosen.variable].values for label, pred in preds.items()}
    oriented = {label: v if chosen.higher_is_uncertain else -v for label, v in values.items()}
    first = next(iter(values))
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
    fig = _figure(6, 4)
    ax = fig.subplots()
    for k, (label, v) in enumerate(values.items()):
        extra = "" if label == first else f", AUROC {metrics.auroc(oriented[first], oriented[label]):.3f}"
        ax.hist(v, bins=edges, density=True, histtype="stepfilled", alpha=0.4, color=f"C{k}", label=f"{label}{extra}")
    ax.set(xlabel=f"{score}: {SCORES[task][score].description}", ylabel="density")
    ax.legend()
    return _finish(fig, path)


def _named(preds: Predictions | Mapping[str, Predictions], classification_only: bool = True) -> dict[str, Predictions]:
    named = {"predictions": preds} if isinstance(preds, Predictions) else dict(preds)
    if not named or not all(isinstance(p, Predictions) for p in named.values()):
        raise TypeError("preds: expected Predictions or a mapping of labels to Predictions (from fit.predict)")
    if len({p.task for p in named.values()}) > 1:
        raise TypeError("preds: cannot mix classifier and regression predictions")
    if classification_only and any(p.task != "classification" for p in named.values()):
        raise TypeError("preds: this plot needs classifier predictions")
    return named


# -- variational autoencoders ----------------------------------------------------------------------


def latent_scatter(fit: VAEFit, X: Any | None = None, y: Any | None = None, *, path: str | Path | None = None,
                   title: str | None = None) -> Figure:
    """The means of ``q(z | x)`` of observations ``X`` (default: the training points, ``fit.latent``), coloured
    by their classes ``y`` when given. A latent space of more than 2 dims is shown on the first two principal
    components of the means; a 1-d one against the class.

    >>> import pbnn
    >>> ds = pbnn.datasets.digits()
    >>> fit = pbnn.fit_vae(pbnn.zoo.vae_digits(), ds.X_train, steps=100, progressbar=False, seed=0)
    >>> len(latent_scatter(fit, ds.X_test, ds.y_test).axes)  # the scatter and the colour bar of the classes
    2
    """
    mean = fit.latent["mean"].values if X is None else fit.encode(X).mean
    if y is not None:
        y = np.asarray(y)
        if y.shape != (len(mean),):
            raise ValueError(f"y: expected one label per observation, shape ({len(mean)},), got {y.shape}")
    labels = ("z[0]", "z[1]")
    if mean.shape[1] == 1:
        points = np.column_stack([mean[:, 0], y if y is not None else np.zeros(len(mean))])
        labels = ("z[0]", "class" if y is not None else "")
    elif mean.shape[1] == 2:
        points = mean
    else:
        centred = mean - mean.mean(axis=0)
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        points = centred @ vt[:2].T
        share = sv[:2] ** 2 / np.sum(sv**2)
        labels = (f"principal component 1 ({share[0]:.0%} of the variance)",
                  f"principal component 2 ({share[1]:.0%})")
    fig = _figure(6.5, 5.5)
    ax = fig.subplots()
    if y is None:
        ax.scatter(points[:, 0], points[:, 1], s=8, c="C0", alpha=0.7)
    else:
        classes = np.unique(y)
        colours = np.searchsorted(classes, y)
        cmap = "tab10" if len(classes) <= 10 else "tab20"
        sc = ax.scatter(points[:, 0], points[:, 1], s=8, c=colours, cmap=cmap, alpha=0.8,
                        vmin=-0.5, vmax=len(classes) - 0.5)
        bar = fig.colorbar(sc, ax=ax, ticks=np.arange(len(classes)))
        bar.ax.set_yticklabels([str(c) for c in classes])
        bar.set_label("class")
    which = "training" if X is None else "given"
    ax.set(xlabel=labels[0], ylabel=labels[1],
           title=title or f"{fit.spec.name}: means of q(z | x) of the {which} observations (latent {mean.shape[1]})")
    return _finish(fig, path)


def reconstructions(fit: VAEFit, X: Any, *, n: int = 10, path: str | Path | None = None) -> Figure:
    """The first ``n`` observations of ``X`` (top row) beside their reconstructions ``fit.reconstruct(X)``
    (bottom row)."""
    X = np.asarray(X, dtype=np.float64)[:n]
    shown = [_images(fit, X), _images(fit, fit.reconstruct(X))]
    fig = _figure(1.1 * len(X), 2.6)
    axes = np.atleast_2d(fig.subplots(2, len(X), squeeze=False))
    for row, (images, label) in enumerate(zip(shown, ("input", "reconstruction"), strict=True)):
        for col, image in enumerate(images):
            _show_image(axes[row, col], image)
        axes[row, 0].set_ylabel(label, fontsize="small")
        axes[row, 0].yaxis.set_visible(True)
        axes[row, 0].set_yticks([])
    fig.suptitle(f"{fit.spec.name}: inputs and their reconstructions at the mean of q(z | x)")
    return _finish(fig, path)


def prior_samples(fit: VAEFit, n: int = 36, *, seed: int = 0, noise: bool = False,
                  path: str | Path | None = None) -> Figure:
    """``n`` observations generated from the prior, ``fit.sample(n, seed=seed, noise=noise)``, on a square grid."""
    images = _images(fit, fit.sample(n, seed=seed, noise=noise))
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig = _figure(1.0 * cols, 1.0 * rows + 0.4)
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    for k, ax in enumerate(axes.ravel()):
        if k < n:
            _show_image(ax, images[k])
        else:
            ax.set_axis_off()
    what = "drawn from the likelihood" if noise else "expected observations"
    fig.suptitle(f"{fit.spec.name}: z ~ N(0, I) decoded ({what})")
    return _finish(fig, path)


def latent_manifold(fit: VAEFit, *, n: int = 15, dims: tuple[int, int] = (0, 1), quantile: float = 0.05,
                    path: str | Path | None = None) -> Figure:
    """The decoder over a ``n x n`` grid of two latent dims ``dims`` (the others at 0): the grid's values are the
    prior's quantiles from ``quantile`` to ``1 - quantile``, so that each cell holds as much prior mass."""
    from scipy.stats import norm

    latent = fit.spec.latent
    if latent < 2:
        raise ValueError(f"latent_manifold: needs a latent space of at least 2 dims, this VAE has {latent}")
    if len(dims) != 2 or len(set(dims)) != 2 or not all(0 <= d < latent for d in dims):
        raise ValueError(f"dims: expected two different latent dims in 0..{latent - 1}, got {dims!r}")
    if not 0 < quantile < 0.5:
        raise ValueError(f"quantile: expected a number in (0, 0.5), got {quantile!r}")
    grid = norm.ppf(np.linspace(quantile, 1 - quantile, n))
    z = np.zeros((n * n, latent))
    z[:, dims[0]] = np.tile(grid, n)
    z[:, dims[1]] = np.repeat(grid[::-1], n)  # the top row holds the largest values
    images = _images(fit, fit.decode(z))
    pad = [(0, 0), (0, 1), (0, 1)] + [(0, 0)] * (images.ndim - 3)  # a blank line between the cells
    images = np.pad(np.clip(images, 0, 1), pad)
    h, w = images.shape[1:3]
    tiled = images.reshape(n, n, h, w, *images.shape[3:]).swapaxes(1, 2).reshape(n * h, n * w, *images.shape[3:])
    fig = _figure(7, 7)
    ax = fig.subplots()
    ax.imshow(tiled, cmap="gray_r" if tiled.ndim == 2 else None, vmin=0, vmax=1,
              extent=(grid[0], grid[-1], grid[0], grid[-1]))
    ax.set(xlabel=f"z[{dims[0]}]", ylabel=f"z[{dims[1]}]",
           title=f"{fit.spec.name}: decoded latent grid ({n} x {n}, prior quantiles {quantile:g} to {1 - quantile:g})")
    return _finish(fig, path)


def _images(fit: VAEFit, X: np.ndarray) -> np.ndarray:
    """Observations as images (N, H, W), or (N, H, W, 3) for 3 channels; flat observations of a square size as
    square images."""
    shape = fit.input_shape
    X = np.asarray(X).reshape(len(X), *shape)
    if len(shape) == 3 and shape[0] in (1, 3):
        return X[:, 0] if shape[0] == 1 else np.moveaxis(X, 1, -1)
    side = int(round(np.sqrt(np.prod(shape))))
    if len(shape) == 1 and side * side == shape[0]:
        return X.reshape(len(X), side, side)
    raise ValueError(f"fit: observations of shape {shape} are not images (expected (1 or 3, H, W) or a square "
                     "number of features)")


def _show_image(ax: Any, image: np.ndarray) -> None:
    ax.imshow(np.clip(image, 0, 1), cmap="gray_r" if image.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
