"""Plots of fits and predictions (matplotlib); each returns a Figure and can save a PNG.

>>> import pbnn
>>> from pbnn import datasets
>>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=2000, progressbar=False, seed=0)
>>> fig = pbnn.plot.uncertainty_map(fit, X_te, y_te)
>>> len(fig.axes)
4
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pbnn.results import Fit


def uncertainty_map(
    fit: Fit, X: Any, y: Any | None = None, *, resolution: int = 100, margin: float = 0.5,
    path: str | Path | None = None, title: str | None = None,
) -> Figure:
    """Posterior predictive mean and standard deviation over a grid around 2-D inputs ``X``.

    Left: the mean probability of class 1 (or the regression mean); right: its standard deviation
    over posterior draws (the BNN's uncertainty), with the points of ``X`` coloured by ``y``.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X: uncertainty_map needs 2-D inputs of shape (n, 2), got {X.shape}")
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    draws = fit.predict(grid).draws()
    if fit.spec.task == "classification":
        draws = draws[..., 1] if draws.shape[-1] == 2 else draws.max(axis=-1)
        mean_label, mean_cmap = "P(class 1)", "RdBu_r"
    else:
        mean_label, mean_cmap = "predictive mean", "viridis"
    mean, std = draws.mean(axis=0).reshape(g0.shape), draws.std(axis=0).reshape(g0.shape)
    fig = Figure(figsize=(11, 4.5), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for ax, values, label, cmap in ((axes[0], mean, mean_label, mean_cmap), (axes[1], std, "posterior std", "magma_r")):
        contour = ax.contourf(g0, g1, values, levels=20, cmap=cmap)
        fig.colorbar(contour, ax=ax, label=label)
        if y is not None:
            ax.scatter(X[:, 0], X[:, 1], c=np.asarray(y), cmap="coolwarm", s=10, edgecolors="k", linewidths=0.3)
        else:
            ax.scatter(X[:, 0], X[:, 1], c="k", s=6)
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    axes[0].set_title("posterior predictive mean")
    axes[1].set_title("uncertainty (std over draws)")
    fig.suptitle(title or f"{fit.spec.name}: {fit.method}")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
