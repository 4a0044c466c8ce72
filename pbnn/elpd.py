"""Predictive accuracy and the VI check the ArviZ way: PSIS-LOO of a fit, and the Pareto k-hat of an
approximation.

Every fit with posterior draws carries ``log_likelihood`` (pointwise, dims ``chain, draw, obs``, in ``y``'s
units), so ArviZ's own functions take fits as they come: ``az.loo(fit.idata)``,
``az.compare({"advi": a.idata, "nuts": n.idata})``. :func:`loo` is ``az.loo`` with an error that says why
when LOO does not apply (one MAP draw, or a log-likelihood too large to store).

:func:`vi_khat` is the check of Yao, Vehtari, Simpson and Gelman (2018, "Yes, but did it work?"): the
Pareto k-hat of the importance ratios ``log p(theta, y) - log q(theta)`` over the approximation's draws,
both densities on the unconstrained space (``log p`` with the Jacobian of the transforms, :func:`log_joint`;
``log q`` stored per draw by the ADVI engine in ``sample_stats.log_q``). Below 0.7 the approximation is
close enough for PSIS to correct its expectations; above it, it is not (trust NUTS).

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, steps=2000, draws=200, seed=0,
...                progressbar=False)
>>> bool(pbnn.elpd.loo(fit).elpd < 0)
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from pbnn.results import Fit

__all__ = ["KHAT_GOOD", "log_joint", "loo", "vi_khat"]

#: Pareto k-hat below which an approximation is good enough for importance sampling (Yao et al. 2018).
KHAT_GOOD = 0.7


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


def log_joint(fit: Fit) -> xr.DataArray:
    """``log p(theta, y)`` of every posterior draw (chain, draw): the fit's model (:meth:`Fit.model`, on the
    targets it was fitted to) at the draw's unconstrained values, with the Jacobian of the transforms, i.e.
    PyMC's ``model.logp()`` (NUTS's ``lp``), evaluated with JAX over all draws."""
    import jax
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph
    from pytensor.graph.replace import graph_replace

    model = fit.model()
    constrained = {rv: pt.tensor(rv.name, shape=rv.type.shape, dtype=rv.dtype) for rv in model.free_RVs}
    values = {}
    for rv, x in constrained.items():
        transform = model.rvs_to_transforms.get(rv)
        values[model.rvs_to_values[rv]] = x if transform is None else transform.forward(x, *rv.owner.inputs)
    logp = graph_replace(model.logp(), values, strict=False)
    logp = graph_replace(logp, dict(constrained), strict=False)  # a transform's inputs may name other RVs
    fn = get_jaxified_graph(inputs=list(constrained.values()), outputs=[logp])
    post = fit.posterior
    draws = [post[rv.name].transpose("chain", "draw", ...).values for rv in model.free_RVs]
    n_chain, n_draw = draws[0].shape[:2]
    flat = [d.reshape(n_chain * n_draw, *d.shape[2:]) for d in draws]
    lp = np.asarray(jax.jit(jax.vmap(lambda *x: fn(*x)[0]))(*flat))
    return xr.DataArray(lp.reshape(n_chain, n_draw), dims=("chain", "draw"),
                        coords={"chain": post["chain"].values, "draw": post["draw"].values}, name="lp")


def vi_khat(fit: Fit) -> float:
    """The Pareto k-hat of ``log p(theta, y) - log q(theta)`` over the draws of a variational fit (PSIS of
    ``arviz_stats``); see the module doc. Raises ``ValueError`` for fits without ``sample_stats.log_q``."""
    if not isinstance(fit, Fit):
        raise TypeError(f"fit: expected a pbnn Fit, got {type(fit).__name__}")
    stats = fit.idata["sample_stats"] if "sample_stats" in fit.idata.children else {}
    if "log_q" not in stats:
        raise ValueError(f"vi_khat: this {fit.method} fit has no log q of its draws (sample_stats.log_q); the "
                         "check applies to ADVI fits of the JAX engine (advi, fullrank_advi)")
    log_ratios = log_joint(fit) - stats["log_q"]
    _, khat = log_ratios.azstats.psislw(dim=["chain", "draw"])
    return float(khat)
