"""``method="swag"``: SWA-Gaussian (Maddox et al. 2019), a Gaussian fitted to the iterates of SGD.

SGD with momentum runs on the mean negative log posterior per training point (the log density of
:mod:`pbnn.inference.map` divided by N, on minibatches of ``batch_size`` rows): ``burn_in`` steps whose
learning rate follows Maddox et al.'s schedule (``learning_rate`` for the first half, a linear decay to
``swa_learning_rate`` until 90 %, then constant), then ``steps - burn_in`` steps at ``swa_learning_rate``,
collecting the iterate every ``collect_every`` steps. A :class:`~pbnn.inference.loop.Tracker` keeps, inside
the compiled loop, the running mean ``theta_bar`` (SWA), the running mean of squares and the deviations
``theta_i - theta_bar_i`` of the last ``rank`` collections (the columns of ``D``). The posterior holds
``draws`` samples

    theta = theta_bar + diag^(1/2) z1 / sqrt(2) + D z2 / sqrt(2 (K - 1)),  z1 ~ N(0, I_d), z2 ~ N(0, I_K),

``diag = mean(theta^2) - theta_bar^2``, ``K`` the number of columns: a Gaussian with covariance
``diag / 2 + D D^T / (2 (K - 1))`` on the unconstrained space (e.g. ``log sigma``). Its spread is that of
SGD's noise around the optimum: full-batch steps (``batch_size=None``) have none to speak of.

MultiSWAG (Wilson & Izmailov 2020), an ensemble of SWAGs: ``method="ensemble", member="swag"``.

>>> import numpy as np, jax.numpy as jnp
>>> moments = fit_moments(lambda x, key: jnp.sum((x - 3.0) ** 2), jnp.zeros(2), steps=300, burn_in=100,
...                       collect_every=10, rank=5, optimizer=optax.sgd(0.1), seed=0)[1]
>>> moments.collected, moments.deviations.shape, np.round(moments.mean, 3).tolist()
(20, (5, 2), [3.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import xarray as xr

from pbnn.inference import loop
from pbnn.inference.methods import EngineResult

if TYPE_CHECKING:  # pragma: no cover
    import pymc as pm

__all__ = ["SWAGMoments", "collected_steps", "fit_moments", "moments_tracker", "run", "swag_schedule"]

#: SGD's momentum in SWAG's default optimizer (Maddox et al.'s).
MOMENTUM = 0.9

#: What ``posterior.attrs["pbnn_draws"]`` says of a SWAG fit's draws.
SWAG_DRAWS = ("independent draws of the SWAG Gaussian (SWA mean, diagonal plus low-rank covariance of the SGD "
              "iterates), not a Markov chain: chain 0 holds them all, so r_hat does not apply")


@dataclass(frozen=True)
class SWAGMoments:
    """The SWAG statistics of ``collected`` iterates on the flat unconstrained space: ``mean`` (d,), the running
    ``sq_mean`` (d,) and ``deviations`` (K, d), the deviations from the running mean of the last K collections
    (K = min(rank, collected); rows in ring-buffer order, which the covariance does not see)."""

    mean: np.ndarray
    sq_mean: np.ndarray
    deviations: np.ndarray
    collected: int

    @property
    def diagonal(self) -> np.ndarray:
        """``mean(theta^2) - theta_bar^2``, clipped at 0 (rounding)."""
        return np.maximum(self.sq_mean - self.mean**2, 0.0)

    @property
    def covariance(self) -> np.ndarray:
        """The SWAG covariance ``diag / 2 + D D^T / (2 (K - 1))`` (d, d)."""
        k = self.deviations.shape[0]
        return np.diag(self.diagonal) / 2 + self.deviations.T @ self.deviations / (2 * (k - 1))

    def sample(self, draws: int, seed: int) -> np.ndarray:
        """``draws`` samples (draws, d) of the SWAG Gaussian."""
        k, d = self.deviations.shape
        rng = np.random.default_rng(seed)
        z1, z2 = rng.standard_normal((draws, d)), rng.standard_normal((draws, k))
        return self.mean + np.sqrt(self.diagonal) * z1 / np.sqrt(2) + z2 @ self.deviations / np.sqrt(2 * (k - 1))


def collected_steps(steps: int, burn_in: int, collect_every: int) -> np.ndarray:
    """The steps (1-based counts of steps done) after which SWAG collects the iterate.

    >>> collected_steps(10, 4, 3).tolist()
    [7, 10]
    """
    return np.arange(burn_in + collect_every, steps + 1, collect_every)


def moments_tracker(rank: int, collect_every: int, burn_in: int) -> loop.Tracker:
    """The loop :class:`~pbnn.inference.loop.Tracker` of SWAG's running moments of a flat parameter vector
    (state ``n``, ``mean``, ``sq_mean``, ``dev`` (rank, d)), collecting at :func:`collected_steps`."""

    def init(params: jax.Array) -> dict[str, jax.Array]:
        zeros = jnp.zeros_like(params)
        return {"n": jnp.zeros((), jnp.int64), "mean": zeros, "sq_mean": zeros,
                "dev": jnp.zeros((rank, *params.shape), params.dtype)}

    def update(state: dict[str, jax.Array], params: jax.Array, t: jax.Array) -> dict[str, jax.Array]:
        collect = (t > burn_in) & ((t - burn_in) % collect_every == 0)
        n = state["n"] + 1
        mean = state["mean"] + (params - state["mean"]) / n
        sq_mean = state["sq_mean"] + (params**2 - state["sq_mean"]) / n
        new = {"n": n, "mean": mean, "sq_mean": sq_mean, "dev": state["dev"].at[state["n"] % rank].set(params - mean)}
        return jax.tree.map(lambda a, b: jnp.where(collect, a, b), new, state)

    return loop.Tracker(init, update)


def swag_schedule(learning_rate: float, swa_learning_rate: float, burn_in: int) -> optax.Schedule:
    """Maddox et al.'s rate: ``learning_rate`` for the first half of the burn-in, a linear decay to
    ``swa_learning_rate`` until 90 % of it, then ``swa_learning_rate`` (the collection phase).

    >>> schedule = swag_schedule(0.1, 0.01, 100)
    >>> [round(float(schedule(t)), 4) for t in (0, 50, 70, 90, 500)]
    [0.1, 0.1, 0.055, 0.01, 0.01]
    """
    return optax.linear_schedule(learning_rate, swa_learning_rate, transition_steps=max(1, round(0.4 * burn_in)),
                                 transition_begin=round(0.5 * burn_in))


def fit_moments(loss: Callable[..., jax.Array], params: jax.Array, *, steps: int, burn_in: int, collect_every: int,
                rank: int, optimizer: optax.GradientTransformation, seed: int, data: tuple = (),
                callback: Callable[[int, np.ndarray], None] | None = None, cache: dict | None = None,
                cache_key: Hashable | None = None) -> tuple[loop.LoopResult, SWAGMoments]:
    """Run ``optimizer`` on ``loss`` from the flat ``params`` (:func:`pbnn.inference.loop.run`) and collect SWAG's
    moments of the iterates (:func:`moments_tracker`); ``cache_key`` identifies ``loss`` and ``optimizer``."""
    tracker = moments_tracker(rank, collect_every, burn_in)
    key = None if cache_key is None else ("swag", cache_key, rank, collect_every, burn_in)
    out = loop.run(loss, params, steps=steps, optimizer=optimizer, seed=seed, data=data, callback=callback,
                   cache=cache, cache_key=key, tracker=tracker)
    state = out.tracked
    n = int(state["n"])
    moments = SWAGMoments(mean=np.asarray(state["mean"]), sq_mean=np.asarray(state["sq_mean"]),
                          deviations=np.asarray(state["dev"])[: min(n, rank)], collected=n)
    return out, moments


def run(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, steps: int = 5000, burn_in: int = 2500,
        collect_every: int = 25, rank: int = 20, learning_rate: float = 0.05, swa_learning_rate: float = 0.01,
        batch_size: int | None = 32, draws: int = 100,
        optimizer: optax.GradientTransformation | None = None) -> EngineResult:
    """Fit SWAG (see the module doc) and return ``draws`` samples of its Gaussian; ``sample_stats`` holds the log
    posterior density of every step (``lp``, its minibatch estimate). ``optimizer``: any optax transformation
    instead of SGD with momentum at :func:`swag_schedule` (the rates then unused)."""
    from pbnn.inference import draws_to_posterior
    from pbnn.inference.logdensity import initial_point, model_cache, structure_key
    from pbnn.inference.map import check_finite_mode, negative_log_posterior
    from pbnn.inference.progress import progress_bar

    check_finite_mode(spec, "swag")
    n = len(y)
    if batch_size is not None and batch_size >= n:
        batch_size = None
    fns, loss = negative_log_posterior(model, n, batch_size, per_point=True)
    rate = None if optimizer is not None else learning_rate  # what the messages name
    optimizer_key = optimizer if optimizer is not None else ("sgd", MOMENTUM, learning_rate, swa_learning_rate)
    if optimizer is None:
        optimizer = optax.sgd(swag_schedule(learning_rate, swa_learning_rate, burn_in), momentum=MOMENTUM)
    fit_seed, sample_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
    key = (structure_key(model, ("X", "target")), batch_size, n, optimizer_key)
    with progress_bar(progressbar, steps, label="SWAG", value_name="lp") as advance:
        out, moments = fit_moments(loss, fns.flatten(initial_point(model, seed=seed)), steps=steps, burn_in=burn_in,
                                   collect_every=collect_every, rank=rank, optimizer=optimizer, seed=fit_seed,
                                   data=(X, y), callback=lambda done, losses: advance(done, -n * losses),
                                   cache=model_cache(model), cache_key=key)
    stats = xr.Dataset({"lp": ("step", -n * out.losses)}, coords={"step": np.arange(1, len(out.losses) + 1)})
    fault, message = loop.outcome(out, label="SWAG", steps=steps, learning_rate=rate)
    if moments.collected < 2:  # diverged or interrupted before two collections: the last iterate, as one draw
        flat = np.asarray(out.params)[None]
        if fault is None:  # the options' check makes this unreachable for a complete run
            raise ValueError(f"steps: SWAG collected {moments.collected} iterates; it needs at least 2")
    else:
        flat = moments.sample(draws, sample_seed)
    values = fns.constrain_batch(flat)
    posterior = draws_to_posterior(model, {name: v[None] for name, v in zip(fns.rv_names, values, strict=True)})
    posterior.attrs["pbnn_draws"] = SWAG_DRAWS
    return EngineResult(posterior, stats, fault, message)
