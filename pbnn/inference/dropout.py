"""``method="mc_dropout"``: Monte Carlo dropout (Gal & Ghahramani 2016), the cheap baseline.

Training: the spec's network as a deterministic net, the input units of every Dense layer but the first
dropped with probability ``dropout`` and the network's inputs with ``input_dropout`` (default 0: with
few features, dropping one changes the whole function); inverted dropout: kept units scaled by ``1 / q``,
``q`` the keep probability; a mask per training point and step. Adam on

    - mean_n log p(y_n | x_n, masked weights) + penalty / N

where the penalty is Gal's weight decay for the spec's prior: for ``Normal(0, s)``,
``||W||^2 / (2 q s^2)`` for a weight matrix after dropout (Gal's ``q l^2 / 2 ||M||^2`` with
``l = 1 / s``, written for inverted dropout) and ``||b||^2 / (2 s^2)`` for a bias; for ``Laplace`` and
``ScaleMixture`` the prior's negative log density. Priors with latent scales (``Hierarchical``,
``Horseshoe``) are not supported. The likelihood's own parameters (``sigma``; ``nu`` for
``student_t``, ``alpha`` for ``negative_binomial``) are fitted by maximum likelihood: Gal's model
precision ``tau`` is ``1 / sigma**2``, learned instead of grid-searched. With ``heteroscedastic_normal`` the network itself gives ``sigma``.

Predictions: the posterior holds ``draws`` dropout-masked copies of the trained weights, ``w_i`` with
row ``j`` zeroed (unit ``j`` dropped) or scaled by ``1 / q``: a network run with a masked weight matrix
computes exactly what the trained network computes with those input units dropped. So ``fit.predict``
gives the ``draws`` stochastic forward passes of MC dropout, each with its noise ``sigma`` (the ``tau``
term): the predictive variance is ``var_t(mu_t) + mean_t(sigma_t**2)``. These are samples of Gal's
approximate posterior, not of the BNN's posterior; biases and noise parameters are the same in every
draw. ``sample_stats`` holds the training loss of every step.

>>> import pbnn
>>> ds = pbnn.datasets.sine(n_samples=64)
>>> fit = pbnn.fit(pbnn.zoo.sine(), ds.X_train, ds.y_train, method="mc_dropout", steps=2000, draws=50, seed=0)
>>> fit.posterior["w_2"].sizes["draw"]
50
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
import pymc as pm
import xarray as xr

from pbnn import layers as L
from pbnn import priors as P
from pbnn.errors import SpecError
from pbnn.inference.methods import EngineResult
from pbnn.network import Parameter, parameters, prior_of
from pbnn.validation import check_positive_int

if TYPE_CHECKING:
    import optax

#: Priors that give mc_dropout a weight penalty (their hyperparameters are fixed numbers).
SUPPORTED_PRIORS = (P.Normal, P.Laplace, P.ScaleMixture)


def run(spec, model: pm.Model, X, y, *, seed: int, progressbar: bool, dropout: float = 0.1, input_dropout: float = 0.0,
        steps: int = 5000, learning_rate: float = 0.005, batch_size: int | None = None,
        draws: int = 1000, optimizer: optax.GradientTransformation | None = None) -> EngineResult:
    """Train with dropout and return ``draws`` masked weight sets as the posterior; see the module doc.

    ``optimizer``: any optax transformation (minimising the training loss), instead of Adam at
    ``learning_rate``."""
    from pbnn.inference import draws_to_posterior, loop
    from pbnn.inference.logdensity import initial_point, log_density, model_cache, sample_batch, structure_key
    from pbnn.inference.progress import progress_bar

    for name, rate in (("dropout", dropout), ("input_dropout", input_dropout)):
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 1:
            raise ValueError(f"{name}: expected a probability in [0, 1), got {rate!r}")
    steps, draws = check_positive_int("steps", steps), check_positive_int("draws", draws)
    rate = None if optimizer is not None else learning_rate  # what the messages name
    optimizer_key = loop.optimizer_key(optimizer, learning_rate, steps=steps)
    optimizer = loop.optimizer_from(optimizer, learning_rate, steps=steps)
    priors = _layer_priors(spec)
    first = min(priors)
    keep = {i: 1.0 - (input_dropout if i == first else dropout) for i in priors}  # per weighted layer
    params = {p.name: p for p in parameters(spec, X.shape[1:])}

    fns = log_density(model, ("X", "target"))
    names = fns.value_names
    # masks act on the rows (the fan_in input units) of every Dense weight whose keep probability is below 1
    masked = {k: params[name] for k, name in enumerate(names)
              if name in params and params[name].kind == "weight" and keep[params[name].layer_index] < 1}
    penalty = _penalty(names, params, keep)
    n = len(y)

    def point_loglik(values, key, x_n, y_n):
        keys = jax.random.split(key, len(masked))
        values = list(values)
        for (k, param), key_k in zip(masked.items(), keys, strict=True):
            q = keep[param.layer_index]
            mask = jax.random.bernoulli(key_k, q, (param.fan_in,)) / q
            values[k] = values[k] * mask[:, None]
        return fns.loglik(*values, x_n[None], y_n[None])[0]

    def loss(x, key, *data):
        k_batch, k_mask = jax.random.split(key)
        xb, yb = sample_batch(k_batch, data, batch_size)
        values = fns.unflatten(x)
        keys = jax.random.split(k_mask, len(yb))
        loglik = jax.vmap(point_loglik, in_axes=(None, 0, 0, 0))(values, keys, xb, yb)
        return -jnp.mean(loglik) + penalty(values) / n

    fit_seed, mask_seed = np.random.SeedSequence(seed).generate_state(2)
    with progress_bar(progressbar, steps, label="MC dropout", value_name="loss") as advance:
        out = loop.run(loss, fns.flatten(initial_point(model, seed=seed)), steps=steps, optimizer=optimizer,
                       seed=int(fit_seed), data=(X, y), callback=advance, cache=model_cache(model),
                       cache_key=("mc_dropout", structure_key(model, ("X", "target")), dropout, input_dropout,
                                  batch_size, n, optimizer_key))
    trained = dict(zip(fns.rv_names, fns.constrain_batch(np.asarray(out.params)[None]), strict=True))  # (1, *shape)
    masked_names = {param.name: param for param in masked.values()}
    rng = np.random.default_rng(mask_seed)
    values = {}
    for name, value in trained.items():
        value = np.repeat(value, draws, axis=0)
        if name in masked_names:
            q = keep[masked_names[name].layer_index]
            value = value * (rng.random((draws, masked_names[name].fan_in)) < q)[:, :, None] / q
        values[name] = value[None]
    stats = xr.Dataset({"loss": ("step", out.losses)}, coords={"step": np.arange(1, len(out.losses) + 1)})
    fault, message = loop.outcome(out, label="MC dropout", steps=steps, learning_rate=rate)
    return EngineResult(draws_to_posterior(model, values), stats, fault, message)


def _layer_priors(spec) -> dict[int, P.Prior]:
    """The prior of every weighted layer by index, after checking that mc_dropout can use the spec."""
    priors = {}
    for i, layer in enumerate(spec.layers, start=1):
        if layer.has_params and not isinstance(layer, L.Dense):
            raise SpecError(f"method 'mc_dropout': layers[{i}] {layer.describe()}: only Dense layers (and Flatten) are supported")
        if not layer.has_params:
            continue
        prior = prior_of(spec, layer)
        if not isinstance(prior, SUPPORTED_PRIORS):
            raise SpecError(
                f"method 'mc_dropout': layers[{i}] has prior {prior.describe()}; expected one of "
                f"{', '.join(cls.__name__ for cls in SUPPORTED_PRIORS)} (a prior with fixed hyperparameters)"
            )
        priors[i] = prior
    return priors


def _penalty(names: tuple[str, ...], params: dict[str, Parameter], keep: dict[int, float]):
    """``values -> penalty``: Gal's weight decay (Normal) or the negative log prior density (others) of the
    network parameters among the model's value variables ``names``."""
    terms = [(k, params[name].prior, keep[params[name].layer_index] if params[name].kind == "weight" else 1.0)
             for k, name in enumerate(names) if name in params]

    def penalty(values):
        total = 0.0
        for k, prior, q in terms:
            total = total + _neg_log_prior(prior, values[k], q)
        return total

    return penalty


def _neg_log_prior(prior: P.Prior, w: jax.Array, keep: float) -> jax.Array:
    if isinstance(prior, P.Normal):
        return jnp.sum(w**2) / (2.0 * keep * prior.sigma**2)
    if isinstance(prior, P.Laplace):
        return jnp.sum(jnp.abs(w)) / prior.b
    log_pdf = jnp.logaddexp(  # ScaleMixture, constants included (they do not change the optimum)
        jnp.log(prior.pi) + jax.scipy.stats.norm.logpdf(w, 0.0, prior.sigma1),
        jnp.log1p(-prior.pi) + jax.scipy.stats.norm.logpdf(w, 0.0, prior.sigma2),
    )
    return -jnp.sum(log_pdf)
