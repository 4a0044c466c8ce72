"""Fast ADVI for PyMC models: the whole Adam optimisation loop compiled in JAX.

The objective is PyMC's ADVI: a mean-field (or full-rank) Gaussian on the model's
*unconstrained* space (the value variables after PyMC's default transforms, log-Jacobian
included), maximised with Adam on the reparameterised ELBO.  The log density is built by
PyMC (``model.logp``) and translated to JAX with PyTensor's JAX linker; nothing about the
model is re-implemented here.

Design
------
* Two log-density graphs: prior + Jacobian (``model.logp(free_RVs, jacobian=True)``) and
  likelihood (``model.logp(observed_RVs)``).  The ``pm.Data`` shared variables named in
  ``data_names`` (their leading axis = observations) become symbolic inputs; the prior sees
  the full data, the likelihood a minibatch, scaled by ``N / B`` (what ``total_size`` does).
* ``jax.lax.scan`` runs ``chunk_size`` steps per compiled call; Python only loops over
  chunks (and calls ``callback`` in between).  Minibatch indices are drawn inside the loop,
  uniformly **with replacement** (as ``pm.Minibatch`` does), ``B`` per step.
* Step ``t`` uses the PRNG key ``fold_in(key(seed), t)``: results do not depend on
  ``chunk_size`` and the same seed reproduces the ELBO history bit for bit.
* Float64: importing this module enables ``jax_enable_x64`` (PyMC models are float64;
  PyTensor's JAX backend already does the same when ``floatX == "float64"``).
* Flat parameter vector = the model's value variables, in ``model.value_vars`` order, each
  raveled C-order and concatenated (as ``pymc.blocking.DictToArrayBijection``); see
  :attr:`ADVIResult.value_names` / :meth:`ADVIResult.unflatten`.
"""

from __future__ import annotations

import math
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

from pbnn.devices import jax_device
from pbnn.inference import schedule

# PyMC graphs are float64; without x64 JAX would silently downcast to float32.
jax.config.update("jax_enable_x64", True)

__all__ = ["ADVIResult", "fit_advi"]

_LOG_2PI_E = math.log(2.0 * math.pi) + 1.0
_ADAM_B1, _ADAM_B2, _ADAM_EPS = 0.9, 0.999, 1e-8  # optax / pm.adam defaults


# --------------------------------------------------------------------------------------
# Model -> JAX functions (cached per model)
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ModelFns:
    value_names: tuple[str, ...]
    value_shapes: tuple[tuple[int, ...], ...]
    rv_names: tuple[str, ...]
    prior_fn: Callable[..., Any]  # (*values, *full_data) -> (prior logp [+ log|J|],)
    lik_fn: Callable[..., Any]  # (*values, *batch_data) -> (loglik of the batch,)
    constrain_fn: Callable[..., Any]  # (*values) -> constrained free RVs
    build_seconds: float
    _jit: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(int(np.prod(s, dtype=int)) for s in self.value_shapes)

    def unflatten(self, z: jax.Array) -> list[jax.Array]:
        out, off = [], 0
        for shape, size in zip(self.value_shapes, self.sizes):
            out.append(z[off : off + size].reshape(shape))
            off += size
        return out

    def constrain_batch(self, flat: np.ndarray) -> list[np.ndarray]:
        """(n, D) unconstrained draws -> constrained free RVs, each (n, *shape); on CPU."""
        fn = self._jit.get("constrain")
        if fn is None:
            fn = jax.jit(jax.vmap(lambda z: tuple(self.constrain_fn(*self.unflatten(z)))))
            self._jit["constrain"] = fn
        cpu = jax.devices("cpu")[0]
        return [np.asarray(o) for o in fn(jax.device_put(flat, cpu))]


