"""``method="map"``: the maximum a posteriori network, a point estimate (the deterministic baseline).

Adam maximizes the model's log posterior density ``log p(w) + log p(y | X, w)`` (PyMC's ``model.logp``
without Jacobian terms, so the mode is the mode of the density of the parameters themselves), on the
unconstrained space (e.g. ``log sigma``) and compiled with JAX. The fit's posterior holds a single draw
(1 chain x 1 draw): predictions carry the aleatoric noise ``sigma`` but no epistemic spread.
``sample_stats`` holds the log posterior density of every step (``lp``).

Priors with latent scales (``Hierarchical``, ``Horseshoe``) have no finite mode (the density grows
without bound as a scale and its weights shrink to 0): use them with ADVI or NUTS.

>>> import pbnn
>>> ds = pbnn.datasets.sine(n_samples=64)
>>> fit = pbnn.fit(pbnn.zoo.sine(), ds.X_train, ds.y_train, method="map", steps=2000, seed=0)
>>> fit.posterior.sizes["draw"]
1
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pymc as pm
import xarray as xr

from pbnn.errors import SpecError
from pbnn.inference.methods import EngineResult
from pbnn.priors import Hierarchical, Horseshoe
from pbnn.validation import check_positive_int

if TYPE_CHECKING:
    import optax


def run(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, steps: int = 5000,
        learning_rate: float = 0.01, final_learning_rate: float | None = None, batch_size: int | None = None,
        optimizer: optax.GradientTransformation | None = None) -> EngineResult:
    """Find the posterior mode with ``steps`` Adam steps; returns the posterior (one draw) and ``lp`` per step.

    ``final_learning_rate``: the rate decays geometrically from ``learning_rate`` to it at the last step
    (:func:`pbnn.inference.loop.learning_rate_schedule`); None: a constant rate.

    ``batch_size=B``: each step's log-likelihood is that of B rows drawn with replacement, scaled by N/B
    (stochastic MAP, for data too large for full-batch steps); None: the full data every step.
    ``optimizer``: any optax transformation (minimising minus the log posterior), instead of Adam at
    ``learning_rate``."""
    from pbnn.inference import draws_to_posterior, loop
    from pbnn.inference.logdensity import initial_point, model_cache, structure_key
    from pbnn.inference.progress import progress_bar

    steps = check_positive_int("steps", steps)
    rate = None if optimizer is not None else learning_rate  # what the messages name
    optimizer_key = loop.optimizer_key(optimizer, learning_rate, final_learning_rate, steps=steps)
    optimizer = loop.optimizer_from(optimizer, learning_rate, final_learning_rate, steps=steps)
    check_finite_mode(spec, "map")
    n = len(y)
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    fns, loss = negative_log_posterior(model, n, batch_size)
    key = ("map", structure_key(model, ("X", "target")), batch_size, n, optimizer_key)
    with progress_bar(progressbar, steps, label="MAP", value_name="lp") as advance:
        out = loop.run(loss, fns.flatten(initial_point(model, seed=seed)), steps=steps, optimizer=optimizer,
                       seed=seed, data=(X, y), callback=lambda done, losses: advance(done, -losses),
                       cache=model_cache(model), cache_key=key)
    values = fns.constrain_batch(np.asarray(out.params)[None])  # each (1, *shape)
    draws = {name: v[None] for name, v in zip(fns.rv_names, values, strict=True)}
    stats = xr.Dataset({"lp": ("step", -out.losses)}, coords={"step": np.arange(1, len(out.losses) + 1)})
    fault, message = loop.outcome(out, label="MAP", steps=steps, learning_rate=rate)
    return EngineResult(draws_to_posterior(model, draws), stats, fault, message)


def check_finite_mode(spec, method: str) -> None:
    """Refuse priors with latent scales (no finite mode) for ``method``, an optimizer of the log posterior."""
    from pbnn.compile import prior_of

    for layer in spec.layers:
        if layer.has_params and isinstance(prior_of(spec, layer), Hierarchical | Horseshoe):
            raise SpecError(
                f"method {method!r}: prior {prior_of(spec, layer).describe()} has no finite mode; "
                "use method 'advi' or 'nuts', or a Normal, Laplace or ScaleMixture prior"
            )


def negative_log_posterior(model: pm.Model, n: int, batch_size: int | None, *, per_point: bool = False):
    """``(fns, loss)``: the model's JAX log density (no Jacobian terms) and ``loss(x, key, X, target)``, minus the
    log posterior density at the flat unconstrained ``x``, the likelihood of ``batch_size`` rows drawn with
    replacement scaled by ``n / batch_size`` (None: the full data). ``per_point=True`` divides it by ``n`` (the
    mean loss per training point, the scale of SGD's learning rates)."""
    from pbnn.inference.logdensity import log_density, sample_batch

    fns = log_density(model, ("X", "target"), jacobian=False)
    scale = 1.0 if batch_size is None else n / batch_size
    divide = float(n) if per_point else 1.0

    def loss(x, key, *data):
        return -fns.logp(x, data, sample_batch(key, data, batch_size), scale) / divide

    return fns, loss
