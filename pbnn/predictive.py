"""Replicated data: the posterior predictive of a fit at its training inputs and the prior predictive of a spec.

Both sample PyMC's model of the spec (``pm.sample_posterior_predictive`` / ``pm.sample_prior_predictive``,
compiled with JAX) and return ArviZ groups, so that ``az.plot_ppc_dist`` and prior checks work on them.
Regression replicates are in ``y``'s units: the model observes standardized targets (:mod:`pbnn.scaling`) and
the draws are mapped back with the fit's ``loc`` and ``scale``.

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=200)
>>> prior = pbnn.prior_predictive(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, draws=50)
>>> prior["prior_predictive"]["y"].dims
('chain', 'draw', 'obs')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from pbnn.results import Fit
from pbnn.scaling import TargetScaling
from pbnn.spec import BNN

__all__ = ["posterior_predictive", "prior_predictive"]

#: Compile mode of the predictive samplers (a NUMBA compile of the moons model takes longer than JAX's).
COMPILE = {"mode": "JAX"}


def posterior_predictive(fit: Fit, *, seed: int = 0) -> xr.Dataset:
    """Replicated ``y`` at the training inputs for every posterior draw (dims ``chain, draw, obs``), added to
    ``fit.idata`` as the ``posterior_predictive`` group and returned; see the module doc."""
    if not isinstance(fit, Fit):
        raise TypeError(f"fit: expected a pbnn Fit, got {type(fit).__name__}")
    sampled = pm.sample_posterior_predictive(fit.idata, model=fit.model(), var_names=["y"], random_seed=seed,
                                             progressbar=False, compile_kwargs=COMPILE)
    scaling = TargetScaling.from_attrs(fit.idata.attrs) if fit.spec.task == "regression" else None
    replicates = _user_units(sampled["posterior_predictive"].to_dataset()[["y"]], scaling,
                             fit.idata["observed_data"]["y"].dtype)
    replicates.attrs.update({k: fit.idata.attrs[k] for k in ("pbnn_version", "pbnn_method")})
    fit.idata["posterior_predictive"] = xr.DataTree(replicates)
    return replicates


def prior_predictive(spec: BNN, X: Any, y: Any = None, *, draws: int = 500, seed: int = 0) -> xr.DataTree:
    """Draws of the parameters and of replicated ``y`` at inputs ``X`` under the prior of ``spec``.

    Returns a DataTree with ``prior``, ``prior_predictive`` (``y``: dims ``chain, draw, obs``) and, when the
    targets ``y`` are given, ``observed_data`` (for ``az.plot_ppc_dist(tree, group="prior_predictive")``).
    Regression: with ``y`` the replicates are in its units (standardized as :func:`pbnn.fit` would); without,
    on the standardized scale the priors are set on.
    """
    from pbnn.compile import build_model
    from pbnn.validation import check_positive_int, check_X

    if not isinstance(spec, BNN):
        raise TypeError(f"spec: expected a pbnn.BNN, got {type(spec).__name__}")
    draws = check_positive_int("draws", draws)
    X = check_X(X)
    scaling = None
    if y is None:
        targets = np.zeros(len(X), dtype=np.float64 if spec.task == "regression" else np.int64)
    else:
        targets = spec.likelihood_.check_targets(np.asarray(y), spec.output_units)
        if targets.shape != (len(X),):
            raise ValueError(f"y: expected one target per row of X, shape ({len(X)},), got {targets.shape}")
        if spec.task == "regression":
            scaling = TargetScaling.from_targets(targets)
    model_targets = targets if scaling is None else scaling.standardize(targets)
    model = build_model(spec, X, model_targets, initial_values=False)
    sampled = pm.sample_prior_predictive(draws, model=model, random_seed=seed, compile_kwargs=COMPILE)
    from pbnn.compile import parameter_names

    groups = {"prior": sampled["prior"].to_dataset()[parameter_names(model)],
              "prior_predictive": _user_units(sampled["prior_predictive"].to_dataset()[["y"]], scaling, targets.dtype)}
    if y is not None:
        groups["observed_data"] = xr.Dataset({"y": ("obs", targets)}, coords={"obs": np.arange(len(X))})
    return xr.DataTree.from_dict(groups)


def _user_units(replicates: xr.Dataset, scaling: TargetScaling | None, dtype: np.dtype) -> xr.Dataset:
    """Replicates in ``y``'s units and dtype (JAX draws Bernoulli replicates as booleans)."""
    y = replicates["y"] if scaling is None else scaling.loc + scaling.scale * replicates["y"]
    return replicates.assign(y=y.astype(dtype))
