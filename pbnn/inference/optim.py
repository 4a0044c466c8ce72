"""Adam on a flat parameter vector, the loop compiled with JAX (``lax.scan``), for the point-estimate methods.

Shared by ``map`` (:mod:`pbnn.inference.map`) and ``mc_dropout`` (:mod:`pbnn.inference.dropout`); the
update is optax's / ``pm.adam``'s (b1 0.9, b2 0.999, eps 1e-8). A step whose loss or gradient is not
finite is skipped; if it never recovers, :class:`FloatingPointError` is raised at the end.

>>> import jax.numpy as jnp
>>> x, losses = adam(lambda x, key: jnp.sum((x - 3.0) ** 2), jnp.zeros(2), steps=2000, learning_rate=0.05)
>>> [round(float(v), 3) for v in x]
[3.0, 3.0]
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)  # PyMC graphs are float64

B1, B2, EPS = 0.9, 0.999, 1e-8


def adam(
    loss: Callable[[jax.Array, jax.Array], jax.Array],
    x0: jax.Array,
    *,
    steps: int,
    learning_rate: float,
    seed: int = 0,
    chunk_size: int = 1000,
    callback: Callable[[int, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimize ``loss(x, key)`` from ``x0`` with Adam; returns (final x, loss of every step).

    Step ``t`` gets the PRNG key ``fold_in(key(seed), t)`` (for minibatches or dropout masks), so the
    result does not depend on ``chunk_size``. ``callback(steps_done, losses_of_chunk)`` runs between
    chunks (a progress bar).
    """
    value_and_grad = jax.value_and_grad(loss)
    key = jax.random.key(seed)

    def step(state, t):
        x, m, v = state
        value, g = value_and_grad(x, jax.random.fold_in(key, t))
        ok = jnp.isfinite(value) & jnp.all(jnp.isfinite(g))
        m_new = B1 * m + (1 - B1) * g
        v_new = B2 * v + (1 - B2) * g * g
        tf = (t + 1).astype(x.dtype)
        x_new = x - learning_rate * (m_new / (1 - B1**tf)) / (jnp.sqrt(v_new / (1 - B2**tf)) + EPS)
        state = jax.tree_util.tree_map(lambda new, old: jnp.where(ok, new, old), (x_new, m_new, v_new), state)
        return state, value

    @jax.jit
    def run_chunk(state, ts):
        return jax.lax.scan(step, state, ts)

    x0 = jnp.asarray(x0, dtype=jnp.float64)
    state = (x0, jnp.zeros_like(x0), jnp.zeros_like(x0))
    losses = []
    for start in range(0, steps, chunk_size):
        ts = jnp.arange(start, min(start + chunk_size, steps))
        state, chunk = run_chunk(state, ts)
        losses.append(np.asarray(chunk))
        if callback is not None:
            callback(start + len(ts), losses[-1])
    losses_ = np.concatenate(losses)
    if not np.isfinite(losses_[-1]):
        raise FloatingPointError(f"the loss is not finite ({losses_[-1]}) at the last of {steps} Adam steps")
    return np.asarray(state[0]), losses_
