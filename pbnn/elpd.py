"""Predictive accuracy the ArviZ way: PSIS-LOO of a fit from its ``log_likelihood`` group.

Every fit with posterior draws carries ``log_likelihood`` (pointwise, dims ``chain, draw, obs``, in ``y``'s
units), so ArviZ's own functions take fits as they come: ``az.loo(fit.idata)``,
``az.compare({"advi": a.idata, "nuts": n.idata})``. :func:`loo` is ``az.loo`` with an error that says why
when LOO does not apply (one MAP draw, or a log-likelihood too large to store).

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, steps=2000, draws=200, seed=0,
...                progressbar=False)
>>> bool(pbnn.elpd.loo(fit).elpd < 0)
True
"""

from __future__ import annotations

from typing import Any

from pbnn.results import Fit

__all__ = ["loo"]


def loo(fit: Fit, *, pointwise: bool = False) -> Any:
    """``arviz_stats.loo`` of ``fit`` (an ``ELPDData``: ``elpd``, ``se``, ``p``, ``pareto_k`` when ``pointwise``).

    Raises ``ValueError`` saying why when the fit has no ``log_likelihood`` group (a one-draw MAP fit: there are
    no draws to reweight)."""
    import arviz_stats as azs

    if not isinstance(fit, Fit):
        raise TypeError(f"fit: expected a pbnn Fit, got {type(fit).__name__}")
    if "log_likelihood" not in fit.idata.children:
        why = fit.idata.attrs.get("pbnn_log_likelihood", "the DataTree has no log_likelihood group")
        raise ValueError(f"loo: PSIS-LOO does not apply to this {fit.method} fit: {why}")
    return azs.loo(fit.idata, pointwise=pointwise)
