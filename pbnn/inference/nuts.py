"""NUTS: numpyro's kernel in pbnn's compiled chunks (:mod:`pbnn.inference.chunked_nuts`, which Ctrl-C stops with
the draws so far), or PyMC's ``pm.sample`` with its samplers pymc, nutpie and blackjax."""

from __future__ import annotations

import importlib.util

import numpy as np
import pymc as pm
import xarray as xr

from pbnn.devices import on_device
from pbnn.inference.methods import JAX_SAMPLERS, SAMPLERS, EngineResult

__all__ = ["JAX_SAMPLERS", "SAMPLERS", "check_sampler", "run"]


def run(
    spec,
    model: pm.Model,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    progressbar: bool,
    sampler: str,
    draws: int,
    tune: int,
    chains: int,
    target_accept: float,
    backend: str,
    device: str | None,
) -> EngineResult:
    """Sample the posterior of ``model`` with NUTS; the options are :class:`~pbnn.inference.methods.NUTSOptions`'s.

    ``device`` (JAX samplers only): ``"cpu"``/``"gpu"``; blackjax's chains are then vectorized on that one device,
    numpyro's take turns on it."""
    check_sampler(sampler)
    if sampler == "numpyro":
        from pbnn.inference import chunked_nuts

        return chunked_nuts.run(model, seed=seed, progressbar=progressbar, draws=draws, tune=tune, chains=chains,
                                target_accept=target_accept, device=device)
    kwargs = {"backend": backend} if sampler == "pymc" else {}
    if device is not None:
        kwargs["nuts"] = {"chain_method": "vectorized"}
    free = [rv.name for rv in model.free_RVs]
    with model, on_device(device):
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            target_accept=target_accept,
            nuts_sampler=sampler,
            random_seed=seed,
            progressbar=progressbar,
            var_names=free,
            compute_convergence_checks=False,
            **kwargs,
        )
    # the JAX samplers hand back jax arrays: numpy ones keep ArviZ and xarray on their fast paths
    posterior, stats = (idata[g].to_dataset() for g in ("posterior", "sample_stats"))
    return EngineResult(_as_numpy(posterior[free]), _as_numpy(stats))


def _as_numpy(ds: xr.Dataset) -> xr.Dataset:
    return ds.copy(data={name: np.asarray(var.values) for name, var in ds.data_vars.items()})


def check_sampler(sampler: str) -> None:
    """Raise a clear error when the packages of ``sampler`` (a name of :data:`SAMPLERS`) are not installed."""
    packages, extra = SAMPLERS[sampler]
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ImportError(
            f"sampler={sampler!r} needs {', '.join(missing)}, which is not installed; "
            f"install the extra with: pip install 'pbnn[{extra}]'"
        )