# model -> {key: _ModelFns / jitted chunk functions}; entries die with the model.
_CACHE: weakref.WeakKeyDictionary[pm.Model, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _model_cache(model: pm.Model) -> dict[Any, Any]:
    try:
        return _CACHE.setdefault(model, {})
    except TypeError:  # not weak-referenceable / hashable: no caching
        return {}


def _structure_key(model: pm.Model, data_names: tuple[str, ...]) -> tuple:
    """Identifies the model graph (adding variables after a fit invalidates the cache)."""
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


def _build_model_fns(
    model: pm.Model, data_names: tuple[str, ...], ip: Mapping[str, Any], *, jacobian: bool = True
) -> _ModelFns:
    """The model's log densities as JAX functions; ``jacobian=False``: the prior without the Jacobian terms of
    the transforms (MAP's objective: the mode of the parameters' own density, not of e.g. ``log sigma``'s)."""
    t0 = time.perf_counter()
    from pymc.variational.minibatch_rv import MinibatchRandomVariable

    for rv in model.observed_RVs:
        if isinstance(rv.owner.op, MinibatchRandomVariable):
            raise ValueError(
                f"observed variable {rv.name!r} uses total_size / pm.Minibatch; fit_advi does the "
                "minibatching itself: build the model on the full pm.Data and pass batch_size"
            )
    data = _data_vars(model, data_names)
    value_vars = list(model.value_vars)
    value_shapes = tuple(tuple(int(d) for d in np.shape(ip[v.name])) for v in value_vars)

    full_in = [d.type.clone(shape=(None,) * d.ndim)(f"{d.name}_full") for d in data]
    batch_in = [d.type.clone(shape=(None,) * d.ndim)(f"{d.name}_batch") for d in data]

    prior = model.logp(vars=model.free_RVs, jacobian=jacobian, sum=True)
    if model.observed_RVs:
        lik = model.logp(vars=model.observed_RVs, sum=True)
    else:
        lik = pm.math.constant(0.0, dtype="float64")

    # likelihood: data -> minibatch; dims on the observation axis (e.g. coords "obs" whose
    # length is a shared scalar) -> the batch length, so nothing broadcasts back to N.
    lik_repl: dict[Any, Any] = dict(zip(data, batch_in))
    for name, bvar in zip(data_names, batch_in):
        dims = model.named_vars_to_dims.get(name)
        if dims and dims[0] is not None and dims[0] in model.dim_lengths:
            length = model.dim_lengths[dims[0]]
            if isinstance(length, SharedVariable):
                lik_repl.setdefault(length, bvar.shape[0].astype(length.dtype))
    (lik,) = graph_replace([lik], replace=lik_repl, strict=False)
    (prior,) = graph_replace([prior], replace=dict(zip(data, full_in)), strict=False)

    prior_fn = get_jaxified_graph(inputs=value_vars + full_in, outputs=[prior])
    lik_fn = get_jaxified_graph(inputs=value_vars + batch_in, outputs=[lik])
    constrained = model.replace_rvs_by_values(model.free_RVs)
    constrain_fn = get_jaxified_graph(inputs=value_vars, outputs=constrained)
    return _ModelFns(
        value_names=tuple(v.name for v in value_vars),
        value_shapes=value_shapes,
        rv_names=tuple(rv.name for rv in model.free_RVs),
        prior_fn=prior_fn,
        lik_fn=lik_fn,
        constrain_fn=constrain_fn,
        build_seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------------------
# The compiled chunk of optimisation steps
# --------------------------------------------------------------------------------------
def _scale_from_params(params: dict[str, jax.Array], fullrank: bool) -> jax.Array:
    if fullrank:
        raw = params["L"]
        return jnp.tril(raw, -1) + jnp.diag(jax.nn.softplus(jnp.diag(raw)))
    return jax.nn.softplus(params["rho"])


def _make_chunk_fn(
    fns: _ModelFns, *, fullrank: bool, batch_size: int | None, n_data: int, n_mc: int, length: int
) -> Callable[..., Any]:
    """Return ``chunk(state, data, lr, log_decay, n_active, key) -> (state, elbo[length])`` (not jitted).

    Step ``t`` moves at ``lr * exp(log_decay * t)`` (``log_decay = 0``: a constant learning rate)."""
    dim = sum(fns.sizes)
    scale = 1.0 if batch_size is None else n_data / batch_size
    # Adam moves every entry by about lr per step whatever its gradient, and the gradient of an
    # off-diagonal Cholesky entry is mostly Monte Carlo noise: a row of D entries then random-walks
    # as lr * sqrt(D) and the approximation's sd blows up (UCI yacht, D = 402, lr 0.003: RMSE 1.5e3).
    # The Cholesky factor therefore steps at lr / sqrt(D) (yacht: RMSE 1.6, as mean-field's 1.5).
    lr_scale = {"mu": 1.0, "rho": 1.0, "L": 1.0 / np.sqrt(dim)}

    def logp(z: jax.Array, full: tuple, batch: tuple) -> jax.Array:
        vals = fns.unflatten(z)
        lp = fns.prior_fn(*vals, *full)[0]
        ll = fns.lik_fn(*vals, *batch)[0]
        return lp + scale * ll

    def neg_elbo(params: dict[str, jax.Array], key: jax.Array, full: tuple) -> jax.Array:
        k_eps, k_idx = jax.random.split(key)
        # optimization_barrier: materialise the random draws once.  Without it XLA fuses the
        # PRNG into every consumer and recomputes it per element (4x slower steps on CPU).
        if batch_size is None:
            batch = full
        else:
            idx = jax.lax.optimization_barrier(jax.random.randint(k_idx, (batch_size,), 0, n_data))
            batch = tuple(jnp.take(d, idx, axis=0) for d in full)
        eps = jax.random.normal(k_eps, (n_mc, dim), dtype=params["mu"].dtype)
        eps = jax.lax.optimization_barrier(eps)
        s = _scale_from_params(params, fullrank)
        if fullrank:
            z = params["mu"] + eps @ s.T
            entropy = jnp.sum(jnp.log(jnp.diag(s)))
        else:
            z = params["mu"] + s * eps
            entropy = jnp.sum(jnp.log(s))
        entropy = entropy + 0.5 * dim * _LOG_2PI_E
        z = jax.lax.optimization_barrier(z)
        if n_mc == 1:
            elp = logp(z[0], full, batch)
        else:
            elp = jnp.mean(jax.vmap(logp, in_axes=(0, None, None))(z, full, batch))
        return -(elp + entropy)

    grad_fn = jax.value_and_grad(neg_elbo)

    def chunk(state: dict, full: tuple, lr0: jax.Array, log_decay: jax.Array, n_active: jax.Array, key: jax.Array):
        def step(st: dict, i: jax.Array):
            t = st["t"]
            loss, g = grad_fn(st["params"], jax.random.fold_in(key, t), full)
            ok = jnp.isfinite(loss)
            for leaf in jax.tree_util.tree_leaves(g):
                ok = ok & jnp.all(jnp.isfinite(leaf))
            active = (i < n_active) & ~st["failed"]
            do = active & ok
            # Adam (optax.adam formulas), bias correction with the step count t + 1
            tf = (t + 1).astype(lr0.dtype)
            lr = lr0 * jnp.exp(log_decay * t.astype(lr0.dtype))
            m = jax.tree_util.tree_map(lambda m_, g_: _ADAM_B1 * m_ + (1 - _ADAM_B1) * g_, st["m"], g)
            v = jax.tree_util.tree_map(lambda v_, g_: _ADAM_B2 * v_ + (1 - _ADAM_B2) * g_ * g_, st["v"], g)
            c1, c2 = 1 - _ADAM_B1**tf, 1 - _ADAM_B2**tf
            new_p = {
                k: p_ - lr * lr_scale[k] * (m[k] / c1) / (jnp.sqrt(v[k] / c2) + _ADAM_EPS)
                for k, p_ in st["params"].items()
            }

            def keep(new, old):
                return jax.tree_util.tree_map(lambda a, b: jnp.where(do, a, b), new, old)

            new_st = {
                "params": keep(new_p, st["params"]),
                "m": keep(m, st["m"]),
                "v": keep(v, st["v"]),
                "t": t + do.astype(t.dtype),
                "failed": st["failed"] | (active & ~ok),
            }
            elbo = jnp.where(active, -loss, jnp.nan)
            return new_st, elbo

        return jax.lax.scan(step, state, jnp.arange(length))

    return chunk


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------
@dataclass
class ADVIResult:
    """Fitted Gaussian approximation on the unconstrained space.

    ``mean``/``scale`` are flat over the value variables ``value_names`` (model order, each
    raveled C-order, shapes in ``value_shapes``). ``scale`` is the mean-field sd (D,) or the
    full-rank lower Cholesky factor (D, D).  ``elbo[t]`` is the Monte Carlo ELBO estimate of
    step ``t`` (``n_mc`` draws, analytic Gaussian entropy, likelihood scaled to the full data).
    ``steps`` = optimisation steps completed; ``compile_seconds`` = setup before the first step
    (PyTensor -> JAX, initial point, XLA compile; ~0 on a cache hit); ``run_seconds`` = the loop.
    """

    elbo: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    fullrank: bool
    value_names: tuple[str, ...]
    value_shapes: tuple[tuple[int, ...], ...]
    rv_names: tuple[str, ...]
    steps: int = 0
    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    _fns: _ModelFns | None = field(default=None, repr=False, compare=False)

    @property
    def std(self) -> np.ndarray:
        """Marginal posterior sd on the unconstrained space (flat)."""
        if self.fullrank:
            return np.sqrt(np.sum(self.scale**2, axis=1))
        return self.scale

    @property
    def cov(self) -> np.ndarray:
        """Covariance (D, D) on the unconstrained space."""
        return self.scale @ self.scale.T if self.fullrank else np.diag(self.scale**2)

    @property
    def value_slices(self) -> dict[str, slice]:
        out, off = {}, 0
        for name, shape in zip(self.value_names, self.value_shapes):
            size = int(np.prod(shape, dtype=int))
            out[name] = slice(off, off + size)
            off += size
        return out

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Map flat vector(s) ``(..., D)`` to ``{value_var_name: (..., *shape)}``."""
        flat = np.asarray(flat)
        lead = flat.shape[:-1]
        return {
            name: flat[..., sl].reshape(*lead, *shape)
            for (name, sl), shape in zip(self.value_slices.items(), self.value_shapes)
        }

    def sample_unconstrained(self, draws: int, seed: int) -> np.ndarray:
        """Draws ``(draws, D)`` from the fitted Gaussian (unconstrained space)."""
        eps = np.random.default_rng(seed).standard_normal((draws, self.mean.size))
        return self.mean + (eps @ self.scale.T if self.fullrank else eps * self.scale)

    def constrain(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Map unconstrained draws ``(n, D)`` to the free RVs' values (PyMC's backward transforms)."""
        if self._fns is None:
            raise RuntimeError("this ADVIResult has no model functions attached")
        flat = np.atleast_2d(np.asarray(flat, dtype=np.float64))
        outs = self._fns.constrain_batch(flat)
        return dict(zip(self._fns.rv_names, outs))

    def sample(self, draws: int, seed: int) -> dict[str, np.ndarray]:
        """Constrained values of every free RV, ``{rv_name: (draws, *rv_shape)}``."""
        return self.constrain(self.sample_unconstrained(draws, seed))

    def converged(self, window: int = 1000, rtol: float = 1e-3) -> bool:
        """Mean ELBO of the last ``window`` steps within ``rtol`` (relative) of the window before."""
        e = self.elbo[np.isfinite(self.elbo)]
        if e.size < 2 * window:
            return False
        last, prev = e[-window:].mean(), e[-2 * window : -window].mean()
        return bool(abs(last - prev) <= rtol * max(abs(last), 1.0))


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------
def _resolve_device(device: str | None) -> jax.Device | None:
    return jax_device(device)


def fit_advi(
    model: pm.Model,
    *,
    steps: int,
    batch_size: int | None = None,
    data_names: Sequence[str] = ("X", "y"),
    learning_rate: float = 0.01,
    final_learning_rate: float | None = None,
    fullrank: bool = False,
    seed: int = 0,
    chunk_size: int = 1000,
    n_mc: int = 1,
    callback: Callable[[int, np.ndarray], None] | None = None,
    device: str | None = None,
    init_scale: float | None = None,
    start: Mapping[str, Any] | None = None,
    jitter: bool = False,
) -> ADVIResult:
    """Fit PyMC's ADVI (mean-field or full-rank) with Adam, the loop compiled in JAX.

    ``data_names`` are ``pm.Data`` variables sharing a leading observation axis of length N;
    with ``batch_size=B`` each step uses B rows drawn uniformly with replacement and scales
    the log-likelihood by N/B.  Initial mean: the model's initial point (``start`` overrides,
    keyed by RV or value-variable name, as in ``pm.fit``; ``jitter=True`` adds PyMC's U(-1, 1)
    init jitter on the unconstrained space, seeded by ``seed``); initial sd ``init_scale`` or, if None,
    PyMC's (mean-field ``softplus(0) = 0.69``, full-rank ``L = softplus(1) I``).  ``callback(step,
    elbo_chunk)`` is called after every chunk of ``chunk_size`` steps (``step`` = steps done).
    Full-rank: the Cholesky factor's Adam steps are ``learning_rate / sqrt(D)`` (D parameters), so that its
    rows do not random-walk on gradient noise (see ``_make_chunk_fn``).
    Raises ``FloatingPointError`` on a non-finite ELBO/gradient; ``exc.result`` holds the
    ADVIResult with the last finite parameters. A ``KeyboardInterrupt`` during the loop (Ctrl-C, or
    raised by ``callback``) propagates with ``exc.result``: the ADVIResult of the steps completed.
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    if n_mc < 1 or chunk_size < 1:
        raise ValueError("n_mc and chunk_size must be >= 1")
    if final_learning_rate is not None and not final_learning_rate > 0:
        raise ValueError("final_learning_rate must be > 0")
    t_setup = time.perf_counter()
    data_names = tuple(data_names)
    dev = _resolve_device(device)

    cache = _model_cache(model)
    skey = _structure_key(model, data_names)

    data_np = [np.asarray(v.get_value(borrow=True)) for v in _data_vars(model, data_names)]
    n_data = data_np[0].shape[0] if data_np else 0
    if any(d.shape[0] != n_data for d in data_np):
        raise ValueError(f"data {data_names} differ in length along axis 0: {[d.shape for d in data_np]}")
    if batch_size is not None:
        if not data_np:
            raise ValueError("batch_size needs at least one data variable")
        if not 1 <= batch_size:
            raise ValueError("batch_size must be >= 1")
        if batch_size >= n_data:
            batch_size = None  # full batch is cheaper and exact

    # initial mean: the model's initial point (initvals honoured; no jitter, as PyMC's ADVI,
    # unless jitter=True: PyMC's U(-1, 1) init jitter on the unconstrained values)
    ipkey = ("ipfn", skey, jitter)
    ipfn = cache.get(ipkey) if start is None else None
    if ipfn is None:
        jitter_rvs = set(model.free_RVs) if jitter else set()
        ipfn = make_initial_point_fn(
            model=model, overrides=start, jitter_rvs=jitter_rvs, return_transformed=True
        )
        if start is None:
            cache[ipkey] = ipfn
    ip = ipfn(seed)
    fns = cache.get(("fns", skey))
    if fns is None:
        fns = _build_model_fns(model, data_names, ip)
        cache[("fns", skey)] = fns
    mu0 = np.concatenate([np.ravel(ip[n]) for n in fns.value_names]).astype(np.float64)
    dim = mu0.size
    if init_scale is not None and not init_scale > 0:
        raise ValueError("init_scale must be > 0")
    if fullrank:  # PyMC: L_tril = I before softplus on the diagonal, i.e. sd = softplus(1) = 1.31
        raw_diag = 1.0 if init_scale is None else float(np.log(np.expm1(init_scale)))
        params0 = {"mu": mu0, "L": np.eye(dim) * raw_diag}
    else:  # PyMC: rho = 0, i.e. sd = softplus(0) = 0.69
        rho0 = 0.0 if init_scale is None else float(np.log(np.expm1(init_scale)))
        params0 = {"mu": mu0, "rho": np.full(dim, rho0)}
    put = (lambda x: jax.device_put(x, dev)) if dev is not None else jnp.asarray
    params = jax.tree_util.tree_map(put, params0)
    state = {
        "params": params,
        "m": jax.tree_util.tree_map(jnp.zeros_like, params),
        "v": jax.tree_util.tree_map(jnp.zeros_like, params),
        "t": put(np.int64(0)),
        "failed": put(np.bool_(False)),
    }
    full = tuple(put(d) for d in data_np)
    lr = put(np.float64(learning_rate))
    # geometric decay from learning_rate (step 0) to final_learning_rate (the last step)
    final = learning_rate if final_learning_rate is None else final_learning_rate
    log_decay = put(np.float64(schedule.log_decay(learning_rate, final, steps)))
    key = put(jax.random.key_data(jax.random.key(seed)))

    length = min(chunk_size, steps)
    ckey = ("chunk", skey, fullrank, batch_size, n_data if batch_size else None, n_mc, length)
    jitted = cache.get(ckey)
    if jitted is None:
        chunk = _make_chunk_fn(
            fns, fullrank=fullrank, batch_size=batch_size, n_data=n_data, n_mc=n_mc, length=length
        )

        def run(state, full, lr, log_decay, n_active, key_data):
            return chunk(state, full, lr, log_decay, n_active, jax.random.wrap_key_data(key_data))

        jitted = {"jit": jax.jit(run), "compiled": {}}
        cache[ckey] = jitted
    n_active0 = put(np.int64(length))
    sig = jax.tree_util.tree_map(lambda a: (a.shape, a.dtype, str(a.device)), (state, full, lr, log_decay, key))
    sig = tuple(jax.tree_util.tree_leaves(sig))
    compiled = jitted["compiled"].get(sig)
    if compiled is None:
        compiled = jitted["jit"].lower(state, full, lr, log_decay, n_active0, key).compile()
        jitted["compiled"][sig] = compiled
    # setup = PyTensor graph -> JAX, initial point, XLA compile (all ~0 on a cache hit)
    compile_seconds = time.perf_counter() - t_setup

    def result(st: dict, elbo: np.ndarray, run_s: float) -> ADVIResult:
        p = jax.device_get(st["params"])
        sc = np.asarray(jax.device_get(_scale_from_params(st["params"], fullrank)))
        return ADVIResult(
            elbo=elbo,
            mean=np.asarray(p["mu"]),
            scale=sc,
            fullrank=fullrank,
            value_names=fns.value_names,
            value_shapes=fns.value_shapes,
            rv_names=fns.rv_names,
            steps=int(st["t"]),
            compile_seconds=compile_seconds,
            run_seconds=run_s,
            _fns=fns,
        )

    elbos: list[np.ndarray] = []
    done = 0
    t_run = time.perf_counter()
    try:
        while done < steps:
            n = min(length, steps - done)
            state, elbo_chunk = compiled(state, full, lr, log_decay, put(np.int64(n)), key)
            elbo_chunk = np.asarray(elbo_chunk)[:n]
            if bool(state["failed"]):
                bad = int(state["t"])  # steps completed before the failure
                elbos.append(elbo_chunk[: bad - done + 1])
                res = result(state, np.concatenate(elbos), time.perf_counter() - t_run)
                err = FloatingPointError(
                    f"ADVI diverged: non-finite ELBO or gradient at step {bad + 1} of {steps} "
                    f"(learning_rate={learning_rate}). Try a lower learning_rate, tighter priors, or "
                    "standardizing the inputs. The last finite parameters are in exc.result."
                )
                err.result = res  # type: ignore[attr-defined]
                raise err
            elbos.append(elbo_chunk)
            done += n
            if callback is not None:
                callback(done, elbo_chunk)
    except KeyboardInterrupt as interrupt:  # between or inside chunks: `state` is the last completed one
        elbo = np.concatenate(elbos) if elbos else np.empty(0)
        interrupt.result = result(state, elbo[: int(state["t"])], time.perf_counter() - t_run)  # type: ignore[attr-defined]
        raise
    return result(state, np.concatenate(elbos), time.perf_counter() - t_run)
