"""The VAE as JAX functions: its parameters, the encoder and decoder (:func:`pbnn.network.jax_forward`), the
data's log-likelihood, the KL terms and the log importance weights behind the ELBO and the IWAE bound.

Parameters are a pytree ``{"encoder": {name: array}, "decoder": {name: array}}`` (names as
:func:`pbnn.network.parameters` gives them: ``w_1``, ``b_1``, ...) with, for a Bayesian decoder, the sd of
``q(w)`` per weight in ``"decoder_sd"`` (``"decoder"`` then holds its means), and for a ``normal`` likelihood
the noise sd per feature in ``"noise"``. The optimiser works on raw values (:meth:`VAEModel.init`); the sds
are ``softplus`` of them (:meth:`VAEModel.constrain`), and every other function takes constrained values.

>>> import numpy as np, pbnn
>>> model = VAEModel(pbnn.zoo.vae_digits(), (1, 8, 8))
>>> params = model.init(seed=0)
>>> mean, scale = model.encode(params["encoder"], np.zeros((3, 1, 8, 8)))
>>> mean.shape, bool((scale > 0).all())
((3, 16), True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from pbnn.inference import loop  # noqa: F401  (float64 JAX, as the rest of pbnn)
from pbnn.network import Parameter, jax_forward, parameters
from pbnn.vae.spec import MIN_SCALE, VAE

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def softplus_inverse(x: float) -> float:
    """``y`` with ``softplus(y) = x`` (``x > 0``)."""
    return float(x + np.log(-np.expm1(-x)))


@dataclass(frozen=True, eq=False)
class VAEModel:
    """A spec's VAE for observations of ``input_shape`` (without the observation axis), as JAX functions."""

    spec: VAE
    input_shape: tuple[int, ...]

    # -- structure ------------------------------------------------------------------------------
    @property
    def n_features(self) -> int:
        return math.prod(self.input_shape)

    @cached_property
    def encoder_params(self) -> tuple[Parameter, ...]:
        return parameters(self.spec.encoder_stack(self.input_shape), self.input_shape)

    @cached_property
    def decoder_params(self) -> tuple[Parameter, ...]:
        return parameters(self.spec.decoder_stack(self.n_features), (self.spec.latent,))

    def __post_init__(self) -> None:
        # built here, outside any JAX trace: the functions hold their graph's constants as arrays
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "_encoder", jax_forward(self.spec.encoder_stack(self.input_shape), self.input_shape))
        object.__setattr__(self, "_decoder", jax_forward(self.spec.decoder_stack(self.n_features), (self.spec.latent,)))

    def init(self, seed: int, init_scale: float = 1e-3) -> dict[str, Any]:
        """Initial raw parameters: weights ``N(0, 1 / fan_in)`` (LeCun), biases 0, seeded; for a Bayesian decoder
        the sd of ``q(w)`` ``init_scale``; for a normal likelihood a noise sd of 1 (raw: ``softplus`` inverted)."""
        rng = np.random.default_rng(seed)

        def draw(params: tuple[Parameter, ...]) -> dict[str, np.ndarray]:
            return {p.name: (rng.normal(0.0, 1.0 / math.sqrt(p.fan_in), p.shape) if p.kind == "weight"
                             else np.zeros(p.shape)) for p in params}

        out: dict[str, Any] = {"encoder": draw(self.encoder_params), "decoder": draw(self.decoder_params)}
        if self.spec.bayesian:
            raw = softplus_inverse(init_scale)
            out["decoder_sd"] = {p.name: np.full(p.shape, raw) for p in self.decoder_params}
        if self.spec.likelihood == "normal":
            out["noise"] = np.full(self.n_features, softplus_inverse(1.0))
        return out

    def constrain(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Raw parameters (the optimiser's) as the functions take them: sds ``softplus(raw)`` (the noise sd
        ``+ MIN_SCALE``)."""
        out = dict(raw)
        if "decoder_sd" in raw:
            out["decoder_sd"] = {name: jax.nn.softplus(v) for name, v in raw["decoder_sd"].items()}
        if "noise" in raw:
            out["noise"] = jax.nn.softplus(raw["noise"]) + MIN_SCALE
        return out

    # -- the networks --------------------------------------------------------------------------
    def encode(self, encoder: dict[str, Any], x: Any) -> tuple[jax.Array, jax.Array]:
        """Mean and scale of ``q(z | x)``, each (N, latent); ``scale = softplus(raw) + MIN_SCALE``."""
        out = self._encoder(x, encoder)
        latent = self.spec.latent
        return out[:, :latent], jax.nn.softplus(out[:, latent:]) + MIN_SCALE

    def decode(self, decoder: dict[str, Any], z: Any) -> jax.Array:
        """The decoder head's outputs (N, n_features): logits (bernoulli) or means (normal)."""
        return self._decoder(z, decoder)

    def mean_of(self, out: jax.Array) -> jax.Array:
        """The expected observation under the likelihood for head outputs ``out`` (probabilities or means)."""
        return jax.nn.sigmoid(out) if self.spec.likelihood == "bernoulli" else out

    def log_likelihood(self, x: jax.Array, out: jax.Array, noise: Any = None) -> jax.Array:
        """``log p(x | z, w)`` summed over features, (..., N), for flat ``x`` (N, n_features) and head outputs
        ``out`` (..., N, n_features). Bernoulli: ``x * out - softplus(out)`` (minus the cross-entropy, also for
        grey values in [0, 1]); normal: the Gaussian density with the sd per feature ``noise``."""
        if self.spec.likelihood == "bernoulli":
            return jnp.sum(x * out - jax.nn.softplus(out), axis=-1)
        sd = noise
        return jnp.sum(-0.5 * ((x - out) / sd) ** 2 - jnp.log(sd) - _HALF_LOG_2PI, axis=-1)

    def sample_decoder(self, params: dict[str, Any], key: jax.Array) -> dict[str, jax.Array]:
        """One draw of the decoder's weights from ``q(w)`` (a point decoder: its weights). One normal vector is
        drawn for all the weights: each PRNG call site costs XLA a second of compilation on the CPU."""
        if not self.spec.bayesian:
            return params["decoder"]
        sizes = [p.size for p in self.decoder_params]
        eps = jax.random.normal(key, (sum(sizes),), dtype=params["decoder"][self.decoder_params[0].name].dtype)
        out, start = {}, 0
        for p, size in zip(self.decoder_params, sizes, strict=True):
            noise = eps[start:start + size].reshape(p.shape)
            out[p.name] = params["decoder"][p.name] + params["decoder_sd"][p.name] * noise
            start += size
        return out

    def kl_decoder(self, params: dict[str, Any]) -> jax.Array:
        """``KL(q(w) || p(w))`` of a Bayesian decoder (analytic, Normal to Normal); 0 for a point decoder."""
        if not self.spec.bayesian:
            return jnp.zeros(())
        total = jnp.zeros(())
        sds = params["decoder_sd"]
        for p in self.decoder_params:
            mu, sd, sigma = params["decoder"][p.name], sds[p.name], p.prior.sigma
            total = total + jnp.sum(jnp.log(sigma / sd) + (sd**2 + mu**2) / (2 * sigma**2) - 0.5)
        return total

    # -- objectives ---------------------------------------------------------------------------
    def negative_elbo(self, *, n_data: int, batch_size: int | None, mc_samples: int = 1):
        """``loss(params, key, X) -> -ELBO per observation`` on a minibatch of ``batch_size`` rows drawn with
        replacement: ``mean_batch[E_q log p(x | z, w) - KL(q(z | x) || p(z))] - KL(q(w) || p(w)) / N``, the KL of z
        analytic, the expectation by ``mc_samples`` draws of z (and w) per row."""
        from pbnn.inference.logdensity import sample_batch

        def loss(raw, key, X):
            params = self.constrain(raw)
            k_batch, k_draw = jax.random.split(key)
            (x,) = sample_batch(k_batch, (X,), batch_size)
            mean, scale = self.encode(params["encoder"], x)
            flat = x.reshape(x.shape[0], -1)

            def expected_log_likelihood(k):
                k_z, k_w = jax.random.split(k)
                z = mean + scale * jax.random.normal(k_z, mean.shape)
                out = self.decode(self.sample_decoder(params, k_w), z)
                return self.log_likelihood(flat, out, params.get("noise"))

            if mc_samples == 1:
                ell = expected_log_likelihood(k_draw)
            else:
                ell = jnp.mean(jax.vmap(expected_log_likelihood)(jax.random.split(k_draw, mc_samples)), axis=0)
            kl_z = kl_latent(mean, scale)
            return -(jnp.mean(ell - kl_z) - self.kl_decoder(params) / n_data)

        return loss

    def sample_terms(self, params: dict[str, Any], x: jax.Array, rows: jax.Array, samples: jax.Array, key: jax.Array
                     ) -> tuple[jax.Array, jax.Array, jax.Array]:
        """The terms of the ELBO and of the IWAE bound for importance samples ``samples`` (S,) of the rows ``rows``
        (N,) of the data (``x``, (N, *shape)): ``log p(x | z, w)`` (S, N), ``log p(z) - log q(z | x)`` (S, N) and
        ``KL(q(z | x) || p(z))`` (N,), with ``z ~ q(z | x)`` and, for a Bayesian decoder, ``w ~ q(w)`` drawn once per
        importance sample (shared by the rows). Sample ``j`` of row ``r`` draws from ``key``, ``j`` and ``r`` alone,
        so that blocks of samples and chunks of rows give the same numbers.

        ``log_mean_exp`` over samples of the first two summed is the IWAE bound; the mean of the first minus the
        KL, the ELBO (without the KL of ``w``)."""
        mean, scale = self.encode(params["encoder"], x)
        flat = x.reshape(x.shape[0], -1)
        k_z, k_w = jax.random.split(key)

        def one(j):
            row_keys = jax.vmap(lambda r: jax.random.fold_in(jax.random.fold_in(k_z, j), r))(rows)
            eps = jax.vmap(lambda rk: jax.random.normal(rk, (mean.shape[1],), dtype=mean.dtype))(row_keys)
            z = mean + scale * eps
            out = self.decode(self.sample_decoder(params, jax.random.fold_in(k_w, j)), z)
            log_lik = self.log_likelihood(flat, out, params.get("noise"))
            return log_lik, jnp.sum(-0.5 * z**2 + 0.5 * eps**2 + jnp.log(scale), axis=-1)

        log_lik, log_ratio = jax.vmap(one)(samples)
        return log_lik, log_ratio, kl_latent(mean, scale)


def kl_latent(mean: jax.Array, scale: jax.Array) -> jax.Array:
    """``KL(N(mean, scale^2) || N(0, I))`` per row, (N,)."""
    return 0.5 * jnp.sum(mean**2 + scale**2 - 1.0 - 2.0 * jnp.log(scale), axis=-1)
