"""A pbnn-built ``pm.Model`` as JAX functions, and the one minibatch sampler of the optimisation methods.

The log densities are PyMC's (``model.logp``) translated by PyTensor's JAX linker; nothing about the model
is re-implemented. Two graphs: the prior (``model.logp(free_RVs)``, with or without the log-Jacobian of the
transforms) on the full data, and the log-likelihood of a batch; :meth:`LogDensity.logp` scales the batch's
likelihood by ``N / B``, as ``total_size`` does. The ``pm.Data`` variables named in ``data_names`` (their
leading axis = observations) become inputs of both.

The flat parameter vector is the model's value variables (unconstrained: e.g. ``sigma_log__``) in
``model.value_vars`` order, each raveled C-order and concatenated (as PyMC's ``DictToArrayBijection``).

>>> import numpy as np, pymc as pm
>>> with pm.Model() as model:
...     y = pm.Data("y", np.array([0.5, 1.5]))
...     mu = pm.Normal("mu", 0.0, 1.0)
...     _ = pm.Normal("obs", mu, 1.0, observed=y)
>>> fns = log_density(model, ("y",))
>>> full = data_arrays(model, ("y",))
>>> round(float(fns.logp(np.zeros(1), full, full)), 4)  # N(0|0,1) + N(0.5|0,1) + N(1.5|0,1)
-4.0068
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
from pymc.initial_point import make_initial_point_fn
from pymc.sampling.jax import get_jaxified_graph
from pytensor.compile import SharedVariable
from pytensor.graph.replace import graph_replace

from pbnn.network import lean_graphs

# PyMC graphs are float64; without x64 JAX would silently downcast to float32.
jax.config.update("jax_enable_x64", True)

__all__ = ["LogDensity", "data_arrays", "initial_point", "log_density", "model_cache", "sample_batch"]


@dataclass(frozen=True)
class LogDensity:
    """The model's log densities and transforms as JAX functions of the value variables.

    ``prior(*values, *full_data)`` and ``loglik(*values, *batch_data)`` return a 1-tuple holding the sum;
    ``constrain(*values)`` returns the free RVs (``rv_names`` order).
    """

    value_names: tuple[str, ...]
    value_shapes: tuple[tuple[int, ...], ...]
    rv_names: tuple[str, ...]
    prior: Callable[..., Any]
    loglik: Callable[..., Any]
    constrain: Callable[..., Any]
    build_seconds: float
    _jit: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(s, dtype=int)) for s in self.value_shapes)

    @property
    def dim(self) -> int:
        """Length of the flat parameter vector."""
        return sum(self.sizes)

    def flatten(self, point: Mapping[str, Any]) -> np.ndarray:
        """``{value_name: array}`` (e.g. an initial point) -> the flat float64 vector."""
        return np.concatenate([np.ravel(point[name]) for name in self.value_names]).astype(np.float64)

    def unflatten(self, z: jax.Array) -> list[jax.Array]:
        """The flat vector ``(D,)`` -> the value variables, each in its shape (``value_names`` order)."""
        out, off = [], 0
        for shape, size in zip(self.value_shapes, self.sizes):
            out.append(z[off : off + size].reshape(shape))
            off += size
        return out

    def logp(self, z: jax.Array, full: tuple, batch: tuple, scale: float = 1.0) -> jax.Array:
        """Prior on the full data plus ``scale`` times the log-likelihood of ``batch`` (``scale = N / B``)."""
        values = self.unflatten(z)
        return self.prior(*values, *full)[0] + scale * self.loglik(*values, *batch)[0]

    def constrain_batch(self, flat: np.ndarray) -> list[np.ndarray]:
        """``(n, D)`` unconstrained draws -> the free RVs, each ``(n, *shape)``; computed on the CPU."""
        fn = self._jit.get("constrain")
        if fn is None:
            fn = jax.jit(jax.vmap(lambda z: tuple(self.constrain(*self.unflatten(z)))))
            self._jit["constrain"] = fn
        cpu = jax.devices("cpu")[0]
        return [np.asarray(o) for o in fn(jax.device_put(np.asarray(flat, dtype=np.float64), cpu))]


def sample_batch(key: jax.Array, data: tuple[jax.Array, ...], batch_size: int | None) -> tuple[jax.Array, ...]:
    """``batch_size`` rows of every array of ``data``, drawn uniformly with replacement (as ``pm.Minibatch``);
    None: ``data`` itself (the full batch).

    >>> rows = sample_batch(jax.random.key(0), (jnp.arange(10.0),), 4)[0]
    >>> rows.shape, bool(jnp.all((rows >= 0) & (rows < 10)))
    ((4,), True)
    """
    if batch_size is None:
        return data
    n = data[0].shape[0]
    # optimization_barrier: materialise the indices once. Without it XLA fuses the PRNG into every consumer
    # and recomputes it per element (ADVI steps on the moons BNN 4x slower on the CPU).
    idx = jax.lax.optimization_barrier(jax.random.randint(key, (batch_size,), 0, n))
    return tuple(jnp.take(d, idx, axis=0) for d in data)


# --------------------------------------------------------------------------------------------------
# cached per model
# --------------------------------------------------------------------------------------------------
_CACHE: weakref.WeakKeyDictionary[pm.Model, dict[Any, Any]] = weakref.WeakKeyDictionary()


def model_cache(model: pm.Model) -> dict[Any, Any]:
    """A dict that lives as long as ``model`` (empty and unshared if the model cannot be weak-referenced)."""
    try:
        return _CACHE.setdefault(model, {})
    except TypeError:
        return {}


def structure_key(model: pm.Model, data_names: tuple[str, ...]) -> tuple:
    """Identifies the model graph (adding variables after a fit invalidates the cached functions)."""
    dim_lengths = tuple(
        (k, int(v.get_value())) for k, v in model.dim_lengths.items() if isinstance(v, SharedVariable)
    )
    return (
        data_names,
        dim_lengths,
        tuple(v.name for v in model.value_vars),
        tuple(v.name for v in model.observed_RVs),
        tuple(v.name for v in model.deterministics),
    )


def initial_point(
    model: pm.Model, *, seed: int, start: Mapping[str, Any] | None = None, jitter: bool = False
) -> dict[str, np.ndarray]:
    """The model's initial point on the unconstrained space (``initval`` honoured; ``start`` overrides, keyed
    by RV or value-variable name; ``jitter=True`` adds PyMC's U(-1, 1) jitter, seeded by ``seed``)."""
    cache = model_cache(model)
    key = ("ipfn", structure_key(model, ()), jitter)
    fn = cache.get(key) if start is None else None
    if fn is None:
        fn = make_initial_point_fn(
            model=model, overrides=start, jitter_rvs=set(model.free_RVs) if jitter else set(),
            return_transformed=True,
        )
        if start is None:
            cache[key] = fn
    return fn(seed)


