"""The model zoo: specs shipped as TOML files in ``pbnn/models/`` (``models/`` in the repository).

>>> import pbnn
>>> pbnn.zoo.names()
['hierarchical', 'two_layer_tanh']
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
