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

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import xarray as xr

from pbnn.errors import SpecError
from pbnn.inference.optim import adam
from pbnn.priors import Hierarchical, Horseshoe
from pbnn.validation import check_positive_int


def run(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, steps: int = 5000,
        learning_rate: float = 0.01, batch_size: int | None = None) -> tuple[xr.Dataset, xr.Dataset]:
    """Find the posterior mode with ``steps`` Adam steps; returns (posterior, sample_stats).

    ``batch_size=B``: each step's log-likelihood is that of B rows drawn with replacement, scaled by N/B
    (stochastic MAP, for data too large for full-batch steps); None: the full data every step.
    The loop takes seconds, so there is no progress bar (``progressbar`` is ignored)."""
    from pbnn.compile import prior_of
    from pbnn.inference import draws_to_posterior
    from pbnn.inference.jax_advi import _build_model_fns

    steps = check_positive_int("steps", steps)
    if not (isinstance(learning_rate, int | float) and learning_rate > 0):
        raise ValueError(f"learning_rate: expected a positive number, got {learning_rate!r}")
    for layer in spec.layers:
        if layer.has_params and isinstance(prior_of(spec, layer), Hierarchical | Horseshoe):
            raise SpecError(
                f"method 'map': prior {prior_of(spec, layer).describe()} has no finite mode; "
                "use method 'advi' or 'nuts', or a Normal, Laplace or ScaleMixture prior"
            )
    n = len(y)
    if batch_size is not None:
        batch_size = check_positive_int("batch_size", batch_size)
    start = model.initial_point(random_seed=seed)
    fns = _build_model_fns(model, ("X", "target"), start, jacobian=False)
    x0 = np.concatenate([np.ravel(start[name]) for name in fns.value_names])
    data = (jnp.asarray(X), jnp.asarray(y))

    def loss(x, key):
        values = fns.unflatten(x)
        if batch_size is None:
            loglik = fns.lik_fn(*values, *data)[0]
        else:
            idx = jax.random.randint(key, (batch_size,), 0, n)
            loglik = fns.lik_fn(*values, data[0][idx], data[1][idx])[0] * (n / batch_size)
        return -(fns.prior_fn(*values, *data)[0] + loglik)

    x, losses = adam(loss, jnp.asarray(x0), steps=steps, learning_rate=learning_rate, seed=seed)
    values = fns.constrain_batch(np.asarray(x)[None])  # each (1, *shape)
    draws = {name: v[None] for name, v in zip(fns.rv_names, values, strict=True)}
    stats = xr.Dataset({"lp": ("step", -losses)}, coords={"step": np.arange(1, len(losses) + 1)})
    return draws_to_posterior(model, draws), stats

