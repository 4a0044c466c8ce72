"""The one optimisation loop of pbnn: an optax transformation run in chunks of ``lax.scan`` steps.

Every optimisation-based method (mean-field and full-rank ADVI, MAP, MC dropout) is a loss
``loss(params, key, *data) -> scalar`` plus a :class:`optax.GradientTransformation` run by :func:`run`.

* ``chunk_size`` steps per compiled call; Python only loops over chunks, calling ``callback`` (and the
  progress bar) in between. A partial last chunk reuses the compiled chunk with its tail masked.
* Step ``t`` (0-based) gets the PRNG key ``fold_in(key(seed), t)``: the same seed gives the same bits
  whatever ``chunk_size`` is.
* Non-finite steps: the optimizer is wrapped in ``optax.apply_if_finite``, which rejects an update whose
  gradient (or loss) is NaN/inf; the loop then stops and reports ``status="diverged"`` with the last
  finite parameters.
* Ctrl-C (or a ``KeyboardInterrupt`` raised by ``callback``) between or inside chunks returns the steps
  completed, ``status="interrupted"``.
* A :class:`Tracker` keeps statistics of the iterates inside the compiled chunk (SWAG's moments,
  :mod:`pbnn.inference.swag`), without handing the parameters back to Python at every step.

>>> import jax.numpy as jnp
>>> res = run(lambda x, key: jnp.sum((x - 3.0) ** 2), jnp.zeros(2), steps=2000, optimizer=adam(0.05), seed=0)
>>> res.status, [round(float(v), 3) for v in res.params]
('done', [3.0, 3.0])
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from pbnn.devices import jax_device

jax.config.update("jax_enable_x64", True)  # PyMC graphs are float64

__all__ = ["LoopResult", "Tracker", "adam", "outcome", "learning_rate_schedule", "optimizer_from", "run"]

#: The final objective is the mean loss of this fraction of the steps, the last ones (at least one step).
FINAL_FRACTION = 0.05

Loss = Callable[..., jax.Array]


@dataclass
class LoopResult:
    """What :func:`run` did: ``params`` (numpy, the last finite ones), ``losses`` (one per step run; when
    diverged, the last one is the non-finite loss of the failing step), ``steps`` (updates applied),
    ``status`` (``"done"``, ``"diverged"`` or ``"interrupted"``), the seconds spent compiling
    (``compile_seconds``, ~0 on a cache hit) and running (``run_seconds``), and ``tracked``: the final state of
    the :class:`Tracker` (numpy), None without one."""

    params: Any
    losses: np.ndarray
    steps: int
    status: str
    compile_seconds: float
    run_seconds: float
    tracked: Any = None


@dataclass(frozen=True)
class Tracker:
    """Statistics of the iterates, updated inside the compiled loop: ``init(params) -> state`` (a pytree of
    arrays) and ``update(state, params, t) -> state``, pure JAX functions. ``update`` runs after every applied
    step with the new parameters and ``t``, the steps done (1 after the first step); a step that the non-finite
    guard rejects, or a masked step of the last chunk, leaves the state as it was.

    >>> total = Tracker(init=lambda p: jnp.zeros_like(p), update=lambda s, p, t: jnp.where(t > 1, s + p, s))
    >>> res = run(lambda x, key: jnp.sum((x - 3.0) ** 2), jnp.zeros(1), steps=3, optimizer=optax.sgd(0.25),
    ...           seed=0, tracker=total)
    >>> res.tracked.tolist()  # the iterates after steps 2 and 3: 2.25 and 2.625
    [4.875]
    """

    init: Callable[[Any], Any]
    update: Callable[[Any, Any, jax.Array], Any]


def learning_rate_schedule(learning_rate: float, final_learning_rate: float | None, steps: int) -> optax.ScalarOrSchedule:
    """``learning_rate`` at step 0, decaying geometrically to ``final_learning_rate`` at step ``steps - 1``;
    a constant when ``final_learning_rate`` is None or equal to ``learning_rate`` (or there is one step).

    >>> schedule = learning_rate_schedule(0.01, 0.001, 11)
    >>> [round(float(schedule(t)), 6) for t in (0, 10)]
    [0.01, 0.001]
    """
    if final_learning_rate is None or final_learning_rate == learning_rate or steps < 2:
        return learning_rate
    return optax.exponential_decay(learning_rate, transition_steps=steps - 1,
                                   decay_rate=final_learning_rate / learning_rate)


def adam(learning_rate: float, final_learning_rate: float | None = None, *, steps: int = 1) -> optax.GradientTransformation:
    """pbnn's default optimizer: ``optax.adam`` on :func:`learning_rate_schedule`."""
    return optax.adam(learning_rate_schedule(learning_rate, final_learning_rate, steps))


