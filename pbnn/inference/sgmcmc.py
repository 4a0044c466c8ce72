"""Stochastic-gradient MCMC: blackjax's SGLD and SGHMC solvers on pbnn's minibatch log density, in compiled chunks.

Every step draws ``batch_size`` rows with replacement (:func:`~pbnn.inference.logdensity.sample_batch`) and moves the
chain with the gradient of the prior plus ``N / B`` times the batch's log-likelihood, on the unconstrained space
(:func:`~pbnn.inference.logdensity.log_density`, with the Jacobian):

* SGLD (Welling & Teh 2011): ``z += h grad + sqrt(2 h T) noise``, blackjax's ``overdamped_langevin`` solver (the
  step of its ``sgld`` kernel). The step size ``h`` is the time step of the Langevin diffusion; Welling & Teh's
  ``epsilon`` is ``2 h``.
* SGHMC (Chen et al. 2014, in Ma et al.'s 2015 scaling), blackjax's ``sghmc`` solver: ``z += h p; p = (1 - alpha h)
  p + h grad + sqrt(2 alpha h T) noise``, the momentum ``p`` kept from step to step and a fresh minibatch every step
  (Chen et al.'s algorithm 2). blackjax's ``sghmc`` kernel instead redraws ``p`` every call and runs its
  ``num_integration_steps`` on one minibatch: on a Gaussian posterior (``tests/test_sgmcmc.py``'s) that inflated the
  posterior sd by 13-17% (10 steps of h 0.005 a minibatch, alpha 1), this one by 7-11% (h 0.01, alpha 20) with 5x
  the ESS per gradient. The solver takes the gradient before it moves ``z``: ``alpha`` must exceed about ``h / 2`` times the
  largest curvature for a stable chain.

pbnn computes the gradient (``jax.value_and_grad`` of the batch's log density) and hands it to the solver, so that a
NaN/inf log density, gradient or state is caught at the step it happens: the run stops with the fault ``"diverged"``,
its message naming ``step_size``, and keeps the draws before it (never a NaN posterior). Ctrl-C returns the draws
so far (``"interrupted"``).

The step size of step ``t`` (0-based, burn-in included) follows :func:`step_size_schedule`. Each chain keeps every
``thin``-th state after ``burn_in`` steps; ``sample_stats`` hold, per draw, the ``step_size`` of the step that made
it and ``lp``, the minibatch estimate of the log density at the draw (on a fresh batch). Step ``t`` of a chain uses
the key ``fold_in(chain_key, t)``: the draws do not depend on the chunking. The chains are vmapped in one compiled
chunk (moons BNN on 2 CPU cores, 30k steps a chain: 4 vmapped chains took 0.57x the time of 4 in turn with batches of
32, 1.28x with all 500 rows a step; ``benchmarks/bench_sgmcmc.py``), cached with the model for the next fit of the
same structure (the step size and schedule are arguments, not constants: changing them does not recompile).

With ``parallel="ray"`` each chain is a Ray task (:mod:`pbnn.parallel`: a local Ray of ``workers`` CPUs started on
demand, or the cluster at ``ray_address``): the chunk vmapped over that one chain, from the chain's own seeds
(:func:`chain_seeds`), on the model the task builds from the spec and the data. Its draws are exactly those of the
chain run alone here; the chains vmapped together round differently in the last bits (XLA's batched arithmetic:
1e-15 after 300 moons steps, ``tests/test_parallel.py``). A divergence cuts every chain to the chunk call in which
the first chain diverged, as the vmapped run stops there; Ctrl-C cancels the chains still running and keeps those
that finished.

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=100)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, method="sgld", draws=50, burn_in=100,
...                chains=2, batch_size=10, seed=0, progressbar=False)
>>> fit.posterior.sizes["chain"], fit.posterior.sizes["draw"], sorted(fit.idata["sample_stats"].data_vars)
(2, 50, ['lp', 'step_size'])
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import xarray as xr

from pbnn.inference.methods import SCHEDULES, EngineResult

__all__ = ["CHUNK", "run_sghmc", "run_sgld", "step_size_schedule"]

#: Draws (outer iterations) per compiled call, each ``thin`` steps; Ctrl-C waits for at most one call.
CHUNK = 100
#: At most this many steps per compiled call: burn-in runs ``CHUNK * k`` steps a call, ``k <= MAX_STEPS // CHUNK``.
MAX_STEPS = 10_000
_LABELS = {"sgld": "SGLD", "sghmc": "SGHMC"}


def step_size_schedule(schedule: str, step_size: float, *, total_steps: int, gamma: float = 0.55,
                       decay_steps: float = 1000.0, cycles: int = 4) -> Callable[[jax.Array], jax.Array]:
    """The step size of step ``t`` (0-based, counting every step of a chain, burn-in included).

    ``"constant"``: ``step_size``. ``"polynomial"`` (Welling & Teh 2011): ``step_size * (1 + t / decay_steps) **
    -gamma``, their ``a (b + t) ** -gamma`` with ``b = decay_steps``, ``a = step_size * b ** gamma``.
    ``"cyclical"`` (Zhang et al. 2020): ``step_size / 2 * (cos(pi * (t mod L) / L) + 1)`` with ``L =
    ceil(total_steps / cycles)``: ``cycles`` warm restarts, each from ``step_size`` down to near 0.

    >>> h = step_size_schedule("cyclical", 0.1, total_steps=8, cycles=2)
    >>> [round(float(h(t)), 4) for t in range(5)]
    [0.1, 0.0854, 0.05, 0.0146, 0.1]
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule: unknown step-size schedule {schedule!r}; expected one of {', '.join(SCHEDULES)}")
    hyper = _hyper(step_size, schedule, gamma, decay_steps, math.ceil(total_steps / cycles))
    return lambda t: _step_size(jnp.asarray(t), hyper)


