"""``pbnn.fit``: check the data, resolve the method's options, build the model, run the engine, stamp the
DataTree. The methods and their options are in :mod:`pbnn.inference.methods`."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pymc as pm
import xarray as xr

from pbnn.compile import build_model
from pbnn.errors import FitError
from pbnn.inference.methods import EngineResult, Options, get_method
from pbnn.results import Fit
from pbnn.labels import ClassLabels, encode_labels
from pbnn.scaling import FeatureScaling, TargetScaling
from pbnn.spec import BNN
from pbnn.validation import check_data, check_seed

if TYPE_CHECKING:  # pragma: no cover
    from pbnn.vae.results import VAEFit
    from pbnn.vae.spec import VAE

T = TypeVar("T")

__all__ = ["draws_to_posterior", "fit"]


def fit(
    spec: BNN | VAE,
    X: Any,
    y: Any = None,
    method: str | None = None,
    *,
    seed: int | None = None,
    progressbar: bool = True,
    standardize: bool | None = None,
    classes: Sequence[Any] | None = None,
    **options: Any,
) -> Fit:
    """Fit ``spec`` to ``X``, ``y`` with ``method`` and return a :class:`~pbnn.results.Fit`.

    ``method`` names an entry of :data:`pbnn.inference.METHODS` (``pbnn fit --help`` lists them all with their
    options, defaults and docs); ``options`` are that method's, checked by its options dataclass, e.g.

    * ``"advi"`` / ``"fullrank_advi"``: ``steps``, ``batch_size``, ``learning_rate``, ``final_learning_rate``,
      ``mc_samples``, ``draws``, ``init_scale``, ``engine``, ``backend``, ``device``, ``optimizer`` (an optax
      transformation replacing Adam and both rates; also for ``"map"`` and ``"mc_dropout"``). Full rank: the off-diagonal
      entries of the Cholesky factor random-walk on gradient noise, so give it draws and a decaying rate;
      ``mc_samples=16`` with ``final_learning_rate`` a tenth of ``learning_rate`` took UCI yacht's test RMSE from
      1.54 to 0.52 for 1.8x the time (``benchmarks/bench_uci.py``).
    * ``"nuts"``: ``sampler`` (pymc, nutpie, numpyro, blackjax), ``draws``, ``tune``, ``chains``,
      ``target_accept``, ``backend``, ``device``.
    * ``"sgld"``, ``"sghmc"``: ``draws``, ``burn_in``, ``thin``, ``chains``, ``batch_size``, ``step_size``, ``schedule``
      (constant, polynomial, cyclical), ``gamma``, ``decay_steps``, ``cycles``, ``temperature``, ``device``; SGHMC's
      friction ``alpha`` (:mod:`pbnn.inference.sgmcmc`).
    * ``"map"``, ``"mc_dropout"``, ``"laplace"``, ``"pathfinder"``: see their modules in :mod:`pbnn.inference`.

    ``method`` and the options not given come from the spec's fit settings (a zoo model's ``[fit]`` table,
    :meth:`pbnn.BNN.fit_options`), then from the method's defaults; ``method`` defaults to ``"advi"``.
    ``idata.attrs["pbnn_options"]`` records the resolved options, defaults included (JSON).
    ``seed`` makes the run reproducible (None draws one and records it in ``idata.attrs``).
    ``standardize`` (default True, or the spec's setting): the network sees standardized inputs, tables
    per column, images only when outside ``[0, 1]``; the training statistics are stored with the fit and
    applied by ``predict`` (:class:`pbnn.scaling.FeatureScaling`); ``constant_data`` holds ``X`` as given.
    Class labels may be numbers ``0..K-1``, strings, booleans or a pandas categorical; ``classes`` names
    them in code order (``classes=["no", "yes"]``: ``p`` is the probability of "yes"); the names are
    stored with the fit and label the predictions (:mod:`pbnn.labels`).
    Gaussian and Student-t targets are standardized for the fit and predictions come back in ``y``'s units
    (:mod:`pbnn.scaling`); ``observed_data`` holds ``y`` as given.

    Faults: bad data or options raise :class:`~pbnn.errors.DataError`, ``ValueError`` or ``TypeError``
    naming the argument; a sampler's failure raises :class:`~pbnn.errors.FitError` with its message; a
    diverging optimizer (ADVI, MAP, MC dropout) raises :class:`~pbnn.errors.DivergenceError` whose ``fit`` holds
    the last finite parameters, and one whose objective ends worse than it started warns (a ``UserWarning``
    naming ``learning_rate``); Ctrl-C during their loop returns the fit so far with a warning.

    >>> import pbnn
    >>> from pbnn import datasets
    >>> X_tr, X_te, y_tr, y_te = datasets.moons(n_samples=200)
    >>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), X_tr, y_tr, steps=3000, progressbar=False, seed=1)
    >>> fit.predict(X_te).accuracy(y_te) > 0.8
    True

    A :class:`pbnn.VAE` spec is fitted to ``X`` alone by :func:`pbnn.fit_vae` (``y`` and ``method`` stay None; the
    options are ``fit_vae``'s) and gives a :class:`pbnn.VAEFit`.
    """
    from pbnn.vae.spec import VAE

    if isinstance(spec, VAE):
        return _fit_vae(spec, X, y, method, seed=seed, progressbar=progressbar, standardize=standardize,
                        classes=classes, **options)
    if not isinstance(spec, BNN):
        raise TypeError(f"spec: expected a pbnn.BNN or a pbnn.VAE, got {type(spec).__name__}")
    if y is None:
        from pbnn.errors import DataError

        raise DataError("y: a BNN is fitted to inputs X and targets y, got y=None (a pbnn.VAE models X alone)")
    if method is None:
        method = spec.fit_method
    entry = get_method(method)
    options = {**_settings_for(spec, method, X), **options}
    if standardize is None:
        standardize = options.pop("standardize", True)
    options.pop("standardize", None)
    if not isinstance(standardize, bool):
        raise TypeError(f"standardize: expected True or False, got {standardize!r}")
    resolved = entry.resolve(options)
    y, labels = _class_labels(spec, y, classes)
    X, y = check_data(spec, X, y, batch_size=getattr(resolved, "batch_size", None))
    scaling = FeatureScaling.from_inputs(X) if standardize else FeatureScaling()
    data_attrs = {**scaling.to_attrs(), **(labels.to_attrs() if labels is not None else {})}
    seed = check_seed(seed)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**31)

    start = time.perf_counter()
    y_fit = TargetScaling.from_targets(y).standardize(y) if spec.likelihood_.standardize_targets else y
    X_fit = scaling.standardize(X)
    engine = entry.load()

    def run(model: pm.Model) -> tuple[EngineResult, Fit]:
        try:
            result = engine(spec, model, X_fit, y_fit, seed=int(seed), progressbar=progressbar,
                            **resolved.to_dict())
        except FitError:  # pbnn's own (a RuntimeError): pass it on as it is
            raise
        except (RuntimeError, ArithmeticError) as err:  # the sampler's own failure: its message, not its internals
            raise FitError(f"method {method!r} failed: {type(err).__name__}: {err}") from None
        return result, _make_fit(spec, model, X, y, method, resolved, seed, start, result.posterior,
                                 result.sample_stats, data_attrs)

    if entry.capabilities.reuses_model:
        result, fitted = on_kept_model(spec, X_fit, y_fit, run, faulty=lambda out: out[0].fault is not None)
    else:
        result, fitted = run(build_model(spec, X_fit, y_fit, check_input=False))
    if entry.capabilities.chains and result.fault != "diverged":  # a diverged run's error says what went wrong
        _warn_sampler_faults(fitted, resolved)
    if result.fault == "diverged":
        from pbnn.errors import DivergenceError

        raise DivergenceError(result.message, fit=fitted)
    if result.fault == "interrupted":
        import warnings

        warnings.warn(result.message, UserWarning, stacklevel=2)
    return fitted


def _fit_vae(spec: VAE, X: Any, y: Any, method: str | None, *, standardize: bool | None,
             classes: Sequence[Any] | None, **options: Any) -> VAEFit:
    """``pbnn.fit`` of a VAE: :func:`pbnn.fit_vae`, refusing the arguments that only a BNN takes."""
    from pbnn.vae.fitting import fit_vae

    for name, value in (("y", y), ("method", method), ("standardize", standardize), ("classes", classes)):
        if value is not None:
            raise TypeError(f"{name}: a pbnn.VAE is fitted to X alone by amortized VI (pbnn.fit_vae) and takes no "
                            f"{name}, got {_short(value)}")
    return fit_vae(spec, X, **options)


def _short(value: Any) -> str:
    text = f"an array of shape {value.shape}" if hasattr(value, "shape") else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: Models of recent fits, with the functions compiled for them (log densities, the optimisation loop), kept for the
#: next fit of the same spec on data of the same shapes and dtypes (seeds, folds, grid searches): a second 200-step
#: moons fit takes 0.3 s instead of 3 s. A fit takes its model out while it runs (concurrent fits never share one);
#: models of data over :data:`MODEL_CACHE_MAX_BYTES` are not kept.
MODEL_CACHE_SIZE = 4
MODEL_CACHE_MAX_BYTES = 2**26
_models: OrderedDict[tuple, pm.Model] = OrderedDict()
_models_lock = threading.Lock()


def _checkout_model(spec: BNN, X: np.ndarray, y: np.ndarray) -> tuple[tuple, pm.Model]:
    """``(key, model)``: a kept model of this structure, now holding ``X``, ``y``, or a new one."""
    key = (spec, X.shape, X.dtype.str, y.shape, y.dtype.str)
    with _models_lock:
        model = _models.pop(key, None)
    if model is None:
        return key, build_model(spec, X, y, check_input=False)
    pm.set_data({"X": X, "target": y}, model=model)
    return key, model


def on_kept_model(spec: BNN, X: np.ndarray, y: np.ndarray, run: Callable[[pm.Model], T],
                  faulty: Callable[[T], bool]) -> T:
    """``run(model)`` on a model of recent fits of ``spec`` holding ``X``, ``y`` (or a new one), as :func:`pbnn.fit`
    runs its engine (Ray tasks: ensemble members, SG-MCMC chains); the model is kept for the next fit unless
    ``faulty(result)``: a faulty run may leave the model's data or caches half-set."""
    key, model = _checkout_model(spec, X, y)
    result = run(model)
    if not faulty(result):
        _return_model(key, model)
    return result


def _return_model(key: tuple, model: pm.Model) -> None:
    if sum(model[name].get_value(borrow=True).nbytes for name in ("X", "target")) > MODEL_CACHE_MAX_BYTES:
        return
    with _models_lock:
        _models[key] = model
        while len(_models) > MODEL_CACHE_SIZE:
            _models.popitem(last=False)


def _settings_for(spec: BNN, method: str, X: Any) -> dict[str, Any]:
    """The spec's settings for ``method``; a batch size as large as the data becomes the full batch."""
    settings = spec.fit_options(method)
    if isinstance(settings.get("batch_size"), int):
        n = len(X) if hasattr(X, "__len__") else 0  # X is checked later; a ragged list must reach that check
        if n and settings["batch_size"] >= n:
            settings["batch_size"] = None
    return settings


def _class_labels(spec: BNN, y: Any, classes: Sequence[Any] | None) -> tuple[Any, ClassLabels | None]:
    """Class labels -> codes and names (regression: ``y`` unchanged)."""
    if spec.task != "classification":
        if classes is not None:
            raise ValueError(f"classes: only a classifier has classes; this spec's likelihood is {spec.likelihood!r}")
        return y, None
    n_classes = 2 if spec.output_units == 1 else spec.output_units
    return encode_labels(y, classes, n_classes=n_classes)


#: Function-space r_hat above this is reported when a sampler finishes (``pbnn.diagnose``'s default bound).
RHAT_WARN = 1.01


def _warn_sampler_faults(fitted: Fit, options: Options) -> None:
    """Warn about divergences and a function-space r_hat above :data:`RHAT_WARN` (chains disagreeing)."""
    import warnings

    from pbnn.diagnostics import diagnose

    checks = {check.name: check for check in diagnose(fitted).checks if check.space in ("sampler", "function")}
    n_draws = fitted.posterior.sizes["chain"] * fitted.posterior.sizes["draw"]
    divergences = checks.get("divergences")
    if divergences is not None and divergences.value > 0:
        warnings.warn(f"{fitted.method}: {divergences.value} divergences in {n_draws} draws: the sampler left the "
                      "posterior's geometry and its draws may be biased; raise target_accept (now "
                      f"{getattr(options, 'target_accept', '?')}) or use a tighter prior", UserWarning, stacklevel=3)
    rhat = checks.get("r_hat (max)")
    if rhat is not None and fitted.posterior.sizes["chain"] > 1 and not rhat.value <= RHAT_WARN:
        warnings.warn(f"{fitted.method}: function-space r_hat {rhat.value:.3f} > {RHAT_WARN} at the training inputs: "
                      "the chains disagree; run longer (tune or burn_in, and draws), or more chains (pbnn.diagnose(fit) "
                      "shows the table)", UserWarning, stacklevel=3)


def _make_fit(spec: BNN, model: pm.Model, X: np.ndarray, y: np.ndarray, method: str, options: Options | None,
              seed: int | None, start: float, posterior: xr.Dataset, sample_stats: xr.Dataset,
              data_attrs: dict[str, str], *, scaling: TargetScaling | None = None) -> Fit:
    """Stamp the engine's posterior and sample stats with pbnn's attributes and data into a Fit.

    ``scaling``: the target scaling of the fit (default: standardized ``y`` where the likelihood standardizes,
    as :func:`fit` does); ``options`` and ``seed`` None for draws that pbnn did not make (:meth:`Fit.from_pymc`)."""
    seconds = time.perf_counter() - start
    draws_meaning = posterior.attrs.get("pbnn_draws")  # an engine's own account of its draws
    posterior = _with_parameter_deterministics(model, posterior)

    attrs = {
        "pbnn_version": _version(),
        "pbnn_method": method,
        "pbnn_options": json.dumps(_jsonable(options.to_dict()) if options is not None else {}, sort_keys=True),
        "pbnn_spec": spec.to_toml(),
        "pbnn_input_shape": json.dumps(list(X.shape[1:])),
        "pbnn_fit_seconds": float(seconds),
        **data_attrs,  # feature scaling and class names (pbnn.scaling, pbnn.labels)
    }
    if seed is not None:
        attrs["pbnn_seed"] = int(seed)
    if spec.likelihood_.standardize_targets:  # y was standardized for the fit; predictions undo it (pbnn.scaling)
        attrs.update((scaling or TargetScaling.from_targets(y)).to_attrs())
    obs = {"obs": np.arange(len(y))}
    input_dims = [model.named_vars_to_dims["X"][k] for k in range(X.ndim)]
    per_draw, per_step = split_stats(sample_stats)
    if draws_meaning is not None:
        posterior.attrs["pbnn_draws"] = draws_meaning
    elif not get_method(method).capabilities.chains:
        posterior.attrs["pbnn_draws"] = INDEPENDENT_DRAWS
    groups = {
        "posterior": posterior,
        "sample_stats": per_draw,
        "observed_data": xr.Dataset({"y": ("obs", y)}, coords=obs),
        "constant_data": xr.Dataset({"X": (input_dims, X)}, coords=obs),
    }
    if get_method(method).capabilities.point:
        attrs["pbnn_log_likelihood"] = (f"not stored: method {method!r} gives one draw, so PSIS-LOO has no draws "
                                        "to reweight; fit.predict(X, y) gives the log-likelihood at the mode")
    elif (loglik := training_log_likelihood(spec, posterior, X, y, attrs)) is not None:
        groups["log_likelihood"] = loglik
    else:
        attrs["pbnn_log_likelihood"] = (f"not stored: over {LOG_LIKELIHOOD_MAX_VALUES} values (draws x points); "
                                        "fit.predict(X, y) computes it")
    if per_step.data_vars:
        groups["optimizer_stats"] = per_step
    for ds in groups.values():
        ds.attrs.update({k: attrs[k] for k in ("pbnn_version", "pbnn_method")})
    idata = xr.DataTree.from_dict(groups)
    idata.attrs.update(attrs)
    return Fit(spec, idata)


#: What ``posterior.attrs["pbnn_draws"]`` says of the draws of a method without Markov chains.
INDEPENDENT_DRAWS = ("independent draws of an approximation, not a Markov chain: chain 0 holds them all (ArviZ's "
                     "layout), so r_hat does not apply and ESS is the number of draws")


def split_stats(stats: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """An engine's statistics as (per draw, dims ``chain, draw``: ``sample_stats``; per optimisation step, dim
    ``step``: ``optimizer_stats``, such as the ELBO history), so that ArviZ finds only per-draw statistics in
    ``sample_stats``."""
    per_step = [name for name, var in stats.data_vars.items() if "step" in var.dims]
    return stats.drop_vars(per_step + (["step"] if "step" in stats.coords else [])), stats[per_step]


#: The training log-likelihood is stored when it has at most this many values (draws x points; 2**24 doubles are
#: 128 MiB); larger fits get it on request, ``fit.predict(X, y)``.
LOG_LIKELIHOOD_MAX_VALUES = 2**24


def training_log_likelihood(spec: BNN, posterior: xr.Dataset, X: np.ndarray, y: np.ndarray,
                            attrs: dict[str, Any]) -> xr.Dataset | None:
    """The ``log_likelihood`` group: each training target's log density under each draw, in ``y``'s units
    (variable ``y``, dims ``chain, draw, obs``); None above :data:`LOG_LIKELIHOOD_MAX_VALUES` values."""
    from pbnn.predict import predict

    if posterior.sizes["chain"] * posterior.sizes["draw"] * len(y) > LOG_LIKELIHOOD_MAX_VALUES:
        return None
    if spec.task == "classification":  # y holds the codes 0..K-1; predict takes the fit's class names
        y = ClassLabels.from_attrs(attrs, 2 if spec.output_units == 1 else spec.output_units).decode(y)
    return predict(spec, posterior, X, y, attrs=attrs)["log_likelihood"].to_dataset()


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


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    """Options as JSON values; objects such as an optax optimizer by their repr."""
    return {k: (v if isinstance(v, bool | int | float | str | type(None)) else repr(v)) for k, v in options.items()}


def _version() -> str:
    import pbnn

    return pbnn.__version__
