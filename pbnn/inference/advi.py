"""ADVI (mean-field or full-rank Gaussian on the unconstrained space), full batch or minibatch.

Two engines optimize the same objective, PyMC's ELBO with ``total_size`` scaling for minibatches:

* ``"jax"``: the ELBO as a loss of pbnn's optax loop (:mod:`pbnn.inference.jax_advi` on
  :mod:`pbnn.inference.loop`), Adam or the user's ``optimizer``; the default when jax is installed;
* ``"pymc"``: PyMC's ``pm.fit`` with Adam, compiled with ``backend``: the reference path. JAX by default: on a
  fresh PyTensor cache the moons network's fit and draws compile in 6 s with JAX, in 47-67 s with NUMBA; the
  draws are compiled in FAST_COMPILE (they run once).

Faults: a NaN/inf ELBO raises :class:`~pbnn.errors.DivergenceError` saying what to try (with the JAX
engine its ``fit`` holds draws from the last finite approximation); Ctrl-C returns the steps done so
far with a warning (both engines).
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
import pymc as pm
import pytensor
import xarray as xr

from pbnn.compile import build_model
from pbnn.devices import check_device
from pbnn.errors import DivergenceError
from pbnn.inference.methods import EngineResult
from pbnn.validation import check_positive_int

ENGINES = ("auto", "jax", "pymc")


def run_meanfield(spec, model, X, y, *, seed, progressbar, steps=30_000, batch_size=None, learning_rate=0.01,
                 final_learning_rate=None, mc_samples=1, draws=1000, init_scale=None, engine="auto", backend="numba",
                 device=None, optimizer=None, estimator="reparam"):
    """Mean-field ADVI; returns the posterior and the ELBO history (an EngineResult)."""
    return _run(spec, model, X, y, fullrank=False, seed=seed, progressbar=progressbar, steps=steps,
                batch_size=batch_size, learning_rate=learning_rate, final_learning_rate=final_learning_rate,
                mc_samples=mc_samples, draws=draws, init_scale=init_scale, engine=engine, backend=backend,
                device=device, optimizer=optimizer, estimator=estimator)


def run_fullrank(spec, model, X, y, *, seed, progressbar, steps=30_000, batch_size=None, learning_rate=0.01,
                 final_learning_rate=None, mc_samples=1, draws=1000, init_scale=None, engine="auto", backend="numba",
                 device=None, optimizer=None, estimator="reparam"):
    """Full-rank ADVI; returns the posterior and the ELBO history (an EngineResult)."""
    return _run(spec, model, X, y, fullrank=True, seed=seed, progressbar=progressbar, steps=steps,
                batch_size=batch_size, learning_rate=learning_rate, final_learning_rate=final_learning_rate,
                mc_samples=mc_samples, draws=draws, init_scale=init_scale, engine=engine, backend=backend,
                device=device, optimizer=optimizer, estimator=estimator)


def resolve_engine(engine: str) -> str:
    """``"auto"`` -> ``"jax"`` when jax is installed, else ``"pymc"``; checks the name."""
    if engine not in ENGINES:
        raise ValueError(f"engine: unknown ADVI engine {engine!r}; expected one of {', '.join(ENGINES)}")
    has_jax = importlib.util.find_spec("jax") is not None
    if engine == "jax" and not has_jax:
        raise ImportError("engine='jax' needs jax, which is not installed; install the extra with: pip install 'pbnn[jax]'")
    if engine == "auto":
        return "jax" if has_jax and _jax_engine_available() else "pymc"
    return engine


def _jax_engine_available() -> bool:
    return importlib.util.find_spec("pbnn.inference.jax_advi") is not None


#: Initial sd of the approximation: small, so that the optimizer starts near a network, not near noise
#: (PyMC's softplus(0) = 0.69 made mean-field ADVI prune every unit of the moons BNN with biases).
DEFAULT_INIT_SCALE = 0.1


def _run(spec, model, X, y, *, fullrank, seed, progressbar, steps, batch_size, learning_rate, final_learning_rate,
         mc_samples, draws, init_scale, engine, backend, device, optimizer, estimator="reparam"):
    steps = check_positive_int("steps", steps)
    mc_samples = check_positive_int("mc_samples", mc_samples)
    if init_scale is not None and not (isinstance(init_scale, int | float) and init_scale > 0):
        raise ValueError(f"init_scale: expected a positive number, got {init_scale!r}")
    draws = check_positive_int("draws", draws)
    final = learning_rate if final_learning_rate is None else final_learning_rate
    for name, rate in (("learning_rate", learning_rate), ("final_learning_rate", final)):
        if not (isinstance(rate, int | float) and rate > 0):
            raise ValueError(f"{name}: expected a positive number, got {rate!r}")
    fit_seed, sample_seed = np.random.SeedSequence(seed).generate_state(2)
    if optimizer is not None and resolve_engine(engine) != "jax":
        raise ValueError("optimizer: an optax optimizer runs on the JAX engine; use engine='jax' (or 'auto')")
    if estimator != "reparam" and resolve_engine(engine) != "jax":
        raise ValueError(f"estimator: '{estimator}' runs on the JAX engine; use engine='jax' (or 'auto')")
    if estimator != "reparam":
        from pbnn.inference.estimators import check

        check(spec, model, estimator)
    if resolve_engine(engine) == "jax":
        return _run_jax(model, fullrank=fullrank, seed=int(fit_seed), sample_seed=int(sample_seed),
                        progressbar=progressbar, steps=steps, batch_size=batch_size,
                        learning_rate=learning_rate, final_learning_rate=final_learning_rate,
                        mc_samples=mc_samples, draws=draws, init_scale=init_scale or DEFAULT_INIT_SCALE,
                        device=device, optimizer=optimizer, estimator=estimator, spec=spec)
    if check_device(device) is not None:
        raise ValueError("device: only the JAX engine runs on a chosen device; engine='pymc' runs on the CPU")
    train = model if batch_size is None else build_model(spec, X, y, batch_size=batch_size, check_input=False)
    if fullrank:
        if init_scale is not None:
            raise ValueError("init_scale: PyMC's full-rank ADVI (engine='pymc') has no initial scale; use engine='jax'")
        start_sigma = None
    else:
        scale = init_scale or DEFAULT_INIT_SCALE
        start_sigma = {v.name: np.full(train.initial_point()[v.name].size, scale) for v in train.value_vars}
    rate = pytensor.shared(np.float64(learning_rate), name="learning_rate")
    schedule = _LearningRateCallback(rate, learning_rate, final, steps)
    with train, warnings.catch_warnings():
        # pm.fit seeds the RNGs before compiling, so JAX's copies of them start from the seeded state
        warnings.filterwarnings("ignore", "The RandomType SharedVariables", UserWarning)
        try:
            approx = pm.fit(
                steps,
                method="fullrank_advi" if fullrank else "advi",
                obj_optimizer=pm.adam(learning_rate=rate),
                obj_n_mc=mc_samples,
                callbacks=[schedule] if final != learning_rate else None,
                random_seed=int(fit_seed),
                progressbar=progressbar,
                backend=backend,
                start_sigma=start_sigma,
            )
        except FloatingPointError as err:  # PyMC keeps no finite parameters to hand back
            scale = None if fullrank else init_scale or DEFAULT_INIT_SCALE
            raise DivergenceError(divergence_message(None, steps, learning_rate, scale)) from None
        with pytensor.config.change_flags(mode="FAST_COMPILE"):
            sampled = approx.sample(draws, random_seed=int(sample_seed))
    free = [rv.name for rv in model.free_RVs]
    posterior = sampled["posterior"].to_dataset()[free]
    elbo = -np.asarray(approx.hist, dtype=np.float64)
    return EngineResult(posterior, _elbo_stats(elbo))


def _run_jax(model, *, fullrank, seed, sample_seed, progressbar, steps, batch_size, learning_rate,
             final_learning_rate, mc_samples, draws, init_scale, device=None, optimizer=None, estimator="reparam",
             spec=None):
    from pbnn.inference.jax_advi import fit_advi
    from pbnn.inference.loop import warn_if_worse
    from pbnn.inference.progress import progress_bar

    rate = None if optimizer is not None else learning_rate  # what the messages name
    try:
        with progress_bar(progressbar, steps, label="ADVI", value_name="ELBO") as advance:
            result = fit_advi(model, steps=steps, batch_size=batch_size, data_names=("X", "target"),
                              learning_rate=learning_rate, final_learning_rate=final_learning_rate,
                              fullrank=fullrank, seed=seed, init_scale=init_scale,
                              n_mc=mc_samples, device=device, optimizer=optimizer, estimator=estimator, spec=spec,
                              callback=lambda step, elbo: advance(step, elbo))
    except FloatingPointError as err:
        message = divergence_message(err.result.steps + 1, steps, learning_rate, init_scale)
        return _draws(model, err.result, draws, sample_seed, "diverged",
                      f"{message} exc.fit holds draws from the last finite approximation.")
    except KeyboardInterrupt as interrupt:
        result = getattr(interrupt, "result", None)
        if result is None or result.steps == 0:
            raise
        warn_if_worse(-result.elbo, label="ADVI", learning_rate=rate)
        return _draws(model, result, draws, sample_seed, "interrupted",
                      f"ADVI interrupted after {result.steps} of {steps} steps: returning the fit so far")
    warn_if_worse(-result.elbo, label="ADVI", learning_rate=rate)
    return _draws(model, result, draws, sample_seed)


def _draws(model, result, draws, sample_seed, fault=None, message="") -> EngineResult:
    from pbnn.inference import draws_to_posterior

    values, log_q_values = result.sample_with_log_q(draws, seed=sample_seed)
    posterior = draws_to_posterior(model, {k: v[None] for k, v in values.items()})
    # log q of each draw on the unconstrained space: the VI check's importance ratios (pbnn.elpd.vi_khat)
    log_q = xr.Dataset({"log_q": (("chain", "draw"), log_q_values[None])},
                       coords={"chain": [0], "draw": np.arange(draws)})
    stats = xr.merge([_elbo_stats(np.asarray(result.elbo, dtype=np.float64)), log_q])
    # the cost of a step: the loop's seconds (compilation apart) over its steps, as flow_vi records it
    stats.attrs.update(pbnn_compile_seconds=float(result.compile_seconds), pbnn_run_seconds=float(result.run_seconds))
    return EngineResult(posterior, stats, fault, message)


def divergence_message(step: int | None, steps: int, learning_rate: float, init_scale: float | None) -> str:
    """What a diverged ADVI run tells the user: where it failed and what to try."""
    where = f"at step {step} of {steps}" if step else f"within {steps} steps"
    scale = f" (now {init_scale})" if init_scale is not None else ""
    return (
        f"ADVI diverged: the ELBO or its gradient became NaN/inf {where}. Try a lower learning_rate "
        f"(now {learning_rate}), a smaller init_scale{scale}, or standardizing X (e.g. "
        "sklearn.preprocessing.StandardScaler)."
    )


def _elbo_stats(elbo: np.ndarray) -> xr.Dataset:
    return xr.Dataset({"elbo": ("step", elbo)}, coords={"step": np.arange(1, len(elbo) + 1)})


class _LearningRateCallback:
    """``pm.fit`` callback: writes the rate of step ``i`` (:func:`pbnn.inference.loop.learning_rate_schedule`)
    into Adam's shared learning rate after ``i`` steps."""

    def __init__(self, rate, first: float, last: float, steps: int) -> None:
        from pbnn.inference.loop import learning_rate_schedule

        schedule = learning_rate_schedule(first, last, steps)
        self.rate, self.schedule = rate, schedule if callable(schedule) else lambda i: schedule

    def __call__(self, approx, losses, i: int) -> None:  # i: steps done
        self.rate.set_value(np.float64(self.schedule(i)))