def _hyper(step_size, schedule, gamma, decay_steps, cycle_length, temperature=1.0, alpha=0.0) -> dict[str, float]:
    """The numbers a chunk takes as arguments (so that a new step size or schedule does not recompile it)."""
    return {"step_size": step_size, "schedule": SCHEDULES.index(schedule), "gamma": gamma,
            "decay_steps": decay_steps, "cycle_length": cycle_length, "temperature": temperature, "alpha": alpha}


def _step_size(t: jax.Array, hyper: dict) -> jax.Array:
    """:func:`step_size_schedule`'s value at step ``t``; ``hyper["schedule"]`` indexes :data:`SCHEDULES`."""
    t = jnp.asarray(t, dtype=jnp.float64)
    h, length = hyper["step_size"], hyper["cycle_length"]
    polynomial = h * (1.0 + t / hyper["decay_steps"]) ** (-hyper["gamma"])
    cyclical = h / 2 * (jnp.cos(jnp.pi * jnp.mod(t, length) / length) + 1.0)
    return jnp.select([hyper["schedule"] == 1, hyper["schedule"] == 2], [polynomial, cyclical], h + 0.0 * t)


def run_sgld(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, **options) -> EngineResult:
    """``method="sgld"``; the options are :class:`~pbnn.inference.methods.SGLDOptions`'s."""
    return _engine("sgld", spec, model, X, y, seed=seed, progressbar=progressbar, **options)


def run_sghmc(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, **options) -> EngineResult:
    """``method="sghmc"``; the options are :class:`~pbnn.inference.methods.SGHMCOptions`'s."""
    return _engine("sghmc", spec, model, X, y, seed=seed, progressbar=progressbar, **options)


def _engine(kind: str, spec, model: pm.Model, X, y, *, parallel: str = "serial", workers: int | None = None,
            ray_address: str | None = None, **options) -> EngineResult:
    if parallel == "ray":
        return run_on_ray(kind, spec, model, X, y, workers=workers, address=ray_address, **options)
    return run(kind, model, **options)


def run(kind: str, model: pm.Model, *, seed: int, progressbar: bool, draws: int, burn_in: int, thin: int,
        chains: int, step_size: float, schedule: str = "constant", **options) -> EngineResult:
    """``chains`` chains of ``burn_in + draws * thin`` steps of ``kind`` (``"sgld"``, ``"sghmc"``) on ``model``,
    vmapped; ``options`` are the rest of :func:`_calls`' (``batch_size``, ``gamma``, ...)."""
    kept, states, fault = _calls(kind, model, chain_seeds(seed, chains), progressbar=progressbar, draws=draws,
                                 burn_in=burn_in, thin=thin, step_size=step_size, schedule=schedule, **options)
    return _result(model, kind, states[-1], [k for k in kept if k is not None], fault, total=burn_in + draws * thin,
                   draws=draws, step_size=step_size, schedule=schedule)


