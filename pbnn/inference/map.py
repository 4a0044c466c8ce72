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

import jax.numpy as jnp
import numpy as np
import pymc as pm
import xarray as xr
from pymc.sampling.jax import get_jaxified_graph

from pbnn.errors import SpecError
from pbnn.inference.optim import adam
from pbnn.priors import Hierarchical, Horseshoe
from pbnn.validation import check_positive_int


def run(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, steps: int = 5000,
        learning_rate: float = 0.01) -> tuple[xr.Dataset, xr.Dataset]:
    """Find the posterior mode with ``steps`` full-batch Adam steps; returns (posterior, sample_stats).

    The loop takes seconds, so there is no progress bar (``progressbar`` is ignored)."""
    from pbnn.compile import prior_of
    from pbnn.inference import draws_to_posterior

    steps = check_positive_int("steps", steps)
    if not (isinstance(learning_rate, int | float) and learning_rate > 0):
        raise ValueError(f"learning_rate: expected a positive number, got {learning_rate!r}")
    for layer in spec.layers:
        if layer.has_params and isinstance(prior_of(spec, layer), Hierarchical | Horseshoe):
            raise SpecError(
                f"method 'map': prior {prior_of(spec, layer).describe()} has no finite mode; "
                "use method 'advi' or 'nuts', or a Normal, Laplace or ScaleMixture prior"
            )
    value_vars = list(model.value_vars)
    logp = get_jaxified_graph(inputs=value_vars, outputs=[model.logp(jacobian=False)])
    constrain = get_jaxified_graph(inputs=value_vars, outputs=model.replace_rvs_by_values(model.free_RVs))
    start = model.initial_point(random_seed=seed)
    shapes = [np.shape(start[v.name]) for v in value_vars]
    x0 = np.concatenate([np.ravel(start[v.name]) for v in value_vars])

    def unflatten(x):
        parts, offset = [], 0
        for shape in shapes:
            size = int(np.prod(shape, dtype=int))
            parts.append(x[offset : offset + size].reshape(shape))
            offset += size
        return parts

    x, losses = adam(lambda x, key: -logp(*unflatten(x))[0], jnp.asarray(x0), steps=steps,
                     learning_rate=learning_rate, seed=seed)
    values = constrain(*unflatten(jnp.asarray(x)))
    draws = {rv.name: np.asarray(v)[None, None] for rv, v in zip(model.free_RVs, values, strict=True)}
    stats = xr.Dataset({"lp": ("step", -losses)}, coords={"step": np.arange(1, len(losses) + 1)})
    return draws_to_posterior(model, draws), stats