def optimizer_from(
    optimizer: optax.GradientTransformation | None,
    learning_rate: float,
    final_learning_rate: float | None = None,
    *,
    steps: int = 1,
) -> optax.GradientTransformation:
    """``optimizer`` if given (checked to be an optax transformation), else :func:`adam` on the rates
    (checked to be positive numbers)."""
    if optimizer is not None:
        if not isinstance(optimizer, optax.GradientTransformation):
            raise TypeError(f"optimizer: expected an optax.GradientTransformation (e.g. optax.adam(0.01)), "
                            f"got {type(optimizer).__name__}")
        return optimizer
    for name, rate in (("learning_rate", learning_rate), ("final_learning_rate", final_learning_rate)):
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0):
            raise ValueError(f"{name}: expected a positive number, got {rate!r}")
    return adam(learning_rate, final_learning_rate, steps=steps)


def optimizer_key(
    optimizer: optax.GradientTransformation | None,
    learning_rate: float,
    final_learning_rate: float | None = None,
    *,
    steps: int = 1,
) -> Hashable:
    """What identifies the optimizer :func:`optimizer_from` makes of the same arguments, as part of a
    ``cache_key`` for :func:`run`: the user's ``optimizer`` object itself, else the rates and steps that
    define pbnn's Adam.

    >>> optimizer_key(None, 0.01, 0.001, steps=100)
    ('adam', 0.01, 0.001, 100)
    """
    return optimizer if optimizer is not None else ("adam", learning_rate, final_learning_rate, steps)


def outcome(result: LoopResult, *, label: str, steps: int, learning_rate: float | None) -> tuple[str | None, str]:
    """``(fault, message)`` of a run, as :class:`~pbnn.inference.methods.EngineResult` takes them: ``"diverged"``
    or ``"interrupted"`` (an interrupt before the first step re-raises ``KeyboardInterrupt``), else None. A run
    that ends worse than it started warns (:func:`warn_if_worse`)."""
    if result.status == "diverged":
        return "diverged", (f"{divergence_message(label, result.steps + 1, steps, learning_rate)} "
                            "exc.fit holds the last finite parameters.")
    if result.status == "interrupted" and result.steps == 0:
        raise KeyboardInterrupt
    warn_if_worse(result.losses, label=label, learning_rate=learning_rate)
    if result.status == "interrupted":
        return "interrupted", f"{label} interrupted after {result.steps} of {steps} steps: returning the fit so far"
    return None, ""


def divergence_message(label: str, step: int, steps: int, learning_rate: float | None) -> str:
    """Where a run diverged, and the first thing to try."""
    return (f"{label} diverged: the objective or its gradient became NaN/inf at step {step} of {steps}. "
            f"Try a lower learning_rate ({_now(learning_rate)}).")


def warn_if_worse(losses: np.ndarray, *, label: str, learning_rate: float | None) -> bool:
    """Warn (``UserWarning``) when the final objective, the mean loss of the last :data:`FINAL_FRACTION` of the
    steps, is worse than the loss of the first step: the optimizer's steps are too large. Returns whether it
    warned.

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as seen:
    ...     warnings.simplefilter("always")
    ...     warn_if_worse(np.array([1.0, 5.0, 9.0]), label="MAP", learning_rate=10.0)
    True
    >>> "learning_rate" in str(seen[0].message)
    True
    """
    losses = np.asarray(losses, dtype=np.float64)
    losses = losses[np.isfinite(losses)]
    if losses.size < 2:
        return False
    start = float(losses[0])
    final = float(np.mean(losses[-max(1, int(round(FINAL_FRACTION * losses.size))):]))
    if not final > start:
        return False
    warnings.warn(
        f"{label}: the objective ended worse than it started (mean loss of the last "
        f"{FINAL_FRACTION:.0%} of the steps {final:.4g}, first step {start:.4g}): the steps are too large; "
        f"try a lower learning_rate ({_now(learning_rate)})",
        UserWarning, stacklevel=3,
    )
    return True


def _now(learning_rate: float | None) -> str:
    return f"now {learning_rate}" if learning_rate is not None else "or the step size of your optimizer"


