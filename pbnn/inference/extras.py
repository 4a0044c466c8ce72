"""``method="laplace"`` and ``method="pathfinder"``: the Gaussian approximations of pymc-extras.

* Laplace: a Gaussian at the posterior mode (found with BFGS) with the inverse Hessian as covariance,
  on the unconstrained space (:func:`pymc_extras.fit_laplace`).
* Pathfinder: quasi-Newton paths towards the mode, a Gaussian per path point, the best ones resampled
  by Pareto-smoothed importance sampling (:func:`pymc_extras.fit_pathfinder`).

Both need the ``extras`` extra (``pip install 'pbnn[extras]'``). Their posteriors are draws like ADVI's.
For the VI check of :func:`pbnn.elpd.vi_khat`, Laplace's ``sample_stats`` holds ``log_q`` of each draw (the
Gaussian's density on the unconstrained space, as ADVI's); Pathfinder's draws are already resampled by PSIS,
so its ``sample_stats.attrs["pareto_k"]`` keeps the k-hat pymc-extras computed over its paths' draws.

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=200)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, method="laplace", seed=0,
...                progressbar=False)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings

import numpy as np
import pymc as pm
import pytensor
import xarray as xr
from pymc.initial_point import make_initial_point_fn

from pbnn.elpd import KHAT_ATTR
from pbnn.inference.methods import EngineResult


#: The PyTensor mode of each ``backend`` option of Laplace and Pathfinder. "python" (Pathfinder's) is PyTensor's
#: Python VM, nothing compiled. Pathfinder, cold caches, moons (200 points, 2-5-5-1 tanh): python 8 s against numba
#: 139 s (numba compiles pymc-extras' 100-node sampling graph for 85 s); warm: 3 s against 8 s. A 2 x 20 relu
#: network on 300 points: python 81 s cold / 127 s warm, numba 232 s / 17 s.
COMPILE_MODES = {"numba": "NUMBA", "c": "C", "jax": "JAX", "python": "FAST_COMPILE"}


def _pmx():
    if importlib.util.find_spec("pymc_extras") is None:
        raise ImportError("methods 'laplace' and 'pathfinder' need pymc-extras, which is not installed; "
                          "install the extra with: pip install 'pbnn[extras]'")
    import pymc_extras

    return pymc_extras


@contextlib.contextmanager
def _compiled_in(backend: str):
    """PyTensor's default mode set to ``backend``'s for the block, which gets the matching ``compile_kwargs``:
    pymc-extras does not pass its ``compile_kwargs`` on to every function it compiles (``fit_laplace``'s draws
    function takes the default mode; moons, cold caches, 40 draws: 56 s with it in numba, 49 s of them compiling
    it, against 5.6 s with it in JAX)."""
    mode = COMPILE_MODES[backend]
    with pytensor.config.change_flags(mode=mode), warnings.catch_warnings():
        # JAX takes a copy of a function's random generators; each function here is called once, after seeding
        warnings.filterwarnings("ignore", "The RandomType SharedVariables", UserWarning)
        yield {"mode": mode}


def _freeze_initial_values(model: pm.Model, seed: int) -> None:
    """Replace pbnn's symbolic initial values (seeded prior draws) by their numbers: pymc-extras rebuilds
    the model and can only carry constant initial values over."""
    point = make_initial_point_fn(model=model, return_transformed=False)(seed)
    for rv in model.free_RVs:
        model.set_initval(rv, np.asarray(point[rv.name]))


def _posterior(model: pm.Model, idata: xr.DataTree, draws: int) -> xr.Dataset:
    from pbnn.inference import draws_to_posterior

    post = idata["posterior"].to_dataset()
    values = {}
    for rv in model.free_RVs:
        arr = post[rv.name].values
        values[rv.name] = arr.reshape(1, -1, *arr.shape[2:])[:, :draws]
    return draws_to_posterior(model, values)


def run_laplace(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, draws: int, optimize_method: str,
                backend: str) -> EngineResult:
    """Laplace approximation at the mode: a posterior of ``draws`` draws, empty sample_stats
    (options: :class:`~pbnn.inference.methods.LaplaceOptions`)."""
    pmx = _pmx()
    _freeze_initial_values(model, seed)
    if backend == "auto":  # measured on moons: 10 s with JAX, 220 s with a cold NUMBA compile
        backend = "jax"
    with _compiled_in(backend) as compile_kwargs:
        idata = pmx.fit_laplace(optimize_method, model=model, random_seed=seed, progressbar=progressbar,
                                draws=draws, compile_kwargs=compile_kwargs)
    return EngineResult(_posterior(model, idata, draws), _laplace_log_q(model, idata, draws))


def run_pathfinder(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, draws: int, num_paths: int,
                   backend: str) -> EngineResult:
    """Multi-path Pathfinder: a posterior of ``draws`` draws, empty sample_stats (options:
    :class:`~pbnn.inference.methods.PathfinderOptions`; ``backend`` numba, c or python (:data:`COMPILE_MODES`):
    pymc-extras' Pathfinder does not compile with JAX, dynamic ``arange``)."""
    pmx = _pmx()
    _freeze_initial_values(model, seed)
    try:
        with _compiled_in(backend) as compile_kwargs:
            idata = pmx.fit_pathfinder(model=model, random_seed=seed, progressbar=progressbar, num_paths=num_paths,
                                       num_draws=draws, num_draws_per_path=draws, parallel=False,
                                       compile_kwargs=compile_kwargs)
    except NotImplementedError as err:  # PyTensor's C matrix products need a BLAS it could link to
        if backend != "c":
            raise
        raise RuntimeError("backend='c': PyTensor's C backend could not compile a matrix product (it needs a "
                           "BLAS library it can link to, as a conda install of pytensor has); use "
                           "backend='numba'") from err
    pareto_k = idata["pathfinder"].to_dataset().get("pareto_k") if "pathfinder" in idata.children else None
    stats = xr.Dataset(attrs={} if pareto_k is None else {KHAT_ATTR: float(pareto_k)})
    return EngineResult(_posterior(model, idata, draws), stats)


def _laplace_log_q(model: pm.Model, idata: xr.DataTree, draws: int) -> xr.Dataset:
    """``log_q`` (chain, draw): the Laplace Gaussian's log density at each draw's unconstrained values. The
    Gaussian's ``mean_vector`` rows are labelled ``name[i,j]`` (not in ``model.value_vars`` order): each draw is
    laid out by those labels."""
    from scipy.stats import multivariate_normal

    group = "unconstrained_posterior" if "unconstrained_posterior" in idata.children else "posterior"  # no transforms
    unconstrained = idata[group].to_dataset()
    columns: dict[str, np.ndarray] = {}
    for v in model.value_vars:
        values = unconstrained[v.name].values[0]  # (draw, ...)
        for idx in np.ndindex(values.shape[1:]):
            columns[f"{v.name}[{','.join(map(str, idx))}]" if idx else v.name] = values[(slice(None), *idx)]
    fit = idata["fit"].to_dataset()
    flat = np.column_stack([columns[str(label)] for label in fit["rows"].values])
    q = multivariate_normal(fit["mean_vector"].values, fit["covariance_matrix"].values, allow_singular=True)
    return xr.Dataset({"log_q": (("chain", "draw"), np.atleast_1d(q.logpdf(flat))[None])},
                      coords={"chain": [0], "draw": np.arange(draws)})
