"""NUTS with numpyro's kernel on pbnn's JAX log density, run in compiled chunks that Ctrl-C can stop.

``pm.sample(nuts_sampler="numpyro")`` runs every chain in one XLA call, which no interrupt reaches. Here
numpyro's NUTS kernel (its step-size and diagonal mass-matrix adaptation, tree depth 10) steps the model's
log density (:func:`pbnn.inference.logdensity.log_density`, the same PyMC graph) inside one compiled
``lax.scan`` of :data:`CHUNK` iterations; the chains take turns chunk by chunk, so Ctrl-C stops the run
within one chunk and the draws so far are kept (the fault ``"interrupted"``). The compiled chunk is kept with
the model, for the next fit of the same structure.

``sample_stats`` as PyMC names them: ``acceptance_rate``, ``step_size``, ``diverging``, ``energy``,
``n_steps``, ``tree_depth`` and ``lp``, the log density of the draw (``model.logp()``, with the Jacobian).

>>> import pbnn
>>> ds = pbnn.datasets.moons(n_samples=100)
>>> fit = pbnn.fit(pbnn.zoo.two_layer_tanh(), ds.X_train, ds.y_train, method="nuts", sampler="numpyro",
...                draws=20, tune=20, chains=2, seed=0, progressbar=False)
>>> fit.idata["sample_stats"]["lp"].dims
('chain', 'draw')
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import xarray as xr

from pbnn.inference.methods import EngineResult

#: NUTS iterations per compiled call: an interrupt waits for at most one chunk of one chain.
CHUNK = 25
#: What each iteration records besides the position: PyMC's name of a statistic -> its value in numpyro's state
#: (``lp``: numpyro's potential energy is minus the log density). The progress bar shows the first.
_STATS = {
    "acceptance_rate": lambda st: st.accept_prob,
    "step_size": lambda st: st.adapt_state.step_size,
    "diverging": lambda st: st.diverging,
    "energy": lambda st: st.energy,
    "n_steps": lambda st: st.num_steps,
    "lp": lambda st: -st.potential_energy,
}


def run(model: pm.Model, *, seed: int, progressbar: bool, draws: int, tune: int, chains: int,
        target_accept: float, device: str | None = None) -> EngineResult:
    """``chains`` chains of ``tune`` adapting and ``draws`` kept NUTS iterations; see the module doc."""
    from pbnn.devices import jax_device
    from pbnn.inference import draws_to_posterior
    from pbnn.inference.logdensity import data_arrays, initial_point, log_density, model_cache, structure_key
    from pbnn.inference.progress import progress_bar

    names = ("X", "target")
    fns = log_density(model, names)
    dev = jax_device(device)
    put = (lambda x: jax.device_put(x, dev)) if dev is not None else jnp.asarray
    data = tuple(put(d) for d in data_arrays(model, names))

    cache = model_cache(model)
    slot = ("chunked_nuts", structure_key(model, names), tune, target_accept, str(dev))
    if slot not in cache:
        cache[slot] = _compiled(fns, tune, target_accept)
    init, chunk = cache[slot]
    seeds = np.random.SeedSequence(seed).generate_state(2 * chains)
    states = []
    for c in range(chains):
        x0 = fns.flatten(initial_point(model, seed=int(seeds[2 * c]), jitter=True))
        states.append(init(put(x0), jax.random.key(int(seeds[2 * c + 1])), data))

    total = tune + draws
    kept: list[list[tuple]] = [[] for _ in range(chains)]
    done = 0  # iterations every chain has completed
    try:
        with progress_bar(progressbar, chains * total, label="NUTS", value_name="accept") as advance:
            while done < total:
                n = min(CHUNK, total - done)
                for c in range(chains):
                    states[c], trace = chunk(states[c], data, jnp.asarray(n))
                    first = max(0, tune - done)  # iterations of this chunk that are still tuning
                    if first < n:
                        kept[c].append(jax.tree.map(lambda a: np.asarray(a)[first:n], trace))
                    advance(done * chains + (c + 1) * n, np.asarray(trace[1])[:n])
                done += n
    except KeyboardInterrupt:
        pass
    n_kept = min(sum(len(t[0]) for t in chain) for chain in kept)
    if n_kept == 0:
        raise KeyboardInterrupt
    z, stats = _stack(kept, n_kept)
    values = fns.constrain_batch(z.reshape(chains * n_kept, -1))
    posterior = draws_to_posterior(model, {name: v.reshape(chains, n_kept, *v.shape[1:])
                                           for name, v in zip(fns.rv_names, values, strict=True)})
    if n_kept < draws:
        return EngineResult(posterior, stats, "interrupted",
                            f"NUTS interrupted after {n_kept} of {draws} draws per chain: returning the draws so far")
    return EngineResult(posterior, stats)


def _strong(a):
    """``a`` without JAX's weak type, so that both branches of the chunk's ``cond`` agree."""
    if isinstance(a, jax.Array) and jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
        return a
    a = jnp.asarray(a)
    return jnp.array(a, dtype=a.dtype)


def _compiled(fns, tune: int, target_accept: float):
    """The jitted ``init(x0, key, data) -> state`` and ``chunk(state, data, n) -> (state, trace)`` (``n <= CHUNK``
    iterations, the rest idle) of one numpyro NUTS kernel on the log density ``fns``."""
    from numpyro.infer.hmc import hmc

    def potential_fn_gen(*data):
        return lambda z: -fns.logp(z, data, data)

    init_kernel, sample_kernel = hmc(potential_fn_gen=potential_fn_gen, algo="NUTS")

    def init(x0, key, data):  # tracing numpyro's init sets the adaptation schedule that sample_kernel follows
        state = init_kernel(x0, tune, target_accept_prob=target_accept, model_args=data, rng_key=key)
        return jax.tree.map(_strong, state)

    def chunk(state, data, n):
        def body(st, i):
            st = jax.lax.cond(i < n, lambda s: jax.tree.map(_cast, sample_kernel(s, model_args=data), s),
                              lambda s: s, st)
            return st, (st.z, *(stat(st) for stat in _STATS.values()))

        return jax.lax.scan(body, state, jnp.arange(CHUNK))

    return jax.jit(init), jax.jit(chunk)


def _cast(new, old):
    if jnp.issubdtype(old.dtype, jax.dtypes.prng_key):
        return new
    return new.astype(old.dtype)


def _stack(kept: list[list[tuple]], n: int) -> tuple[np.ndarray, xr.Dataset]:
    """The first ``n`` kept iterations of every chain: positions (chain, draw, D) and the sample stats."""
    fields = [[np.concatenate([t[k] for t in chain])[:n] for chain in kept] for k in range(len(_STATS) + 1)]
    z = np.stack(fields[0])
    stats = {name: np.stack(arrays) for name, arrays in zip(_STATS, fields[1:], strict=True)}
    stats["diverging"] = stats["diverging"].astype(bool)
    stats["tree_depth"] = np.log2(np.maximum(stats["n_steps"], 1)).astype(np.int64) + 1
    coords = {"chain": np.arange(len(kept)), "draw": np.arange(n)}
    return z, xr.Dataset({k: (("chain", "draw"), v) for k, v in stats.items()}, coords=coords)
