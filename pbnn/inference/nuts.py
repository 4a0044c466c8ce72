"""NUTS through PyMC's ``pm.sample`` with any of its samplers: pymc, nutpie, numpyro, blackjax."""

from __future__ import annotations

import importlib.util

import numpy as np
import pymc as pm
import xarray as xr

from pbnn.devices import check_device, on_device
from pbnn.validation import check_positive_int

#: Sampler name -> the packages it needs and the pbnn extra that installs them.
SAMPLERS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "pymc": ((), None),
    "nutpie": (("nutpie",), "nutpie"),
    "numpyro": (("jax", "numpyro"), "jax"),
    "blackjax": (("jax", "blackjax"), "jax"),
}

JAX_SAMPLERS = ("numpyro", "blackjax")


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
    device: str | None = None,
) -> tuple[xr.Dataset, xr.Dataset]:
    """Sample the posterior of ``model`` with NUTS; returns (posterior, sample_stats).

    ``device`` (JAX samplers only): ``"cpu"``/``"gpu"``; chains are then vectorized on that one device."""
    check_sampler(sampler)
    if check_device(device) is not None and sampler not in JAX_SAMPLERS:
        raise ValueError(f"device: only the JAX samplers ({', '.join(JAX_SAMPLERS)}) run on a chosen device; "
                         f"sampler {sampler!r} runs on the CPU")
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        check_positive_int(name, value)
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept: expected a number in (0, 1), got {target_accept!r}")
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
    return _as_numpy(posterior[free]), _as_numpy(stats)


def _as_numpy(ds: xr.Dataset) -> xr.Dataset:
    return ds.copy(data={name: np.asarray(var.values) for name, var in ds.data_vars.items()})


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
