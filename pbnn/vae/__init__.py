"""Variational autoencoders: a generative model ``p(z) p(x | z)`` with an amortized ``q(z | x)``, fitted on the
ELBO by the optax loop of :mod:`pbnn.inference.loop`; the decoder's weights are point estimates (the classic
VAE of Kingma & Welling 2014) or, with a prior, Bayesian (mean-field VI).

* :mod:`pbnn.vae.spec`: :class:`VAE`, the declarative spec (TOML ``kind = "vae"``, read by :func:`pbnn.load_spec`),
  and the options of :func:`fit_vae`;
* :mod:`pbnn.vae.model`: its parameters and JAX functions (encoder, decoder, ELBO, importance weights);
* :mod:`pbnn.vae.fitting`: :func:`fit_vae` (also reached as ``pbnn.fit(vae_spec, X)``) and the data checks;
* :mod:`pbnn.vae.results`: :class:`VAEFit` (``encode``, ``decode``, ``reconstruct``, ``sample``, ``elbo``,
  ``iwae``, ``save``; :func:`pbnn.load` reads it back).

>>> import pbnn
>>> from pbnn import layers as L
>>> spec = pbnn.VAE(encoder=[L.Dense(128, activation="relu")], latent=2, decoder=[L.Dense(128, activation="relu")])
>>> fit = pbnn.fit_vae(spec, pbnn.datasets.digits().X_train, steps=200, progressbar=False, seed=0)
>>> fit.latent["mean"].dims
('obs', 'latent')
"""

from __future__ import annotations

from typing import Any

from pbnn.vae.spec import VAE, VAEOptions

__all__ = ["IWAE", "VAE", "Latent", "VAEFit", "VAEOptions", "fit_vae"]


def __getattr__(name: str) -> Any:  # the fitting and results modules import JAX
    if name == "fit_vae":
        from pbnn.vae.fitting import fit_vae

        return fit_vae
    if name in ("VAEFit", "IWAE", "Latent"):
        from pbnn.vae import results

        return getattr(results, name)
    raise AttributeError(f"module 'pbnn.vae' has no attribute {name!r}")
