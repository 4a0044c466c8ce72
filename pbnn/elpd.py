"""Predictive accuracy and the VI check the ArviZ way: PSIS-LOO of a fit, and the Pareto k-hat of an
approximation.

Every fit with posterior draws carries ``log_likelihood`` (pointwise, dims ``chain, draw, obs``, in ``y``'s
units), so ArviZ's own functions take fits as they come: ``az.loo(fit.idata)``,
``az.compare({"advi": a.idata, "nuts": n.idata})``. :func:`loo` is ``az.loo`` with an error that says why
when LOO does not apply (one MAP draw, or a log-likelihood too large to store).

:func:`vi_khat` is the check of Yao, Vehtari, Simpson and Gelman (2018, "Yes, but did it work?"): the
Pareto k-hat of the importance ratios ``log p(theta, y) - log q(theta)`` over the approximation's draws,
both densities on the unconstrained space (``log p`` with the Jacobian of the transforms, :func:`log_joint`;
``log q`` stored per draw in ``sample_stats.log_q`` by ADVI's JAX engine, by flow_vi and by Laplace). Pathfinder's draws
are already resampled by pymc-extras' PSIS from its paths' Gaussians; its k-hat is the one pymc-extras
computed over those Gaussians' draws, kept in ``sample_stats.attrs["pareto_k"]``. Below 0.7 the
approximation is close enough for PSIS to correct its expectations; above it, it is not (trust NUTS).

:func:`psis_posterior` is that correction: the draws resampled by their PSIS weights, which
``fit.predict(X, reweight="psis")`` predicts with.

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

__all__ = ["KHAT_ATTR", "KHAT_GOOD", "has_vi_khat", "log_joint", "loo", "psis_posterior", "psis_weights", "vi_khat"]

#: Pareto k-hat below which an approximation is good enough for importance sampling (Yao et al. 2018).
KHAT_GOOD = 0.7

#: ``sample_stats`` attribute holding a k-hat that an engine computed over draws it did not keep (Pathfinder).
KHAT_ATTR = "pareto_k"


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


def _sample_stats(fit: Fit) -> xr.Dataset:
    return fit.idata["sample_stats"].to_dataset() if "sample_stats" in fit.idata.children else xr.Dataset()


def has_vi_khat(fit: Fit) -> bool:
    """Whether :func:`vi_khat` applies to ``fit``: draws of an approximation with their ``log q`` (ADVI of the
    JAX engine, flow_vi, Laplace) or a k-hat stored by the engine (Pathfinder)."""
    stats = _sample_stats(fit)
    return "log_q" in stats or KHAT_ATTR in stats.attrs


def psis_weights(log_ratios: xr.DataArray) -> tuple[xr.DataArray, float]:
    """Pareto-smoothed importance sampling of ``log_ratios`` (``log p - log q`` per draw, dims ``chain, draw``):
    the smoothed log weights (unnormalized, same dims) and their k-hat.

    arviz_stats' ``psislw`` takes the negated log ratios (LOO passes the log-likelihood, whose negation is
    LOO's log ratio), as pymc-extras' Pathfinder passes them; this function negates once, here. For
    p = N(0, 1) and q = N(0, s) with s < 1 the ratios' tail has k = 1 - s^2; for s > 1 they are bounded:

    >>> import numpy as np, xarray as xr
    >>> from scipy.stats import norm
    >>> def khat(s):
    ...     theta = np.random.default_rng(0).normal(0.0, s, size=(1, 4000))
    ...     return psis_weights(xr.DataArray(norm.logpdf(theta) - norm.logpdf(theta, 0.0, s), dims=("chain", "draw")))[1]
    >>> bool(khat(0.3) > 0.7), bool(khat(2.0) < 0.5)  # k = 0.91 in theory for s = 0.3
    (True, True)
    """
    import arviz_stats  # noqa: F401  (registers the .azstats accessor)

    log_w, khat = (-log_ratios).azstats.psislw(dim=["chain", "draw"])
    return log_w.transpose("chain", "draw"), float(khat)


def _psis(fit: Fit) -> tuple[xr.DataArray, float]:
    return psis_weights(log_joint(fit) - _sample_stats(fit)["log_q"])


def vi_khat(fit: Fit) -> float:
    """The Pareto k-hat of ``log p(theta, y) - log q(theta)`` over the draws of a variational fit (PSIS of
    ``arviz_stats``); see the module doc. Raises ``ValueError`` for fits without it (:func:`has_vi_khat`)."""
    if not isinstance(fit, Fit):
        raise TypeError(f"fit: expected a pbnn Fit, got {type(fit).__name__}")
    if not has_vi_khat(fit):
        raise ValueError(f"vi_khat: this {fit.method} fit has no log q of its draws (sample_stats.log_q); the "
                         "check applies to advi and fullrank_advi (JAX engine), laplace and pathfinder fits")
    stats = _sample_stats(fit)
    if "log_q" not in stats:
        return float(stats.attrs[KHAT_ATTR])
    return _psis(fit)[1]


def psis_posterior(fit: Fit, *, seed: int = 0) -> tuple[xr.Dataset, float]:
    """The posterior of a variational fit resampled by its PSIS weights (importance resampling with
    replacement, as many draws as the fit has, in one chain), and the k-hat of those weights.

    The resampled draws follow q reweighted towards the posterior: their expectations are PSIS's, reliable
    when k-hat < :data:`KHAT_GOOD`; above it the weights sit on a few draws and the correction is not to be
    trusted (``fit.predict(X, reweight="psis")`` warns). Raises ``ValueError`` for fits without ``log q``
    (Pathfinder's draws are resampled already; MCMC's need no weights).

    >>> import pbnn
    >>> ds = pbnn.datasets.moons(n_samples=100)
    >>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, steps=500, draws=50, seed=0,
    ...                progressbar=False)
    >>> posterior, khat = pbnn.elpd.psis_posterior(fit)
    >>> posterior.sizes["draw"], bool(khat > 0)
    (50, True)
    """
    if not isinstance(fit, Fit):
        raise TypeError(f"fit: expected a pbnn Fit, got {type(fit).__name__}")
    if "log_q" not in _sample_stats(fit):
        why = ("its draws are already resampled by PSIS" if has_vi_khat(fit) else
               "PSIS reweights draws of an approximation with their log q (advi, fullrank_advi, flow_vi, laplace)")
        raise ValueError(f"reweight: a {fit.method} fit cannot be reweighted: {why}")
    log_w, khat = _psis(fit)
    log_w = log_w.values.ravel()
    weights = np.exp(log_w - log_w.max())
    post = fit.posterior.transpose("chain", "draw", ...)
    n = post.sizes["chain"] * post.sizes["draw"]
    picked = np.random.default_rng(seed).choice(n, size=n, p=weights / weights.sum())
    resampled = xr.Dataset(
        {name: (var.dims, var.values.reshape(n, *var.shape[2:])[picked][None]) for name, var in post.data_vars.items()},
        coords={**{k: v for k, v in post.coords.items() if "chain" not in v.dims and "draw" not in v.dims},
                "chain": [0], "draw": np.arange(n)},
        attrs={**post.attrs, "pbnn_draws": f"PSIS-resampled draws of a {fit.method} fit (k-hat {khat:.2f})"})
    return resampled, khat
