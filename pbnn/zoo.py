"""The model zoo: specs shipped as TOML files in ``pbnn/models/`` (``models/`` in the repository).

>>> import pbnn
>>> {'two_layer_tanh', 'conv'} <= set(pbnn.zoo.names())
True
>>> pbnn.zoo.two_layer_tanh() == pbnn.load_spec(pbnn.zoo.path("two_layer_tanh"))
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pbnn.spec import BNN, load_spec


def _folder() -> Path:
    return Path(str(resources.files("pbnn") / "models"))


def names() -> list[str]:
    """Names of the zoo's models."""
    return sorted(p.stem for p in _folder().glob("*.toml"))


def path(name: str) -> Path:
    """The TOML file of zoo model ``name``."""
    if name not in names():
        raise ValueError(f"zoo: unknown model {name!r}; expected one of {', '.join(names())}")
    return _folder() / f"{name}.toml"


def get(name: str) -> BNN:
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
    max pool 2 -> conv 3x3 (16, relu) -> max pool 2 -> dense 10, Normal(0, 1) priors, categorical; fitted by
    minibatch ADVI with the settings of its ``[fit]`` table (``spec.fit_options("advi")``)."""
    return get("conv")


def conv_hierarchical() -> BNN:
    """The :func:`conv` network with a learned weight scale per layer (non-centred), categorical."""
    return get("conv_hierarchical")
