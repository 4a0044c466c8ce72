"""Inference engines behind :func:`pbnn.fit`; each returns the same :class:`~pbnn.results.Fit`.

>>> import pbnn
>>> sorted(pbnn.inference.METHODS)
['advi', 'fullrank_advi', 'laplace', 'map', 'mc_dropout', 'nuts', 'pathfinder']
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from pbnn.compile import build_model
from pbnn.errors import FitError
from pbnn.inference import advi, dropout, extras, nuts
from pbnn.inference import map as map_estimate
from pbnn.results import Fit
from pbnn.scaling import TargetScaling
from pbnn.spec import BNN
from pbnn.validation import check_data

#: Method name -> engine function ``run(spec, model_factory, X, y, *, seed, progressbar, **options)``.
METHODS: dict[str, Callable[..., "EngineResult"]] = {
    "advi": advi.run_meanfield,
    "fullrank_advi": advi.run_fullrank,
    "nuts": nuts.run,
    "map": map_estimate.run,
    "mc_dropout": dropout.run,
    "laplace": extras.run_laplace,
    "pathfinder": extras.run_pathfinder,
}

EngineResult = tuple[xr.Dataset, xr.Dataset]


def fit(
    spec: BNN,
    X: Any,
    y: Any,
    method: str = "advi",
    *,
    seed: int | None = None,
    progressbar: bool = True,
    **options: Any,
) -> Fit:
    """Fit ``spec`` to ``X``, ``y`` with ``method`` and return a :class:`~pbnn.results.Fit`.

    Methods and their options (defaults in brackets):

    * ``"advi"`` / ``"fullrank_advi"``: ``steps`` [30_000], ``batch_size`` [None: full batch],
      ``learning_rate`` [0.01, Adam], ``final_learning_rate`` [None: constant; else the rate decays geometrically
      from ``learning_rate`` at the first step to this at the last], ``mc_samples`` [1: Monte Carlo draws of the ELBO gradient per step; more
      draws, less gradient noise, slower steps], ``draws`` [1000], ``init_scale`` [0.1: initial sd of the
      approximation; PyMC's default for engine="pymc" full-rank], ``engine`` ["auto": the compiled JAX loop
      when jax is installed, else PyMC's ``pm.fit``], ``backend`` ["numba", for ``pm.fit``], ``device``
      [None: JAX's default; "cpu", "gpu"; JAX engine]. Full rank: the off-diagonal entries of the Cholesky factor
      random-walk on gradient noise, so give it draws and a decaying rate; ``mc_samples=16`` with
      ``final_learning_rate`` a tenth of ``learning_rate`` took UCI yacht's test RMSE from 1.54 to 0.52 for 1.8x
      the time (the D x D work dominates a step; ``benchmarks/bench_uci.py``).
    * ``"nuts"``: ``sampler`` ["pymc"; "nutpie", "numpyro", "blackjax"], ``draws`` [1000],
      ``tune`` [1000], ``chains`` [4], ``target_accept`` [0.9], ``backend`` ["numba", pymc sampler],
      ``device`` [None; "cpu", "gpu": numpyro and blackjax, chains vectorized on that device].

    * ``"map"``: a point estimate, the posterior mode found by Adam: ``steps`` [5000], ``learning_rate``
      [0.01], ``batch_size`` [None: full batch] (:mod:`pbnn.inference.map`).
    * ``"mc_dropout"``: the network trained with dropout and weight decay, predictions from ``draws``
      dropout masks (:mod:`pbnn.inference.dropout`).
    * ``"laplace"`` / ``"pathfinder"`` (pymc-extras, the ``extras`` extra): ``draws`` [1000],
      ``optimize_method`` ["BFGS"] / ``num_paths`` [4], ``backend`` ["auto": JAX for Laplace; "numba"] (:mod:`pbnn.inference.extras`).

    ``seed`` makes the run reproducible (None draws one and records it in ``idata.attrs``).
    Regression targets are standardized for the fit and predictions come back in ``y``'s units
    (:mod:`pbnn.scaling`); ``observed_data`` holds ``y`` as given.

    Faults: bad data or options raise :class:`~pbnn.errors.DataError`, ``ValueError`` or ``TypeError``
    naming the argument; a sampler's failure raises :class:`~pbnn.errors.FitError` with its message; a
    diverging ADVI raises :class:`~pbnn.errors.DivergenceError` whose ``fit`` holds the last finite
    approximation; Ctrl-C during ADVI returns the fit so far with a warning.

    >>> import pbnn
    >>> from pbnn import datasets
    >>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
    >>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=3000, progressbar=False, seed=1)
    >>> fit.predict(X_te).accuracy(y_te) > 0.8
    True
    """
    if not isinstance(spec, BNN):
        raise TypeError(f"spec: expected a pbnn.BNN, got {type(spec).__name__}")
    if method not in METHODS:
        raise ValueError(f"method: unknown method {method!r}; expected one of {', '.join(METHODS)}")
    engine = METHODS[method]
    _check_options(method, engine, options)
    X, y = check_data(spec, X, y, batch_size=options.get("batch_size"))
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**31)
    elif isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: expected a non-negative integer or None, got {seed!r}")

    start = time.perf_counter()
    y_fit = TargetScaling.from_targets(y).standardize(y) if spec.task == "regression" else y
    model = build_model(spec, X, y_fit)
    try:
        posterior, sample_stats = engine(spec, model, X, y_fit, seed=int(seed), progressbar=progressbar, **options)
    except FitError as err:
        if hasattr(err, "engine_result"):  # the draws fitted before the failure
            err.fit = _make_fit(spec, model, X, y, method, options, seed, start, *err.engine_result)
        raise
    except (RuntimeError, ArithmeticError) as err:  # the sampler's own failure: its message, not its internals
        raise FitError(f"method {method!r} failed: {type(err).__name__}: {err}") from None
    return _make_fit(spec, model, X, y, method, options, seed, start, posterior, sample_stats)


def _make_fit(spec, model, X, y, method, options, seed, start, posterior, sample_stats) -> Fit:
    """Stamp the engine's posterior and sample stats with pbnn's attributes and data into a Fit."""
    seconds = time.perf_counter() - start
    posterior = _with_parameter_deterministics(model, posterior)

    attrs = {
        "pbnn_version": _version(),
        "pbnn_method": method,
        "pbnn_options": json.dumps(_jsonable(options), sort_keys=True),
        "pbnn_seed": int(seed),
        "pbnn_spec": spec.to_toml(),
        "pbnn_input_shape": json.dumps(list(X.shape[1:])),
        "pbnn_fit_seconds": float(seconds),
    }
    if spec.task == "regression":  # y was standardized for the fit; predictions undo it (pbnn.scaling)
        attrs.update(TargetScaling.from_targets(y).to_attrs())
    obs = {"obs": np.arange(len(y))}
    input_dims = [model.named_vars_to_dims["X"][k] for k in range(X.ndim)]
    groups = {
        "posterior": posterior,
        "sample_stats": sample_stats,
        "observed_data": xr.Dataset({"y": ("obs", y)}, coords=obs),
        "constant_data": xr.Dataset({"X": (input_dims, X)}, coords=obs),
    }
    for ds in groups.values():
        ds.attrs.update({k: attrs[k] for k in ("pbnn_version", "pbnn_method")})
    idata = xr.DataTree.from_dict(groups)
    idata.attrs.update(attrs)
    return Fit(spec, idata)


def draws_to_posterior(model: pm.Model, values: dict[str, np.ndarray]) -> xr.Dataset:
    """A posterior Dataset from arrays ``values[name]`` of shape (chain, draw, *shape) of free RVs."""
    data_vars = {}
    for rv in model.free_RVs:
        dims = ("chain", "draw", *model.named_vars_to_dims.get(rv.name, ()))
        data_vars[rv.name] = (dims, np.asarray(values[rv.name]))
    first = np.asarray(values[model.free_RVs[0].name])
    coords = {"chain": np.arange(first.shape[0]), "draw": np.arange(first.shape[1])}
    used = {d for _, (dims, _) in data_vars.items() for d in dims}
    coords.update({d: np.asarray(model.coords[d]) for d in used if d in model.coords})
    return xr.Dataset(data_vars, coords=coords)


def _with_parameter_deterministics(model: pm.Model, posterior: xr.Dataset) -> xr.Dataset:
    """Add the spec's parameter Deterministics (e.g. hierarchical ``w_i = sigma * z``) to the posterior."""
    from pbnn.compile import parameter_names

    free = [rv.name for rv in model.free_RVs]
    posterior = posterior[free]
    wanted = [name for name in parameter_names(model) if name not in free]
    if not wanted:
        return posterior
    extra = pm.compute_deterministics(posterior, var_names=wanted, model=model, progressbar=False)
    return xr.merge([posterior, extra])


def _check_options(method: str, engine: Callable, options: dict[str, Any]) -> None:
    params = inspect.signature(engine).parameters
    known = [name for name, p in params.items() if p.kind is p.KEYWORD_ONLY and name not in ("seed", "progressbar")]
    for name in options:
        if name not in known:
            raise TypeError(f"{name}: not an option of method {method!r}; its options are {', '.join(known)}")


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, bool | int | float | str | type(None)) else repr(v)) for k, v in options.items()}


def _version() -> str:
    import pbnn

    return pbnn.__version__
