"""The model zoo: specs shipped as TOML files in ``pbnn/models/`` (``models/`` in the repository); the
variational autoencoders in ``pbnn/models/vae/`` (:func:`vae_names`).

>>> import pbnn
>>> {'two_layer_tanh', 'conv'} <= set(pbnn.zoo.names())
True
>>> pbnn.zoo.two_layer_tanh() == pbnn.load_spec(pbnn.zoo.path("two_layer_tanh"))
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from typing import TYPE_CHECKING

from pbnn.spec import BNN, load_spec

if TYPE_CHECKING:
    from pbnn.vae.spec import VAE


def _folder() -> Path:
    return Path(str(resources.files("pbnn") / "models"))


def names() -> list[str]:
    """Names of the zoo's BNN models."""
    return sorted(p.stem for p in _folder().glob("*.toml"))


def vae_names() -> list[str]:
    """Names of the zoo's variational autoencoders (:class:`pbnn.VAE` specs).

    >>> vae_names()
    ['vae_digits', 'vae_mnist']
    """
    return sorted(p.stem for p in (_folder() / "vae").glob("*.toml"))


def path(name: str) -> Path:
    """The TOML file of zoo model ``name`` (a BNN or a VAE)."""
    if name in vae_names():
        return _folder() / "vae" / f"{name}.toml"
    if name not in names():
        raise ValueError(f"zoo: unknown model {name!r}; expected one of {', '.join(names())} "
                         f"(variational autoencoders: {', '.join(vae_names())})")
    return _folder() / f"{name}.toml"


def get(name: str) -> BNN | VAE:
    """The spec of zoo model ``name``."""
    return load_spec(path(name))


def two_layer_tanh() -> BNN:
    """2 x 5 tanh units, Normal(0, 1) priors, Bernoulli likelihood (the moons BNN)."""
    return get("two_layer_tanh")


def hierarchical() -> BNN:
    """2 x 5 tanh units with a learned weight scale per layer (non-centred), Bernoulli likelihood."""
    return get("hierarchical")


def sine() -> BNN:
    """2 x 20 relu units, Normal(0, 1) priors, learned Gaussian noise sd: for the noisy-sine toy."""
    return get("sine")


def regression() -> BNN:
    """2 x 50 relu units, Normal(0, 1) then Normal(0, 0.15) (fan-in scaled) priors, heteroscedastic likelihood."""
    return get("regression")


def conv() -> BNN:
    """A small Bayesian LeNet for 8x8 digits (1 x 8 x 8 images; 28x28 also fit): conv 3x3 (16, relu) ->
    max pool 2 -> conv 3x3 (32, relu) -> max pool 2 -> dense 10, Normal(0, 1) priors, categorical; fitted by
    minibatch ADVI with the settings of its ``[fit]`` table (``spec.fit_options("advi")``)."""
    return get("conv")


def conv_hierarchical() -> BNN:
    """The :func:`conv` network with a learned weight scale per layer (non-centred), categorical."""
    return get("conv_hierarchical")


def lenet5() -> BNN:
    """The Bayesian LeNet-5 of TensorFlow Probability's example, for 1 x 28 x 28 images: conv 5x5 (6, relu, same) ->
    max pool 2 -> conv 5x5 (16, relu, same) -> max pool 2 -> conv 5x5 (120, relu, same) -> dense 84 (relu) ->
    dense 10, Normal(0, 1) priors, categorical (545,546 parameters); its ``[fit]`` table: minibatch ADVI with
    the Flipout estimator (``estimator="flipout"``), 6000 steps of 128."""
    return get("lenet5")


def mnist_dense() -> BNN:
    """Wiecki's dense MNIST BNN: 784 inputs (or 1 x 28 x 28 images) -> 800 tanh -> 800 tanh -> 10, Normal(0, 0.1)
    priors, categorical (1,276,810 parameters); minibatch ADVI on batches of 500."""
    return get("mnist_dense")


def mnist_dense_hierarchical() -> BNN:
    """:func:`mnist_dense` with a learned weight sd per layer (``layer_sigma ~ HalfNormal(1)``, non-centred)."""
    return get("mnist_dense_hierarchical")


def mnist_conv() -> BNN:
    """Wiecki's convolutional MNIST BNN, for 1 x 28 x 28 images: conv 5x5 (32, tanh, no bias) -> max pool 2 ->
    conv 5x5 (32, tanh, no bias) -> max pool 2 -> dense 256 (tanh) -> dense 10, Normal(0, 0.1) priors,
    categorical (160,298 parameters)."""
    return get("mnist_conv")


def vae_digits() -> VAE:
    """A VAE for 8x8 digits in [0, 1]: encoder 128 relu units, a 16-d latent, decoder 128 relu units, Bernoulli
    pixels, a point decoder; 5000 steps of 128 (its ``[fit]`` table). ``dataclasses.replace(spec, latent=2,
    prior=P.Normal(1.0))`` gives a 2-d latent and a Bayesian decoder."""
    return get("vae_digits")


def vae_mnist() -> VAE:
    """A VAE for 28x28 binarized MNIST: encoder 256 relu units, a 16-d latent, decoder 256 relu units, Bernoulli
    pixels, a point decoder; 4000 steps of 128."""
    return get("vae_mnist")