def data_arrays(model: pm.Model, data_names: Sequence[str]) -> tuple[np.ndarray, ...]:
    """The current values of the ``pm.Data`` variables ``data_names``, checked to share their leading axis."""
    arrays = tuple(np.asarray(v.get_value(borrow=True)) for v in _data_vars(model, tuple(data_names)))
    lengths = {a.shape[0] for a in arrays}
    if len(lengths) > 1:
        raise ValueError(
            f"data {tuple(data_names)} differ in length along axis 0: {[a.shape for a in arrays]}"
        )
    return arrays


def log_density(model: pm.Model, data_names: Sequence[str] = ("X", "target"), *, jacobian: bool = True) -> LogDensity:
    """The model's JAX log densities (cached per model and graph structure).

    ``jacobian=False``: the prior without the log-Jacobian of the transforms (MAP's objective: the mode of
    the parameters' own density, not of e.g. ``log sigma``'s).
    """
    data_names = tuple(data_names)
    cache = model_cache(model)
    key = ("logdensity", structure_key(model, data_names), jacobian)
    fns = cache.get(key)
    if fns is None:
        fns = _build(model, data_names, jacobian=jacobian)
        cache[key] = fns
    return fns


def _data_vars(model: pm.Model, data_names: tuple[str, ...]) -> list[SharedVariable]:
    out = []
    for name in data_names:
        try:
            var = model[name]
        except KeyError:
            raise KeyError(f"data variable {name!r} is not in the model (data_names={data_names})") from None
        if not isinstance(var, SharedVariable):
            raise TypeError(f"{name!r} must be a pm.Data (shared) variable, got {type(var).__name__}")
        if var.ndim == 0:
            raise ValueError(f"data variable {name!r} is a scalar; it needs a leading observation axis")
        out.append(var)
    return out


@lean_graphs
def _build(model: pm.Model, data_names: tuple[str, ...], *, jacobian: bool) -> LogDensity:
    t0 = time.perf_counter()
    from pymc.variational.minibatch_rv import MinibatchRandomVariable

    for rv in model.observed_RVs:
        if isinstance(rv.owner.op, MinibatchRandomVariable):
            raise ValueError(
                f"observed variable {rv.name!r} uses total_size / pm.Minibatch; the JAX loop does the "
                "minibatching itself: build the model on the full pm.Data and pass batch_size"
            )
    data = _data_vars(model, data_names)
    value_vars = list(model.value_vars)
    point = initial_point(model, seed=0)
    value_shapes = tuple(tuple(int(d) for d in np.shape(point[v.name])) for v in value_vars)

    full_in = [d.type.clone(shape=(None,) * d.ndim)(f"{d.name}_full") for d in data]
    batch_in = [d.type.clone(shape=(None,) * d.ndim)(f"{d.name}_batch") for d in data]

    prior = model.logp(vars=model.free_RVs, jacobian=jacobian, sum=True)
    if model.observed_RVs:
        lik = model.logp(vars=model.observed_RVs, sum=True)
    else:
        lik = pm.math.constant(0.0, dtype="float64")

    # likelihood: data -> batch; dims on the observation axis (e.g. coords "obs" whose length is a shared
    # scalar) -> the batch length, so that nothing broadcasts back to N.
    lik_repl: dict[Any, Any] = dict(zip(data, batch_in))
    for name, bvar in zip(data_names, batch_in):
        dims = model.named_vars_to_dims.get(name)
        if dims and dims[0] is not None and dims[0] in model.dim_lengths:
            length = model.dim_lengths[dims[0]]
            if isinstance(length, SharedVariable):
                lik_repl.setdefault(length, bvar.shape[0].astype(length.dtype))
    (lik,) = graph_replace([lik], replace=lik_repl, strict=False)
    (prior,) = graph_replace([prior], replace=dict(zip(data, full_in)), strict=False)

    return LogDensity(
        value_names=tuple(v.name for v in value_vars),
        value_shapes=value_shapes,
        rv_names=tuple(rv.name for rv in model.free_RVs),
        prior=get_jaxified_graph(inputs=value_vars + full_in, outputs=[prior]),
        loglik=get_jaxified_graph(inputs=value_vars + batch_in, outputs=[lik]),
        constrain=get_jaxified_graph(inputs=value_vars, outputs=model.replace_rvs_by_values(model.free_RVs)),
        build_seconds=time.perf_counter() - t0,
    )