def run(
    loss: Loss,
    params: Any,
    *,
    steps: int,
    optimizer: optax.GradientTransformation,
    seed: int,
    data: tuple = (),
    chunk_size: int = 1000,
    callback: Callable[[int, np.ndarray], None] | None = None,
    device: str | None = None,
    cache: dict | None = None,
    cache_key: Hashable | None = None,
    tracker: Tracker | None = None,
) -> LoopResult:
    """Minimise ``loss(params, key, *data)`` from ``params`` (a pytree) with ``steps`` steps of ``optimizer``.

    ``data`` are arrays passed to every step (not baked into the compiled code); ``callback(steps_done,
    losses_of_the_chunk)`` runs after every chunk. With ``cache`` (a dict) and ``cache_key`` (identifying
    ``loss``, ``optimizer`` and ``tracker``), the compiled chunk is kept there and reused by later runs: the
    seed, the start ``params`` and the values of ``data`` are inputs of the compiled code, so runs that differ
    only in them (an ensemble's members) compile once. ``tracker``: statistics of the iterates
    (:class:`Tracker`), returned as ``LoopResult.tracked``.
    """
    if steps < 1 or chunk_size < 1:
        raise ValueError(f"steps and chunk_size: expected positive integers, got {steps} and {chunk_size}")
    t_setup = time.perf_counter()
    dev = jax_device(device)
    put = (lambda x: jax.device_put(x, dev)) if dev is not None else jnp.asarray
    guarded = optax.apply_if_finite(optimizer, max_consecutive_errors=1)
    params = jax.tree.map(put, params)
    state = {"params": params, "opt": guarded.init(params), "t": put(np.int64(0)), "failed": put(np.bool_(False))}
    if tracker is not None:
        state["track"] = jax.tree.map(put, tracker.init(params))
    data = tuple(put(d) for d in data)
    key = put(jax.random.key_data(jax.random.key(seed)))

    length = min(chunk_size, steps)
    compiled = _compiled_chunk(loss, guarded, length, (state, data, key), cache, cache_key, tracker)
    compile_seconds = time.perf_counter() - t_setup

    chunks: list[np.ndarray] = []
    done, status = 0, "done"
    t_run = time.perf_counter()
    try:
        while done < steps:
            n = min(length, steps - done)
            state, losses = compiled(state, data, put(np.int64(n)), key)
            losses = np.asarray(losses)[:n]
            if bool(state["failed"]):
                chunks.append(losses[: int(state["t"]) - done + 1])  # up to the failing step
                status = "diverged"
                break
            chunks.append(losses)
            done += n
            if callback is not None:
                callback(done, losses)
    except KeyboardInterrupt:  # `state` is the last completed chunk's
        status = "interrupted"
    run_seconds = time.perf_counter() - t_run
    steps_done = int(state["t"])
    losses = np.concatenate(chunks) if chunks else np.empty(0)
    if status == "interrupted":
        losses = losses[:steps_done]
    tracked = jax.device_get(state["track"]) if tracker is not None else None
    return LoopResult(params=jax.device_get(state["params"]), losses=losses, steps=steps_done, status=status,
                      compile_seconds=compile_seconds, run_seconds=run_seconds, tracked=tracked)


def _compiled_chunk(loss, optimizer, length, args, cache, cache_key, tracker):
    """The compiled ``chunk(state, data, n_active, key) -> (state, losses[length])``."""
    state, data, key = args
    n_active = jnp.asarray(np.int64(length))
    signature = tuple(jax.tree.leaves(jax.tree.map(lambda a: (a.shape, a.dtype, str(a.device)), args)))
    slot = None
    if cache is not None and cache_key is not None:
        slot = ("loop", cache_key, length, signature)
        if slot in cache:
            return cache[slot]
    compiled = jax.jit(_chunk_fn(loss, optimizer, length, tracker)).lower(state, data, n_active, key).compile()
    if slot is not None:
        cache[slot] = compiled
    return compiled


def _chunk_fn(loss: Loss, optimizer: optax.GradientTransformation, length: int, tracker: Tracker | None):
    value_and_grad = jax.value_and_grad(loss)

    def chunk(state: dict, data: tuple, n_active: jax.Array, key_data: jax.Array):
        key = jax.random.wrap_key_data(key_data)

        def step(st: dict, i: jax.Array):
            active = (i < n_active) & ~st["failed"]
            value, grads = value_and_grad(st["params"], jax.random.fold_in(key, st["t"]), *data)
            # a non-finite loss makes the step non-finite for optax's guard too
            grads = jax.tree.map(lambda g: jnp.where(jnp.isfinite(value), g, jnp.nan), grads)
            updates, opt = optimizer.update(grads, st["opt"], st["params"])
            finite = opt.last_finite
            new = {
                "params": optax.apply_updates(st["params"], updates),
                "opt": opt,
                "t": st["t"] + finite.astype(st["t"].dtype),
                "failed": ~finite,
            }
            if tracker is not None:
                tracked = tracker.update(st["track"], new["params"], new["t"])
                new["track"] = jax.tree.map(lambda a, b: jnp.where(finite, a, b), tracked, st["track"])
            new = jax.tree.map(lambda a, b: jnp.where(active, a, b), new, st)
            return new, jnp.where(active, value, jnp.nan)

        return jax.lax.scan(step, state, jnp.arange(length))

    return chunk
