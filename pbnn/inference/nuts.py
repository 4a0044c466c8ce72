"""NUTS through PyMC's ``pm.sample`` with any of its samplers: pymc, nutpie, numpyro, blackjax."""

from __future__ import annotations

import importlib.util

import numpy as np
import pymc as pm
import xarray as xr

from pbnn.validation import check_positive_int

#: Sampler name -> the packages it needs and the pbnn extra that installs them.
SAMPLERS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "pymc": ((), None),
    "nutpie": (("nutpie",), "nutpie"),
    "numpyro": (("jax", "numpyro"), "jax"),
    "blackjax": (("jax", "blackjax"), "jax"),
}


def run(
    spec,
    model: pm.Model,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int,
    progressbar: bool,
    sampler: str = "pymc",
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    target_accept: float = 0.9,
    backend: str = "numba",
) -> tuple[xr.Dataset, xr.Dataset]:
    """Sample the posterior of ``model`` with NUTS; returns (posterior, sample_stats)."""
    check_sampler(sampler)
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        check_positive_int(name, value)
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept: expected a number in (0, 1), got {target_accept!r}")
    kwargs = {"backend": backend} if sampler == "pymc" else {}
    free = [rv.name for rv in model.free_RVs]
    with model:
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
    return idata["posterior"].to_dataset()[free], idata["sample_stats"].to_dataset()


def check_sampler(sampler: str) -> None:
    """Raise a clear error for an unknown sampler or one whose packages are not installed."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler: unknown sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}")
    packages, extra = SAMPLERS[sampler]
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ImportError(
            f"sampler={sampler!r} needs {', '.join(missing)}, which is not installed; "
            f"install the extra with: pip install 'pbnn[{extra}]'"
        )