def chain_seeds(seed: int, chains: int) -> np.ndarray:
    """The seeds of each chain (its start, SGHMC's first momentum, its noise): ``(chains, 3)`` integers from
    ``numpy.random.SeedSequence(seed)``; chain ``c`` is the same whether it runs with the others or alone."""
    return np.random.SeedSequence(seed).generate_state(3 * chains).reshape(chains, 3)


def _calls(kind: str, model: pm.Model, seeds: np.ndarray, *, progressbar: bool, draws: int, burn_in: int, thin: int,
           batch_size: int | None, step_size: float, schedule: str = "constant", gamma: float = 0.55,
           decay_steps: float = 1000.0, cycles: int = 4, temperature: float = 1.0, alpha: float = 0.0,
           device: str | None = None, history: bool = False) -> tuple[list, list[dict], str | None]:
    """The chains of ``seeds`` (one row each), call by call of the compiled chunk: ``(kept, states, fault)``,
    ``kept[i]`` the trace of call ``i`` (None in the burn-in) and ``states[-1]`` the state after the last call, as
    NumPy arrays with the chains first. ``history``: ``states[i]`` is the state after ``i`` calls (``states[0]``
    the start), with ``z`` only up to the first call of draws (what :func:`_result` takes of a state later is its
    ``t`` and ``failed``), so that :func:`run_on_ray` can cut every chain to the call where one diverged."""
    from pbnn.devices import jax_device
    from pbnn.inference.logdensity import data_arrays, initial_point, log_density, model_cache, structure_key
    from pbnn.inference.progress import progress_bar

    names = ("X", "target")
    fns = log_density(model, names, jacobian=True)
    dev = jax_device(device)
    put = (lambda x: jax.device_put(x, dev)) if dev is not None else jnp.asarray
    data = tuple(put(d) for d in data_arrays(model, names))
    total = burn_in + draws * thin

    cache = model_cache(model)
    slot = ("sgmcmc", kind, structure_key(model, names), batch_size, str(dev))
    if slot not in cache:
        cache[slot] = _compiled(fns, kind, batch_size)
    chunk = cache[slot]
    hyper = {k: put(np.asarray(v, dtype=np.int64 if k == "schedule" else np.float64)) for k, v in _hyper(
        step_size, schedule, gamma, decay_steps, math.ceil(total / cycles), temperature, alpha).items()}

    chains = len(seeds)
    z0 = np.stack([fns.flatten(initial_point(model, seed=int(s[0]), jitter=True)) for s in seeds])
    p0 = np.stack([np.random.default_rng(int(s[1])).normal(size=fns.dim) for s in seeds])  # SGHMC's momentum
    keys = put(np.stack([jax.random.key_data(jax.random.key(int(s[2]))) for s in seeds]))
    state = {"z": put(z0), "p": put(p0), "t": put(np.zeros(chains, np.int64)), "failed": put(np.zeros(chains, bool))}

    kept: list[tuple[np.ndarray, ...] | None] = []  # per call: z (chains, n, D), step_size, lp, finite (chains, n)
    states = [_numpy(state)]
    done, n_draws, fault = 0, 0, None
    try:
        with progress_bar(progressbar, total, label=_LABELS[kind], value_name="lp") as advance:
            while done < total:
                if done < burn_in:
                    rest = burn_in - done
                    inner, n = (min(rest // CHUNK, MAX_STEPS // CHUNK), CHUNK) if rest >= CHUNK else (1, rest)
                else:
                    inner, n = thin, min(CHUNK, max(1, MAX_STEPS // thin), draws - n_draws)
                state, trace = chunk(state, keys, data, hyper, jnp.asarray(n), jnp.asarray(inner))
                trace = tuple(np.asarray(a)[:, :n] for a in trace)
                kept.append(trace if done >= burn_in else None)
                if history:
                    states.append(_numpy(state, z=n_draws == 0))  # z: until the first call of draws
                else:
                    states[-1] = _numpy(state)
                n_draws += n if done >= burn_in else 0
                done += n * inner
                advance(done, np.nan_to_num(trace[2]))
                if states[-1]["failed"].any():
                    fault = "diverged"
                    break
    except KeyboardInterrupt:  # `states[-1]` is the last completed call's
        fault = "interrupted"
    return kept, states, fault


def _numpy(state: dict, z: bool = True) -> dict[str, np.ndarray]:
    """A chunk's state as NumPy arrays, without SGHMC's momentum (and without ``z`` unless ``z``)."""
    return {k: np.asarray(v) for k, v in state.items() if k != "p" and (z or k != "z")}


def run_on_ray(kind: str, spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, chains: int, draws: int,
               burn_in: int, thin: int, step_size: float, schedule: str = "constant", workers: int | None = None,
               address: str | None = None, **options) -> EngineResult:
    """:func:`run`'s chains, each a Ray task (:func:`chain_task`, :mod:`pbnn.parallel`), with its numbers.

    A chain that diverges ends the run as in :func:`run`: the chains are cut to the call of the chunk in which the
    first one diverged. Ctrl-C cancels the chains still running and keeps those that finished."""
    from pbnn import parallel
    from pbnn.inference.progress import progress_bar

    options = dict(draws=draws, burn_in=burn_in, thin=thin, step_size=step_size, schedule=schedule, **options)
    seeds = chain_seeds(seed, chains)
    finished: dict[int, tuple] = {}
    try:
        with progress_bar(progressbar, chains, label=f"{_LABELS[kind]} (Ray)", value_name="lp") as advance:
            for c, out in parallel.tasks(chain_task, [(kind, spec, X, y, seeds[c:c + 1], options)
                                                      for c in range(chains)], workers=workers, address=address):
                finished[c] = out
                last = [trace for trace in out[0] if trace is not None][-1:]  # the chain's last call of draws
                advance(len(finished), np.nan_to_num(last[0][2]) if last else np.zeros(1))
    except KeyboardInterrupt:
        if not finished:
            raise
    done = sorted(finished)
    kept, states, faults = zip(*(finished[c] for c in done), strict=True)
    diverged = [len(s) - 1 for s, f in zip(states, faults, strict=True) if f == "diverged"]
    calls = min(diverged) if diverged else len(states[0]) - 1  # chunk calls kept, as many for every chain
    joined = [tuple(np.concatenate(parts, axis=0) for parts in zip(*call, strict=True))
              for call in zip(*(k[:calls] for k in kept), strict=True) if call[0] is not None]
    state = {name: np.concatenate([s[calls][name] for s in states]) for name in states[0][calls]}
    total = burn_in + draws * thin
    result = _result(model, kind, state, joined, "diverged" if diverged else None, total=total, draws=draws,
                     step_size=step_size, schedule=schedule)
    if len(done) < chains and not diverged:
        result.fault = "interrupted"
        result.message = (f"{_LABELS[kind]} interrupted: {len(done)} of {chains} chains finished on Ray (chains "
                          f"{', '.join(map(str, done))}): returning those")
    return result


def chain_task(kind: str, spec, X, y, seeds: np.ndarray, options: dict) -> tuple[list, list[dict], str | None]:
    """:func:`_calls` of the chains of ``seeds`` (a Ray task) on the model of ``spec`` and the (standardized)
    ``X``, ``y``, taken from and given back to :func:`pbnn.fit`'s models of recent fits."""
    from pbnn.inference.fitting import on_kept_model

    return on_kept_model(spec, X, y, lambda model: _calls(kind, model, seeds, progressbar=False, history=True,
                                                          **options), faulty=lambda out: out[2] is not None)


def _result(model: pm.Model, kind: str, state: dict, kept: list, fault: str | None, *, total: int, draws: int,
            step_size: float, schedule: str) -> EngineResult:
    """The kept draws as an EngineResult, every chain cut to the draws all of them made from finite states."""
    from pbnn.inference import draws_to_posterior
    from pbnn.inference.logdensity import log_density

    fns = log_density(model, ("X", "target"), jacobian=True)
    label, chains = _LABELS[kind], len(np.asarray(state["t"]))
    z, h, lp, finite = ((np.concatenate(parts, axis=1) for parts in zip(*kept, strict=True)) if kept else
                        (np.empty((chains, 0, fns.dim)), *(np.empty((chains, 0)) for _ in range(3))))
    n = int(min(np.argmin(np.c_[finite.astype(bool), np.zeros(chains, bool)], axis=1)))  # leading finite draws
    message = ""
    if fault == "interrupted":
        if n == 0:
            raise KeyboardInterrupt
        message = f"{label} interrupted after {n} of {draws} draws per chain: returning the draws so far"
    elif fault == "diverged":
        chain = int(np.argmax(np.asarray(state["failed"])))
        step = int(np.asarray(state["t"])[chain]) + 1
        held = f"the {n} draws per chain before it" if n else "the last finite state of every chain (one draw)"
        message = (f"{label} diverged: chain {chain}'s log density, gradient or state became NaN/inf at step {step} of "
                   f"{total}: lower "
                   f"step_size (now {step_size:g}, {schedule} schedule). exc.fit holds {held}.")
        if n == 0:
            z, h, lp, n = np.asarray(state["z"])[:, None], np.full((chains, 1), np.nan), np.full((chains, 1), np.nan), 1
    z, h, lp = z[:, :n], h[:, :n], lp[:, :n]
    values = fns.constrain_batch(z.reshape(chains * n, -1))
    posterior = draws_to_posterior(model, {name: v.reshape(chains, n, *v.shape[1:])
                                           for name, v in zip(fns.rv_names, values, strict=True)})
    coords = {"chain": np.arange(chains), "draw": np.arange(n)}
    stats = xr.Dataset({"step_size": (("chain", "draw"), h), "lp": (("chain", "draw"), lp)}, coords=coords)
    return EngineResult(posterior, stats, fault, message)


def _compiled(fns, kind: str, batch_size: int | None):
    """The jitted ``chunk(state, keys, data, hyper, n, inner) -> (state, (z, step_size, lp, finite))`` of all the
    chains at once (vmapped): ``n <= CHUNK`` draws of ``inner`` steps each (the rest idle), each array
    (chains, CHUNK, ...)."""
    if importlib.util.find_spec("blackjax") is None:
        raise ImportError(f"method {kind!r} needs blackjax, which is not installed; install the extra with: "
                          "pip install 'pbnn[jax]'")
    from blackjax.sgmcmc.diffusions import overdamped_langevin, sghmc

    from pbnn.inference.logdensity import sample_batch

    def logdensity(z, batch, data):
        scale = 1.0 if batch_size is None else data[0].shape[0] / batch_size
        return fns.logp(z, data, batch, scale)

    value_and_grad = jax.value_and_grad(logdensity)

    def step(st, key, data, hyper):
        """One step from the state ``st``: the new ``(z, p)`` and whether the batch's log density and its gradient
        at ``st`` were finite."""
        h = _step_size(st["t"], hyper)
        k_batch, k_move = jax.random.split(jax.random.fold_in(key, st["t"]))
        value, grad = value_and_grad(st["z"], sample_batch(k_batch, data, batch_size), data)
        finite = jnp.isfinite(value) & jnp.all(jnp.isfinite(grad))
        if kind == "sgld":
            return overdamped_langevin()(k_move, st["z"], grad, h, hyper["temperature"]), st["p"], finite
        return *sghmc(alpha=hyper["alpha"])(k_move, st["z"], st["p"], grad, h, hyper["temperature"]), finite

    def one_chain(state, key_data, data, hyper, n, inner):
        key = jax.random.wrap_key_data(key_data)

        def inner_step(_, st):
            z, p, finite = step(st, key, data, hyper)
            moved = ~st["failed"] & finite & jnp.all(jnp.isfinite(z)) & jnp.all(jnp.isfinite(p))
            return {"z": jnp.where(moved, z, st["z"]), "p": jnp.where(moved, p, st["p"]), "t": st["t"] + moved,
                    "failed": ~moved}

        def run_draw(st):
            st = jax.lax.fori_loop(0, inner, inner_step, st)
            batch = sample_batch(jax.random.fold_in(jax.random.fold_in(key, st["t"]), 1), data, batch_size)
            return st, logdensity(st["z"], batch, data)

        def draw(st, i):
            st, lp = jax.lax.cond(i < n, run_draw, lambda s: (s, jnp.asarray(jnp.nan)), st)
            return st, (st["z"], _step_size(st["t"] - 1, hyper), lp, ~st["failed"])

        return jax.lax.scan(draw, state, jnp.arange(CHUNK))

    return jax.jit(jax.vmap(one_chain, in_axes=(0, 0, None, None, None, None)))
