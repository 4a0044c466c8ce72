"""ADVI for PyMC models: PyMC's ELBO as a loss of :mod:`pbnn.inference.loop`, compiled in JAX.

The objective is PyMC's ADVI: a mean-field (or full-rank) Gaussian on the model's *unconstrained* space
(the value variables after PyMC's default transforms, log-Jacobian included), maximised on the
reparameterised ELBO with the analytic Gaussian entropy. The log density comes from
:mod:`pbnn.inference.logdensity` (PyMC's ``model.logp`` through PyTensor's JAX linker); minibatches
(``batch_size=B``) are drawn uniformly with replacement and the likelihood is scaled by ``N / B``.
The flat parameter vector is described by :attr:`ADVIResult.value_names` / :meth:`ADVIResult.unflatten`.

>>> import numpy as np, pymc as pm
>>> with pm.Model() as model:
...     y = pm.Data("y", np.random.default_rng(0).normal(1.0, 1.0, 100))
...     mu = pm.Normal("mu", 0.0, 10.0)
...     _ = pm.Normal("obs", mu, 1.0, observed=y)
>>> res = fit_advi(model, steps=3000, data_names=("y",), learning_rate=0.05, seed=0)
>>> round(float(res.mean[0]), 1), round(float(res.std[0]), 1)
(1.1, 0.1)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pymc as pm

from pbnn.inference import estimators, logdensity, loop
from pbnn.inference.estimators import SampledLoglik
from pbnn.inference.logdensity import LogDensity
from pbnn.spec import BNN

__all__ = ["ADVIResult", "elbo_gradients", "fit_advi", "fullrank_step_scale"]

#: Unconstrained values per chunk of :meth:`ADVIResult.sample_with_log_q` (2**22 doubles: 32 MiB).
DRAW_CHUNK_ELEMENTS = 2**22

_LOG_2PI_E = math.log(2.0 * math.pi) + 1.0


# --------------------------------------------------------------------------------------
# The objective
# --------------------------------------------------------------------------------------
def _scale_from_params(params: dict[str, Any], fullrank: bool) -> Any:
    if fullrank:
        raw = params["L"]
        return jnp.tril(raw, -1) + jnp.diag(jax.nn.softplus(jnp.diag(raw)))
    return jax.nn.softplus(params["rho"])


def _negative_elbo(fns: LogDensity, *, fullrank: bool, batch_size: int | None, n_data: int, n_mc: int,
                   sampled: SampledLoglik | None = None):
    """``loss(params, key, *full_data)``: minus the Monte Carlo ELBO of ``n_mc`` draws, likelihood scaled to N.

    ``sampled``: the log-likelihood estimated by a lower-variance estimator (:mod:`pbnn.inference.estimators`,
    mean-field only); the prior stays the exact log prior at the draw ``z``.
    """
    dim = fns.dim
    scale = 1.0 if batch_size is None else n_data / batch_size

    def estimated_logp(params, s, z, full, batch, noise):
        values = dict(zip(fns.rv_names, fns.constrain(*fns.unflatten(z))))
        mean, sd = (dict(zip(fns.value_names, fns.unflatten(v))) for v in (params["mu"], s))
        return fns.prior(*fns.unflatten(z), *full)[0] + scale * sampled(mean, sd, values, batch, noise)

    def loss(params: dict[str, jax.Array], key: jax.Array, *full: jax.Array) -> jax.Array:
        k_eps, k_idx = jax.random.split(key)
        batch = logdensity.sample_batch(k_idx, full, batch_size)
        # optimization_barrier: draw once, then use (XLA would recompute the PRNG in every consumer)
        # the sampled log-likelihood's noise comes from the same draw: XLA compiles every random call's generator
        extra = 0 if sampled is None else sampled.noise_size
        eps = jax.lax.optimization_barrier(jax.random.normal(k_eps, (n_mc, dim + extra), dtype=params["mu"].dtype))
        eps, noise = eps[:, :dim], eps[:, dim:]
        s = _scale_from_params(params, fullrank)
        if fullrank:
            z = params["mu"] + eps @ s.T
            entropy = jnp.sum(jnp.log(jnp.diag(s)))
        else:
            z = params["mu"] + s * eps
            entropy = jnp.sum(jnp.log(s))
        entropy = entropy + 0.5 * dim * _LOG_2PI_E
        z = jax.lax.optimization_barrier(z)
        if sampled is not None:
            elp = jnp.mean(jax.vmap(estimated_logp, in_axes=(None, None, 0, None, None, 0))(
                params, s, z, full, batch, noise))
        elif n_mc == 1:
            elp = fns.logp(z[0], full, batch, scale)
        else:
            elp = jnp.mean(jax.vmap(fns.logp, in_axes=(0, None, None, None))(z, full, batch, scale))
        return -(elp + entropy)

    return loss


def fullrank_step_scale(dim: int) -> optax.GradientTransformation:
    """Scales the full-rank Cholesky factor's updates (``params["L"]``) by ``1 / sqrt(dim)``.

    Adam moves every entry by about the learning rate per step whatever its gradient, and the gradient of an
    off-diagonal Cholesky entry is mostly Monte Carlo noise: a row of D entries then random-walks as
    ``lr * sqrt(D)`` and the approximation's sd blows up (UCI yacht, D = 402, lr 0.003: RMSE 1.5e3). At
    ``lr / sqrt(D)`` yacht's RMSE is 1.6, as mean-field's 1.5. Chained after any optimizer, the user's too.
    """
    return optax.masked(optax.scale(1.0 / math.sqrt(dim)), lambda params: {k: k == "L" for k in params})


def objective(
    model: pm.Model,
    *,
    batch_size: int | None = None,
    data_names: Sequence[str] = ("X", "y"),
    fullrank: bool = False,
    n_mc: int = 1,
    estimator: str = "reparam",
    spec: BNN | None = None,
) -> tuple[Callable[..., jax.Array], LogDensity, tuple[np.ndarray, ...], int | None]:
    """``(loss, fns, data, batch_size)``: :func:`fit_advi`'s loss ``loss(params, key, *data)`` (minus the ELBO
    estimate of one step), the model's log density, the full data arrays and the batch size used (None: the
    full data, which a ``batch_size`` of at least N becomes)."""
    data_names = tuple(data_names)
    full = logdensity.data_arrays(model, data_names)
    n_data = full[0].shape[0] if full else 0
    if batch_size is not None:
        if not full:
            raise ValueError("batch_size needs at least one data variable")
        if not 1 <= batch_size:
            raise ValueError("batch_size must be >= 1")
        if batch_size >= n_data:
            batch_size = None  # full batch is cheaper and exact
    sampled = None
    if estimator != "reparam":
        if fullrank:
            raise ValueError(f"estimator: '{estimator}' draws the weights independently, which needs the mean-field "
                             "approximation (fullrank=False); use estimator='reparam'")
        if spec is None or data_names != ("X", "target"):
            raise ValueError(f"estimator: '{estimator}' needs the spec of a pbnn model (spec=...) and "
                             f"data_names=('X', 'target'), got spec={type(spec).__name__} and data_names={data_names}")
        sampled = estimators.sampled_loglik(spec, model, estimator, rows=batch_size or n_data)
    fns = logdensity.log_density(model, data_names)
    loss = _negative_elbo(fns, fullrank=fullrank, batch_size=batch_size, n_data=n_data, n_mc=n_mc, sampled=sampled)
    return loss, fns, full, batch_size


def elbo_gradients(model: pm.Model, params: Mapping[str, Any], *, keys: int, seed: int = 0, chunk: int = 64,
                   **options: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ELBO estimates ``(keys,)`` and their gradients ``{name: (keys, D)}`` with respect to the variational
    parameters ``params`` (as :func:`fit_advi`'s, e.g. ``{"mu", "rho"}``) for ``keys`` independent PRNG keys
    (minibatch and noise), the loss of :func:`objective` with ``options``: what the gradient variance of a step
    is measured on. ``chunk`` keys are evaluated at once (vectorized; memory grows with it).

    >>> import numpy as np, pymc as pm
    >>> with pm.Model() as model:
    ...     y = pm.Data("y", np.zeros(10))
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     _ = pm.Normal("obs", mu, 1.0, observed=y)
    >>> elbo, grads = elbo_gradients(model, {"mu": np.zeros(1), "rho": np.zeros(1)}, keys=3, data_names=("y",))
    >>> elbo.shape, grads["mu"].shape
    ((3,), (3, 1))
    """
    loss, _, full, _ = objective(model, **options)
    params = jax.tree.map(jnp.asarray, dict(params))
    value_and_grad = jax.value_and_grad(loss)
    run = jax.jit(lambda p, ks, *data: jax.lax.map(lambda k: value_and_grad(p, k, *data), ks, batch_size=chunk))
    values, grads = run(params, jax.random.split(jax.random.key(seed), keys), *full)
    return -np.asarray(values), {k: -np.asarray(v) for k, v in grads.items()}


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
    _fns: LogDensity | None = field(default=None, repr=False, compare=False)

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
        return self._draw(np.random.default_rng(seed), draws)

    def sample_with_log_q(self, draws: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``(self.sample(draws, seed), self.log_density(self.sample_unconstrained(draws, seed)))``, the same draws
        computed :data:`DRAW_CHUNK_ELEMENTS` unconstrained values at a time (mean-field), so that memory holds the
        constrained draws and one chunk: 48 draws of a 1.3M-weight network are 490 MB, not 2 GB of temporaries."""
        rng, dim = np.random.default_rng(seed), self.mean.size
        chunk = draws if self.fullrank else max(1, DRAW_CHUNK_ELEMENTS // max(dim, 1))
        values: dict[str, np.ndarray] = {}
        log_q = np.empty(draws)
        for start in range(0, draws, chunk):
            flat = self._draw(rng, min(chunk, draws - start))  # successive calls continue one normal stream
            stop = start + len(flat)
            for name, value in self.constrain(flat).items():
                if name not in values:
                    values[name] = np.empty((draws, *value.shape[1:]), dtype=value.dtype)
                values[name][start:stop] = value
            log_q[start:stop] = self.log_density(flat)
        return values, log_q

    def _draw(self, rng: np.random.Generator, draws: int) -> np.ndarray:
        eps = rng.standard_normal((draws, self.mean.size))
        if self.fullrank:
            return self.mean + eps @ self.scale.T
        eps *= self.scale  # in place: draws x D doubles once (50 draws of a 1.3M-weight net are 510 MB)
        eps += self.mean
        return eps

    def log_density(self, flat: np.ndarray) -> np.ndarray:
        """``log q`` of unconstrained draws ``(n, D)`` under the fitted Gaussian, ``(n,)``."""
        from scipy.linalg import solve_triangular

        centred = np.atleast_2d(flat) - self.mean
        if self.fullrank:
            white = solve_triangular(self.scale, centred.T, lower=True).T
            log_det = np.sum(np.log(np.abs(np.diag(self.scale))))
        else:  # in place, as sample_unconstrained: one draws x D copy
            white, log_det = np.divide(centred, self.scale, out=centred), np.sum(np.log(self.scale))
        return -0.5 * np.sum(np.square(white, out=white), axis=1) - log_det - 0.5 * self.mean.size * math.log(2 * math.pi)

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
def fit_advi(
    model: pm.Model,
    *,
    steps: int,
    batch_size: int | None = None,
    data_names: Sequence[str] = ("X", "y"),
    learning_rate: float = 0.01,
    final_learning_rate: float | None = None,
    optimizer: optax.GradientTransformation | None = None,
    fullrank: bool = False,
    seed: int = 0,
    chunk_size: int = 1000,
    n_mc: int = 1,
    callback: Callable[[int, np.ndarray], None] | None = None,
    device: str | None = None,
    init_scale: float | None = None,
    start: Mapping[str, Any] | None = None,
    jitter: bool = False,
    estimator: str = "reparam",
    spec: BNN | None = None,
) -> ADVIResult:
    """Fit PyMC's ADVI (mean-field or full-rank), the loop compiled in JAX (:func:`pbnn.inference.loop.run`).

    ``data_names`` are ``pm.Data`` variables sharing a leading observation axis of length N;
    with ``batch_size=B`` each step uses B rows drawn uniformly with replacement and scales
    the log-likelihood by N/B.  Initial mean: the model's initial point (``start`` overrides,
    keyed by RV or value-variable name, as in ``pm.fit``; ``jitter=True`` adds PyMC's U(-1, 1)
    init jitter on the unconstrained space, seeded by ``seed``); initial sd ``init_scale`` or, if None,
    PyMC's (mean-field ``softplus(0) = 0.69``, full-rank ``L = softplus(1) I``).  ``callback(step,
    elbo_chunk)`` is called after every chunk of ``chunk_size`` steps (``step`` = steps done).
    The optimizer: Adam at ``learning_rate``, decaying geometrically to ``final_learning_rate`` at the last
    step when given, or ``optimizer`` (any optax transformation, minimising minus the ELBO; it overrides
    both rates). The parameters are ``{"mu": (D,), "rho": (D,)}`` (sd ``softplus(rho)``) or, full-rank,
    ``{"mu": (D,), "L": (D, D)}`` (lower Cholesky factor, softplus on its diagonal); the factor's updates are
    scaled by ``1 / sqrt(D)`` (:func:`fullrank_step_scale`).
    ``estimator``: how the expected log-likelihood is estimated, ``"reparam"`` (one draw of every parameter),
    ``"local"`` or ``"flipout"`` (:mod:`pbnn.inference.estimators`; mean-field, a pbnn model of ``spec`` with
    ``data_names=("X", "target")``): the same ELBO, a lower-variance gradient.
    Raises ``FloatingPointError`` on a non-finite ELBO/gradient; ``exc.result`` holds the
    ADVIResult with the last finite parameters. A ``KeyboardInterrupt`` during the loop (Ctrl-C, or
    raised by ``callback``) propagates with ``exc.result``: the ADVIResult of the steps completed.
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    if n_mc < 1 or chunk_size < 1:
        raise ValueError("n_mc and chunk_size must be >= 1")
    if init_scale is not None and not init_scale > 0:
        raise ValueError("init_scale must be > 0")
    # a compiled loop is reused for the same model, options and optimizer (the user's: the same object)
    optimizer_key = loop.optimizer_key(optimizer, learning_rate, final_learning_rate, steps=steps)
    optimizer = loop.optimizer_from(optimizer, learning_rate, final_learning_rate, steps=steps)
    t_setup = time.perf_counter()
    loss, fns, full, batch_size = objective(model, batch_size=batch_size, data_names=data_names, fullrank=fullrank,
                                            n_mc=n_mc, estimator=estimator, spec=spec)

    # initial mean: the model's initial point (initvals honoured; no jitter, as PyMC's ADVI, unless jitter=True)
    mu0 = fns.flatten(logdensity.initial_point(model, seed=seed, start=start, jitter=jitter))
    dim = mu0.size
    if fullrank:  # PyMC: L_tril = I before softplus on the diagonal, i.e. sd = softplus(1) = 1.31
        raw_diag = 1.0 if init_scale is None else float(np.log(np.expm1(init_scale)))
        params0 = {"mu": mu0, "L": np.eye(dim) * raw_diag}
    else:  # PyMC: rho = 0, i.e. sd = softplus(0) = 0.69
        rho0 = 0.0 if init_scale is None else float(np.log(np.expm1(init_scale)))
        params0 = {"mu": mu0, "rho": np.full(dim, rho0)}

    if fullrank:
        optimizer = optax.chain(optimizer, fullrank_step_scale(dim))
    setup_seconds = time.perf_counter() - t_setup  # PyTensor -> JAX and the initial point (~0 when cached)
    key = ("advi", logdensity.structure_key(model, tuple(data_names)), fullrank, batch_size, full[0].shape[0] if full
           else 0, n_mc, optimizer_key, estimator)
    out = loop.run(loss, params0, steps=steps, optimizer=optimizer, seed=seed, data=full, chunk_size=chunk_size,
                   callback=None if callback is None else lambda done, losses: callback(done, -losses),
                   device=device, cache=logdensity.model_cache(model), cache_key=key)

    params = out.params
    result = ADVIResult(
        elbo=-out.losses,
        mean=np.asarray(params["mu"]),
        scale=np.asarray(_scale_from_params(params, fullrank)),
        fullrank=fullrank,
        value_names=fns.value_names,
        value_shapes=fns.value_shapes,
        rv_names=fns.rv_names,
        steps=out.steps,
        compile_seconds=setup_seconds + out.compile_seconds,
        run_seconds=out.run_seconds,
        _fns=fns,
    )
    if out.status == "diverged":
        err = FloatingPointError(
            f"ADVI diverged: non-finite ELBO or gradient at step {out.steps + 1} of {steps} "
            f"(learning_rate={learning_rate}). Try a lower learning_rate, tighter priors, or "
            "standardizing the inputs. The last finite parameters are in exc.result."
        )
        err.result = result  # type: ignore[attr-defined]
        raise err
    if out.status == "interrupted":
        interrupt = KeyboardInterrupt()
        interrupt.result = result  # type: ignore[attr-defined]
        raise interrupt
    return result
